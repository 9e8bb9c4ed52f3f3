/** PEM import and export of TUF public keys (portable: no node:crypto). */
import { FormatError, UnsupportedKeyError } from '../errors.js';
import { type Key, keyFromSpki, spkiPemOf } from './key.js';
import { spkiDerFromPem } from './pem.js';

/**
 * The TUF key for a PEM SubjectPublicKeyInfo (`BEGIN PUBLIC KEY`), written as securesystemslib
 * writes it (Ed25519 as raw hex; ECDSA and RSA as PEM with 64-character lines, as python's
 * `cryptography` writes it).
 * @throws {@link errors!FormatError | FormatError} `pem` is not a PEM SubjectPublicKeyInfo.
 * @throws {@link errors!UnsupportedKeyError | UnsupportedKeyError} the key cannot be decoded, or is
 *   of a type or scheme tufa cannot use.
 */
export function keyFromPublicPem(pem: string, scheme?: string): Key {
  const der = spkiDerFromPem(pem);
  if (der === undefined) throw new FormatError('expected a PEM SubjectPublicKeyInfo (BEGIN PUBLIC KEY)');
  return keyFromSpki(der, scheme);
}

/**
 * The key's public material as PEM SubjectPublicKeyInfo (also for Ed25519 keys).
 * @throws {@link errors!UnsupportedKeyError | UnsupportedKeyError} the key is of a type or scheme
 *   tufa cannot use.
 */
export function keyToPem(key: Key): string {
  const pem = spkiPemOf(key);
  if (pem === undefined) throw new UnsupportedKeyError(`unsupported key (${key.keytype}/${key.scheme})`);
  return pem;
}
