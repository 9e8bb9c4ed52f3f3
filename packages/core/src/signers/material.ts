/**
 * Private key material given as text (internal): a PKCS#8 PEM (encrypted or not) or a tufa key
 * file. Shared by the env signer and `file:` URIs. Error messages name `source` and never quote
 * the material.
 */
import { PrivateKeySigner } from '../crypto/signer.js';
import { isTufError, KeyError } from '../errors.js';
import { parseKeyFileBytes, signerFromParsed } from './key-file.js';
import { askSecret, type SecretCallback } from './secrets.js';

export interface MaterialOptions {
  secrets?: SecretCallback | undefined;
  keyid?: string | undefined;
}

export function looksLikePem(text: string): boolean {
  return text.trimStart().startsWith('-----BEGIN ');
}

export function looksLikeJson(text: string): boolean {
  return text.trimStart().startsWith('{');
}

/** A signer from a PEM private key (PKCS#8; `ENCRYPTED PRIVATE KEY` asks for a passphrase). */
export async function signerFromPem(
  pem: string,
  source: string,
  options: MaterialOptions,
): Promise<PrivateKeySigner> {
  // Some CI systems store multi-line secrets with literal "\n" sequences.
  if (!pem.includes('\n') && pem.includes('\\n')) pem = pem.replaceAll('\\n', '\n');
  const header = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem)?.[1] ?? '';
  if (!header.endsWith('PRIVATE KEY')) {
    throw new KeyError(
      `${source}: expected a PEM private key (BEGIN PRIVATE KEY or BEGIN ENCRYPTED PRIVATE KEY)`,
    );
  }
  const encrypted = header === 'ENCRYPTED PRIVATE KEY' || /^Proc-Type: 4,ENCRYPTED/m.test(pem);
  const passphrase = encrypted
    ? await askSecret(options.secrets, { kind: 'passphrase', label: source })
    : undefined;
  try {
    return PrivateKeySigner.fromPem(pem, undefined, {
      ...(passphrase === undefined ? {} : { passphrase }),
      ...(options.keyid === undefined ? {} : { keyid: options.keyid }),
    });
  } catch (e) {
    if (isTufError(e) && e.code === 'KEY') {
      const what = encrypted ? 'wrong passphrase or not a valid private key' : 'not a valid private key';
      throw new KeyError(`${source}: cannot read the PEM private key (${what})`, { cause: e });
    }
    throw e;
  }
}

/** A signer from key-file JSON bytes. */
export async function signerFromKeyFileBytes(
  bytes: Uint8Array,
  source: string,
  options: MaterialOptions,
): Promise<PrivateKeySigner> {
  return signerFromParsed(parseKeyFileBytes(bytes, source), options.secrets, source, options.keyid);
}
