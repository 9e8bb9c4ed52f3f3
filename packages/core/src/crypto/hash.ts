/**
 * Hashing for target files and metadata. node:crypto (OpenSSL) is about 10x faster than a
 * pure-JS SHA-2 on Node (see docs/adr/0003-crypto-backend.md), which matters for large targets.
 */
import { createHash, type Hash } from 'node:crypto';
import { UnsupportedHashError, UsageError } from '../errors.js';

export type HashAlgorithm = 'sha256' | 'sha512';

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

function toBytes(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function digest(alg: HashAlgorithm, bytes: Uint8Array): Uint8Array {
  return toBytes(createHash(checked(alg)).update(bytes).digest());
}

export function hexDigest(alg: HashAlgorithm, bytes: Uint8Array): string {
  return createHash(checked(alg)).update(bytes).digest('hex');
}

/** Incremental hashing for streamed downloads. Single use: finishing twice is a UsageError. */
export class Hasher {
  readonly algorithm: HashAlgorithm;
  #hash: Hash | undefined;

  /**
   * @throws {@link errors!UnsupportedHashError | UnsupportedHashError} `alg` is not sha256 or
   *   sha512 (it may come from metadata).
   */
  constructor(alg: HashAlgorithm) {
    this.algorithm = checked(alg);
    this.#hash = createHash(alg);
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
    return toBytes(this.#finish().digest());
  }

  /**
   * Finishes and returns the digest as lower-case hex, the form metadata `hashes` hold.
   * @throws {@link errors!UsageError | UsageError} the digest was already taken.
   */
  digestHex(): string {
    return this.#finish().digest('hex');
  }

  #live(): Hash {
    if (this.#hash === undefined) throw new UsageError('Hasher already finished');
    return this.#hash;
  }

  #finish(): Hash {
    const h = this.#live();
    this.#hash = undefined;
    return h;
  }
}
