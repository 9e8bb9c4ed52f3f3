/**
 * A signer for CI whose private key is in an environment variable. The variable holds a
 * PKCS#8 PEM (`BEGIN PRIVATE KEY`, or `BEGIN ENCRYPTED PRIVATE KEY`), a tufa key file as raw
 * JSON, or the base64 of either. When the key is encrypted the passphrase comes from the
 * secrets callback (which a CLI may answer from another variable).
 *
 * The variable's value never appears in an error, a log or a cause: messages name the variable.
 */
import type { Signer } from '../crypto/signer.js';
import { KeyError, UsageError } from '../errors.js';
import { decodeBase64 } from './key-file.js';
import { looksLikeJson, looksLikePem, signerFromKeyFileBytes, signerFromPem } from './material.js';
import type { SecretCallback } from './secrets.js';

const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Far above any key file or PEM; refuses a variable that cannot be one before decoding it. */
const MAX_ENV_VALUE_CHARS = 128 * 1024;

export interface EnvSignerOptions {
  /** Answers the passphrase request when the key is encrypted. */
  secrets?: SecretCallback;
  /** The environment to read; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Sign as this keyid (default: the key file's keyid, or the key's computed keyid for a PEM). */
  keyid?: string;
}

/** Whether `name` is a usable environment variable name (letters, digits, `_`; not starting with a digit). */
export function isEnvVarName(name: string): boolean {
  return ENV_NAME_RE.test(name);
}

/**
 * A signer from the private key in environment variable `name`.
 * @throws {@link errors!UsageError | UsageError} the variable is not set, is empty, or its name is
 *   invalid.
 * @throws {@link errors!KeyError | KeyError} the value is not a usable private key or key file (or
 *   the passphrase is wrong).
 */
export async function envSigner(name: string, options: EnvSignerOptions = {}): Promise<Signer> {
  if (typeof name !== 'string' || !isEnvVarName(name)) {
    throw new UsageError(
      'invalid environment variable name (expected letters, digits and _, not starting with a digit)',
    );
  }
  const env = options.env ?? process.env;
  const source = `environment variable ${name}`;
  const value = Object.hasOwn(env, name) ? env[name] : undefined;
  if (value === undefined) {
    throw new UsageError(`${source} is not set (expected a PEM private key or a tufa key file)`);
  }
  const text = value.trim();
  if (text.length === 0)
    throw new UsageError(`${source} is empty (expected a PEM private key or a tufa key file)`);
  if (text.length > MAX_ENV_VALUE_CHARS) throw new KeyError(`${source} is too large for a private key`);
  const materialOptions = { secrets: options.secrets, keyid: options.keyid };

  if (looksLikePem(text)) return signerFromPem(text, source, materialOptions);
  if (looksLikeJson(text))
    return signerFromKeyFileBytes(new TextEncoder().encode(text), source, materialOptions);

  // base64 as `base64` prints it (wrapped lines) or as one line.
  const decoded = decodeBase64(text.replace(/\s+/g, ''));
  if (decoded !== undefined) {
    const inner = new TextDecoder('utf-8', { fatal: false }).decode(decoded);
    if (looksLikeJson(inner)) return signerFromKeyFileBytes(decoded, source, materialOptions);
    if (looksLikePem(inner)) return signerFromPem(inner.trim(), source, materialOptions);
  }
  throw new KeyError(
    `${source} does not hold a private key (expected a PEM private key, a tufa key file as JSON, or the base64 of either)`,
  );
}
