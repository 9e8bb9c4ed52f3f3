/**
 * Signers. `sign` is async (DESIGN principle 4): HSM, KMS and WebCrypto signers are, and a
 * synchronous interface could not be implemented by them later.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { KeyError, UnsupportedKeyError } from '../errors.js';
import type { PrivateKeyHandle } from './backend.js';
import { bytesToHex } from './hex.js';
import { explicitCurveError, Key, materialOf } from './key.js';
import { backend as nodeBackend } from './node-backend.js';
import { Signature } from './signature.js';
import type { Signer } from './signer-type.js';
import { parseSpki } from './spki.js';

/**
 * Throws UnsupportedKeyError for an EC key given with explicit curve parameters (internal; for
 * every place a key enters from outside metadata: key import, signers, Notary keys).
 */
export function refuseExplicitCurve(publicKey: KeyObject): void {
  if (publicKey.asymmetricKeyType !== 'ec') return;
  if (parseSpki(publicKey.export({ type: 'spki', format: 'der' })) !== 'explicit-curve') return;
  throw explicitCurveError();
}

export type { Signer } from './signer-type.js';

/** Options of `PrivateKeySigner`. */
export interface PrivateKeySignerOptions {
  /** The keyid to sign as; defaults to `key.keyid()`. */
  keyid?: string;
}

/** Options of `PrivateKeySigner.fromPem`. */
export interface FromPemOptions extends PrivateKeySignerOptions {
  /** For an encrypted PKCS#8 PEM (`BEGIN ENCRYPTED PRIVATE KEY`). */
  passphrase?: string;
}

/** Signs with a private key held in this process, as securesystemslib's CryptoSigner does. */
export class PrivateKeySigner implements Signer {
  readonly key: Key;
  readonly keyid: string;
  readonly #privateKey: KeyObject;
  readonly #handle: PrivateKeyHandle;

  /**
   * Throws UnsupportedKeyError for a key tufa cannot verify with, KeyError when the keys differ.
   * @throws {@link errors!KeyError | KeyError} `privateKey` is not a private key, or does not match
   *   `key`.
   * @throws {@link errors!UnsupportedKeyError | UnsupportedKeyError} `key` is of a type or scheme
   *   tufa cannot verify.
   */
  constructor(privateKey: KeyObject, key: Key, options: PrivateKeySignerOptions = {}) {
    if (privateKey.type !== 'private')
      throw new KeyError(`expected a private key, got a ${privateKey.type} key`);
    const material = materialOf(key);
    if (material === undefined) {
      throw new UnsupportedKeyError(`cannot sign for an unsupported key (${key.keytype}/${key.scheme})`);
    }
    // A private key with explicit curve parameters is refused like its public half, not
    // reported as a mismatch.
    refuseExplicitCurve(createPublicKey(privateKey));
    // Signing with the wrong key would yield signatures nobody can verify; fail now instead.
    let derived: string | undefined;
    try {
      derived = Key.fromPublicKeyObject(createPublicKey(privateKey)).materialId();
    } catch {
      derived = undefined;
    }
    if (derived !== material.id) {
      throw new KeyError(`the private key does not match the public key ${key.keyid()}`);
    }
    this.key = key;
    this.keyid = options.keyid ?? key.keyid();
    this.#privateKey = privateKey;
    // Signed on the node:crypto backend, whichever backend verifies (ADR 0022).
    this.#handle = { algorithm: material.algorithm, key: privateKey };
  }

  /**
   * A signer from a PKCS#8 PEM private key. Without `key`, the public TUF key is derived from
   * the private key with the default scheme for its type.
   * @throws {@link errors!KeyError | KeyError} the PEM cannot be read (not a private key, or a
   *   wrong passphrase), or does not match `key`.
   * @throws {@link errors!UnsupportedKeyError | UnsupportedKeyError} the key is of a type or scheme
   *   tufa cannot verify.
   */
  static fromPem(pkcs8Pem: string, key?: Key, options: FromPemOptions = {}): PrivateKeySigner {
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(
        options.passphrase === undefined
          ? { key: pkcs8Pem, format: 'pem' }
          : { key: pkcs8Pem, format: 'pem', passphrase: options.passphrase },
      );
    } catch (e) {
      throw new KeyError('cannot read the private key (not a PEM private key, or a wrong passphrase)', {
        cause: e,
      });
    }
    const publicKey = key ?? Key.fromPublicKeyObject(createPublicKey(privateKey));
    return new PrivateKeySigner(
      privateKey,
      publicKey,
      options.keyid === undefined ? {} : { keyid: options.keyid },
    );
  }

  /** The private key as unencrypted PKCS#8 PEM (for writing a key file). */
  toPem(): string {
    return this.#privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  }

  /**
   * Signs `data` with the scheme of `key` (ECDSA as hex of DER, RSA-PSS with a digest-length salt:
   * DESIGN rule 7).
   */
  async sign(data: Uint8Array): Promise<Signature> {
    return new Signature(this.keyid, bytesToHex(await nodeBackend.sign(this.#handle, data)));
  }
}
