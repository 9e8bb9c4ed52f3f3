/** Key generation in this process (the Node flavour): private keys as node KeyObjects. */
import { KeyObject } from 'node:crypto';
import type { Key, KeyKind } from './key.js';
import { keyFromSpki } from './key.js';
import { keyGenRequest } from './keygen-options.js';
import { backend as nodeBackend } from './node-backend.js';
import { PrivateKeySigner } from './signer.js';

/** Options of `generateKeyPair`. */
export interface GenerateKeyPairOptions {
  /** RSA modulus length; default 3072 (securesystemslib's default), at least 2048. */
  rsaBits?: number;
}

/**
 * A new key pair: the public TUF key, the private key as PEM for storing, and a signer ready to
 * use.
 */
export interface GeneratedKeyPair {
  /** The public key, as it goes into root or delegating metadata. */
  key: Key;
  /** Unencrypted PKCS#8 PEM. */
  privateKeyPem: string;
  /** A signer holding the private key, signing as `key.keyid()`. */
  signer: PrivateKeySigner;
}

/**
 * Generates a key pair of `kind` in Node's thread pool (RSA generation would otherwise block the
 * event loop), on the node:crypto backend.
 * @throws {@link errors!UsageError | UsageError} an unknown `kind`, or `rsaBits` outside
 *   2048–16384.
 */
export async function generateKeyPair(
  kind: KeyKind,
  opts: GenerateKeyPairOptions = {},
): Promise<GeneratedKeyPair> {
  const { algorithm, options } = keyGenRequest(kind, { rsaBits: opts.rsaBits });
  const { privateKey, spki } = await nodeBackend.generateKeyPair(algorithm, options);
  if (!(privateKey.key instanceof KeyObject)) throw new TypeError('node:crypto returned no KeyObject');
  const key = keyFromSpki(spki);
  const signer = new PrivateKeySigner(privateKey.key, key);
  return { key, privateKeyPem: signer.toPem(), signer };
}
