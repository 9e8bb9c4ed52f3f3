/** Key generation and PEM import/export of TUF public keys. */
import { type KeyObject, generateKeyPair as nodeGenerateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import { UsageError } from '../errors.js';
import { Key, type KeyKind } from './key.js';
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

// The async form runs in the thread pool: RSA generation takes long enough to block the loop.
const generate = promisify(nodeGenerateKeyPair) as (
  type: string,
  options: object,
) => Promise<{ publicKey: KeyObject; privateKey: KeyObject }>;

/**
 * Generates a key pair of `kind` in Node's thread pool (RSA generation would otherwise block the
 * event loop).
 * @throws {@link errors!UsageError | UsageError} an unknown `kind`, or `rsaBits` outside
 *   2048–16384.
 */
export async function generateKeyPair(
  kind: KeyKind,
  opts: GenerateKeyPairOptions = {},
): Promise<GeneratedKeyPair> {
  let pair: { publicKey: KeyObject; privateKey: KeyObject };
  switch (kind) {
    case 'ed25519':
      pair = await generate('ed25519', {});
      break;
    case 'ecdsa-p256':
      pair = await generate('ec', { namedCurve: 'P-256' });
      break;
    case 'ecdsa-p384':
      pair = await generate('ec', { namedCurve: 'P-384' });
      break;
    case 'rsa': {
      const bits = opts.rsaBits ?? 3072;
      if (!Number.isSafeInteger(bits) || bits < 2048 || bits > 16384) {
        throw new UsageError(`rsaBits must be an integer from 2048 to 16384 (got ${bits})`);
      }
      pair = await generate('rsa', { modulusLength: bits, publicExponent: 0x10001 });
      break;
    }
    default:
      throw new UsageError(
        `unknown key kind ${String(kind)} (expected ed25519, ecdsa-p256, ecdsa-p384 or rsa)`,
      );
  }
  const key = Key.fromPublicKeyObject(pair.publicKey);
  const signer = new PrivateKeySigner(pair.privateKey, key);
  return { key, privateKeyPem: signer.toPem(), signer };
}
