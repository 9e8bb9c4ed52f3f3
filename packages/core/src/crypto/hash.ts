/**
 * Hashing for target files and metadata, through the crypto backend (node:crypto on Node, about
 * 10x faster than a pure-JS SHA-2 there, see docs/adr/0003-crypto-backend.md; `@noble/hashes`
 * elsewhere, since WebCrypto has no incremental digest).
 */
import { UnsupportedHashError, UsageError } from '../errors.js';
import { cryptoBackend } from './active-backend.js';
import type { HashState } from './backend.js';
import type { HashAlgorithm } from './hash-algorithm.js';
import { bytesToHex } from './hex.js';

export type { HashAlgorithm } from './hash-algorithm.js';

const SUPPORTED: readonly string[] = ['sha256', 'sha512'];

/** Whether `name` (as written in metadata `hashes`) is an algorithm tufa can compute. */
export function isSupportedHashAlgorithm(name: string): name is HashAlgorithm {
  return SUPPORTED.includes(name);
}

// Callers pass names read from metadata, so the type alone does not guarantee the value.
function checked(alg: string): HashAlgorithm {
  if (!isSupportedHashAlgorithm(alg)) {
    throw new UnsupportedHashError(`unsupported hash algorithm (expected sha256 or sha512, got ${alg})`);
  }
  return alg;
}

export function digest(alg: HashAlgorithm, bytes: Uint8Array): Uint8Array {
  const backend = cryptoBackend();
  if (backend.digest) return backend.digest(checked(alg), bytes);
  const h = backend.createHash(checked(alg));
  h.update(bytes);
  return h.digest();
}

const UTF8 = new TextEncoder();

/** The digest of the UTF-8 encoding of `text` (a lone surrogate as U+FFFD, as `TextEncoder` does). */
export function textDigest(alg: HashAlgorithm, text: string): Uint8Array {
  const backend = cryptoBackend();
  if (backend.digestText) return backend.digestText(checked(alg), text);
  return digest(alg, UTF8.encode(text));
}

export function hexDigest(alg: HashAlgorithm, bytes: Uint8Array): string {
  return bytesToHex(digest(alg, bytes));
}

/** Incremental hashing for streamed downloads. Single use: finishing twice is a UsageError. */
export class Hasher {
  readonly algorithm: HashAlgorithm;
  #hash: HashState | undefined;

  /**
   * @throws {@link errors!UnsupportedHashError | UnsupportedHashError} `alg` is not sha256 or
   *   sha512 (it may come from metadata).
   */
  constructor(alg: HashAlgorithm) {
    this.algorithm = checked(alg);
    this.#hash = cryptoBackend().createHash(alg);
  }

  /**
   * Adds the next chunk of the stream.
   * @throws {@link errors!UsageError | UsageError} the digest was already taken.
   */
  update(chunk: Uint8Array): this {
    this.#live().update(chunk);
    return this;
  }

  /**
   * Finishes and returns the digest bytes.
   * @throws {@link errors!UsageError | UsageError} the digest was already taken.
   */
  digest(): Uint8Array {
    return this.#finish().digest();
  }

  /**
   * Finishes and returns the digest as lower-case hex, the form metadata `hashes` hold.
   * @throws {@link errors!UsageError | UsageError} the digest was already taken.
   */
  digestHex(): string {
    return bytesToHex(this.#finish().digest());
  }

  #live(): HashState {
    if (this.#hash === undefined) throw new UsageError('Hasher already finished');
    return this.#hash;
  }

  #finish(): HashState {
    const h = this.#live();
    this.#hash = undefined;
    return h;
  }
}
