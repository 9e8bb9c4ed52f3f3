/**
 * A signer holding its private key in memory, on any runtime (portable: no `node:` module). The
 * key lives in the crypto backend the runtime resolves (ADR 0022): a WebCrypto `CryptoKey` in
 * browsers, workers and Deno, non-extractable unless asked; a node `KeyObject` on Node and Bun.
 * This is how a web page generates a key, signs metadata and builds a repository.
 */
import { CryptoBackendError, KeyError, UnsupportedKeyError } from '../errors.js';
import { cryptoBackend } from './active-backend.js';
import type { Algorithm, CryptoBackend, PrivateKeyHandle } from './backend.js';
import { bytesToBase64, bytesToHex } from './hex.js';
import { type Key, type KeyKind, keyFromSpki, materialOf } from './key.js';
import { keyGenRequest } from './keygen-options.js';
import { Signature } from './signature.js';
import type { Signer } from './signer-type.js';
import { backend as webCrypto } from './web-backend.js';

/**
 * The part of WebCrypto's `CryptoKey` tufa reads (structural, so the declarations need no DOM
 * types; a real `CryptoKey` is one).
 */
export interface CryptoKeyLike {
  /** `private` for a signing key. */
  readonly type: string;
  /** Whether `exportKey` may export it. */
  readonly extractable: boolean;
  /** `name` (`Ed25519`, `ECDSA`, `RSA-PSS`), and `namedCurve` or `hash` where the algorithm has one. */
  readonly algorithm: { readonly name: string };
  /** Must include `sign`. */
  readonly usages: readonly string[];
}

/** Options of `MemorySigner.generate`. */
export interface GenerateSignerOptions {
  /** RSA modulus length; default 3072 (securesystemslib's default), 2048 to 16384. */
  rsaBits?: number;
  /**
   * Whether the private key may leave the backend (`toPem`). Default false: a WebCrypto key
   * then cannot be read by any script, though IndexedDB can still store the `CryptoKey` itself.
   * node:crypto keys, and Ed25519 keys on an engine without Ed25519 in WebCrypto (held by
   * `@noble/ed25519`), are always extractable.
   */
  extractable?: boolean;
}

/** Options of `MemorySigner.fromCryptoKey`. */
export interface MemorySignerOptions {
  /** The keyid to sign as; defaults to `key.keyid()`. */
  keyid?: string;
}

const describeError = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Whether a WebCrypto key's algorithm is the one `key`'s scheme needs. */
function fitsAlgorithm(cryptoKey: CryptoKeyLike, algorithm: Algorithm): boolean {
  const a = cryptoKey.algorithm as { name?: unknown; namedCurve?: unknown; hash?: unknown };
  const hash = typeof a.hash === 'object' && a.hash !== null ? (a.hash as { name?: unknown }).name : a.hash;
  switch (algorithm) {
    case 'ed25519':
      return a.name === 'Ed25519';
    case 'ecdsa-p256':
      return a.name === 'ECDSA' && a.namedCurve === 'P-256';
    case 'ecdsa-p384':
      return a.name === 'ECDSA' && a.namedCurve === 'P-384';
    case 'rsassa-pss-sha256':
      return a.name === 'RSA-PSS' && hash === 'SHA-256';
  }
}

const WEBCRYPTO_ALGORITHM: Record<Algorithm, string> = {
  ed25519: 'Ed25519',
  'ecdsa-p256': 'ECDSA on P-256',
  'ecdsa-p384': 'ECDSA on P-384',
  'rsassa-pss-sha256': 'RSA-PSS with SHA-256',
};

/**
 * Signs with a private key held by the crypto backend (a WebCrypto `CryptoKey` or a node
 * `KeyObject`), with the scheme of `key`: Ed25519, ECDSA as hex of DER, RSA-PSS with a 32-byte
 * salt (DESIGN rule 7), so its signatures verify under python-tuf, go-tuf and tuf-js.
 */
export class MemorySigner implements Signer {
  readonly key: Key;
  readonly keyid: string;
  readonly #backend: CryptoBackend;
  readonly #handle: PrivateKeyHandle;

  private constructor(backend: CryptoBackend, handle: PrivateKeyHandle, key: Key, keyid: string) {
    this.#backend = backend;
    this.#handle = handle;
    this.key = key;
    this.keyid = keyid;
  }

  /**
   * Generates a key pair of `kind` on the runtime's crypto backend (WebCrypto, or node:crypto on
   * Node and Bun). The public TUF key is written as securesystemslib writes it.
   * @throws {@link errors!UsageError | UsageError} an unknown `kind`, or `rsaBits` outside
   *   2048–16384.
   * @throws {@link errors!CryptoBackendError | CryptoBackendError} the runtime's crypto cannot
   *   generate this kind of key (e.g. no `crypto.subtle` outside a secure context).
   */
  static async generate(kind: KeyKind, options: GenerateSignerOptions = {}): Promise<MemorySigner> {
    const { algorithm, options: genOptions } = keyGenRequest(kind, options);
    const backend = cryptoBackend();
    let generated: Awaited<ReturnType<CryptoBackend['generateKeyPair']>>;
    try {
      generated = await backend.generateKeyPair(algorithm, genOptions);
    } catch (e) {
      throw new CryptoBackendError(
        `the crypto backend cannot generate ${algorithm} keys (${backend.name}: ${describeError(e)})`,
        { cause: e },
      );
    }
    const key = keyFromSpki(generated.spki);
    return new MemorySigner(backend, generated.privateKey, key, key.keyid());
  }

  /**
   * A signer for a WebCrypto private `CryptoKey` (from `crypto.subtle.generateKey` or
   * `importKey`, or read back from IndexedDB) that signs for `key`. Checks, by signing and
   * verifying a test message, that the private key belongs to `key`: a signer that signed with
   * the wrong key would make signatures nobody can verify.
   * @throws {@link errors!UnsupportedKeyError | UnsupportedKeyError} `key` is of a type or scheme
   *   tufa cannot verify.
   * @throws {@link errors!KeyError | KeyError} `cryptoKey` is not a private signing key of the
   *   algorithm `key`'s scheme needs, or does not match `key`.
   * @throws {@link errors!CryptoBackendError | CryptoBackendError} the runtime's WebCrypto cannot
   *   sign with it.
   */
  static async fromCryptoKey(
    cryptoKey: CryptoKeyLike,
    key: Key,
    options: MemorySignerOptions = {},
  ): Promise<MemorySigner> {
    const material = materialOf(key);
    if (material === undefined) {
      throw new UnsupportedKeyError(`cannot sign for an unsupported key (${key.keytype}/${key.scheme})`);
    }
    const algorithm = material.algorithm;
    if (cryptoKey?.type !== 'private' || !cryptoKey.usages?.includes('sign')) {
      throw new KeyError(
        `expected a private CryptoKey with the sign usage, got a ${String(cryptoKey?.type)} key with usages ${JSON.stringify(cryptoKey?.usages ?? [])}`,
      );
    }
    if (!fitsAlgorithm(cryptoKey, algorithm)) {
      throw new KeyError(
        `the CryptoKey does not fit ${key.scheme} (expected ${WEBCRYPTO_ALGORITHM[algorithm]}, got ${JSON.stringify(cryptoKey.algorithm)})`,
      );
    }
    // A CryptoKey belongs to WebCrypto, whichever backend the runtime verifies with.
    const signer = new MemorySigner(
      webCrypto,
      { algorithm, key: cryptoKey },
      key,
      options.keyid ?? key.keyid(),
    );
    const probe = new TextEncoder().encode('tufa: does this private key belong to the public key?');
    const sig = await signer.sign(probe);
    if (!(await key.verify(probe, sig.sig))) {
      throw new KeyError(`the private key does not match the public key ${key.keyid()}`);
    }
    return signer;
  }

  /**
   * The WebCrypto `CryptoKey` this signer holds (to store in IndexedDB, which keeps even a
   * non-extractable key), or undefined when the backend holds something else (a node
   * `KeyObject`, or a `@noble/ed25519` key on an engine without Ed25519 in WebCrypto).
   */
  get cryptoKey(): CryptoKeyLike | undefined {
    const k = this.#handle.key as Partial<CryptoKeyLike> | null;
    const isCryptoKey =
      typeof k === 'object' && k !== null && typeof k.extractable === 'boolean' && Array.isArray(k.usages);
    return isCryptoKey ? (k as CryptoKeyLike) : undefined;
  }

  /**
   * The private key as unencrypted PKCS#8 PEM, the format `PrivateKeySigner.fromPem` and tufa's
   * key files read.
   * @throws {@link errors!KeyError | KeyError} the key was generated or imported non-extractable.
   */
  async toPem(): Promise<string> {
    let der: Uint8Array;
    try {
      der = await this.#backend.exportPkcs8(this.#handle);
    } catch (e) {
      throw new KeyError(
        `cannot export the private key (expected an extractable key; generate it with extractable: true to export it): ${describeError(e)}`,
        { cause: e },
      );
    }
    const lines = bytesToBase64(der).match(/.{1,64}/g) ?? [];
    return `-----BEGIN PRIVATE KEY-----\n${lines.join('\n')}\n-----END PRIVATE KEY-----\n`;
  }

  /**
   * Signs `data` with the scheme of `key`.
   * @throws {@link errors!CryptoBackendError | CryptoBackendError} the runtime's crypto cannot
   *   sign (an algorithm missing, no `crypto.subtle`).
   */
  async sign(data: Uint8Array): Promise<Signature> {
    let sig: Uint8Array;
    try {
      sig = await this.#backend.sign(this.#handle, data);
    } catch (e) {
      throw new CryptoBackendError(
        `the crypto backend cannot sign ${this.#handle.algorithm} signatures (${this.#backend.name}: ${describeError(e)})`,
        { cause: e },
      );
    }
    return new Signature(this.keyid, bytesToHex(sig));
  }
}
