/** `MetaFile` (snapshot and timestamp `meta` entries) and `TargetFile` (targets `targets` entries). */
import { Hasher, isSupportedHashAlgorithm } from '../crypto/hash.js';
import { FormatError, LengthOrHashError, UnsupportedHashError } from '../errors.js';
import {
  type JsonObject,
  jsonObject,
  mapToObject,
  readField,
  readHashes,
  readInteger,
  readObject,
  unrecognized,
} from './fields.js';
import { ownFields } from './own.js';

/** Bytes, or a stream of chunks (a file of many gigabytes passes through in constant memory). */
export type ByteSource = Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/**
 * Checks bytes against an expected length and hashes as they stream by: `update` refuses a
 * byte beyond `length`, `finish` checks the total and every hash tufa knows. A listing with
 * only unknown hash algorithms is refused up front.
 */
export class LengthAndHashChecker {
  private readonly hashers: { alg: string; h: Hasher }[];
  private n = 0;

  constructor(
    private readonly what: string,
    private readonly length: number | undefined,
    private readonly hashes: ReadonlyMap<string, string> | undefined,
  ) {
    const known = hashes ? [...hashes.keys()].filter(isSupportedHashAlgorithm) : [];
    if (hashes && known.length === 0) {
      throw new UnsupportedHashError(
        `${what}: none of the hash algorithms (${[...hashes.keys()].join(', ')}) is supported (expected sha256 or sha512)`,
      );
    }
    this.hashers = known.map((alg) => ({ alg, h: new Hasher(alg) }));
  }

  /**
   * Counts and hashes the next chunk.
   * @throws {@link errors!LengthOrHashError | LengthOrHashError} more bytes than the expected
   *   length have arrived.
   */
  update(chunk: Uint8Array): void {
    this.n += chunk.length;
    if (this.length !== undefined && this.n > this.length) {
      throw new LengthOrHashError(`${this.what}: expected ${this.length} bytes, found more`);
    }
    for (const { h } of this.hashers) h.update(chunk);
  }

  /**
   * Checks the total: call it after the last chunk, and use the bytes only if it returns.
   * @throws {@link errors!LengthOrHashError | LengthOrHashError} the length or a hash does not
   *   match.
   */
  finish(): void {
    if (this.length !== undefined && this.n !== this.length) {
      throw new LengthOrHashError(`${this.what}: expected ${this.length} bytes, found ${this.n}`);
    }
    for (const { alg, h } of this.hashers) {
      const found = h.digestHex();
      const expected = this.hashes?.get(alg);
      if (found !== expected) {
        throw new LengthOrHashError(`${this.what}: ${alg} mismatch (expected ${expected}, found ${found})`);
      }
    }
  }
}

async function verifyLengthAndHashes(
  what: string,
  data: ByteSource,
  length: number | undefined,
  hashes: ReadonlyMap<string, string> | undefined,
): Promise<void> {
  const checker = new LengthAndHashChecker(what, length, hashes);
  if (data instanceof Uint8Array) checker.update(data);
  else if (Symbol.asyncIterator in data) for await (const c of data) checker.update(c);
  else for (const c of data) checker.update(c);
  checker.finish();
}

/**
 * Length and hashes of data, computed in one pass over a stream.
 * @throws {@link errors!UnsupportedHashError | UnsupportedHashError} an algorithm asked for is not
 *   sha256 or sha512.
 */
export async function measure(
  data: ByteSource,
  algorithms: readonly string[] = ['sha256'],
  onProgress?: (bytes: number) => void,
): Promise<{ length: number; hashes: Map<string, string> }> {
  const hashers = algorithms.map((alg) => {
    if (!isSupportedHashAlgorithm(alg)) throw new UnsupportedHashError(`unsupported hash algorithm ${alg}`);
    return { alg, h: new Hasher(alg) };
  });
  let n = 0;
  const take = (c: Uint8Array) => {
    n += c.length;
    for (const { h } of hashers) h.update(c);
    onProgress?.(n);
  };
  if (data instanceof Uint8Array) take(data);
  else if (Symbol.asyncIterator in data) for await (const c of data) take(c);
  else for (const c of data) take(c);
  return { length: n, hashes: new Map(hashers.map(({ alg, h }) => [alg, h.digestHex()])) };
}

const META_FIELDS = ['version', 'length', 'hashes'] as const;

/**
 * An entry of snapshot's or timestamp's `meta`: the version of a metadata file and, optionally, its
 * length and hashes (spec 4.4, 4.5).
 */
export class MetaFile {
  /** The version of the metadata file the parent role names (spec 5.5.4, 5.6.4 check it). */
  readonly version: number;
  /** Its length in bytes, when the parent lists one; bounds the download. */
  readonly length: number | undefined;
  /** Its hashes by algorithm name, hex, when the parent lists them. */
  readonly hashes: ReadonlyMap<string, string> | undefined;
  readonly unrecognized: Readonly<JsonObject>;

  /**
   * Keeps its own copies of `hashes` and the unknown fields (ADR 0012).
   * @throws {@link errors!FormatError | FormatError} a version below 1, a negative length, or an
   *   empty `hashes`.
   */
  constructor(
    version: number,
    length?: number,
    hashes?: ReadonlyMap<string, string>,
    unrecognizedFields?: JsonObject,
  ) {
    if (!Number.isSafeInteger(version) || version < 1)
      throw new FormatError(`version must be >= 1, found ${version}`);
    if (length !== undefined && (!Number.isSafeInteger(length) || length < 0)) {
      throw new FormatError(`length must be >= 0, found ${length}`);
    }
    if (hashes !== undefined && hashes.size === 0) throw new FormatError('hashes must not be empty');
    this.version = version;
    this.length = length;
    this.hashes = hashes && new Map(hashes);
    this.unrecognized = ownFields(unrecognizedFields, () => 'meta');
  }

  /**
   * Validates a `meta` entry; `path` names it in errors.
   * @throws {@link errors!FormatError | FormatError} not a valid `meta` entry (a version below 1, a
   *   negative length, a bad `hashes`).
   */
  static fromJSON(v: unknown, path: string): MetaFile {
    const o = readObject(v, path);
    const version = readInteger(readField(o, 'version', path), `${path}.version`, 1);
    const length = Object.hasOwn(o, 'length') ? readInteger(o['length'], `${path}.length`, 0) : undefined;
    const hashes = Object.hasOwn(o, 'hashes') ? readHashes(o['hashes'], `${path}.hashes`) : undefined;
    return new MetaFile(version, length, hashes, unrecognized(o, META_FIELDS));
  }

  /**
   * The entry as JSON, with the fields this version does not know (for a target, `custom` among
   * them) re-emitted unchanged.
   */
  toJSON(): JsonObject {
    return jsonObject(
      {
        version: this.version,
        length: this.length,
        hashes: this.hashes && mapToObject(this.hashes, (d) => d),
      },
      this.unrecognized,
    );
  }

  /**
   * Spec 5.5.2 / 5.6.2: the bytes must match the length and hashes the parent lists, when it lists
   * them.
   * @throws {@link errors!LengthOrHashError | LengthOrHashError} the bytes do not match.
   * @throws {@link errors!UnsupportedHashError | UnsupportedHashError} hashes are listed but none
   *   is of a supported algorithm.
   */
  verifyLengthAndHashes(data: Uint8Array, what: string): Promise<void> {
    return verifyLengthAndHashes(what, data, this.length, this.hashes);
  }
}

const TARGET_FIELDS = ['length', 'hashes'] as const;

/**
 * An entry of targets' `targets`: a target path with its length, hashes and any `custom` data (spec
 * 4.5). The length and hashes are what a download is verified against (spec 5.7.3).
 */
export class TargetFile {
  /** The target path (for tufa, a tag name), as signed. */
  readonly path: string;
  /** The target's length in bytes; the download stops beyond it. */
  readonly length: number;
  /** Its hashes by algorithm name, hex. */
  readonly hashes: ReadonlyMap<string, string>;
  /** Every other field, `custom` included, kept and re-emitted. */
  readonly unrecognized: Readonly<JsonObject>;

  /**
   * Keeps its own copies of `hashes` and the unknown fields, `custom` included (ADR 0012).
   * @throws {@link errors!FormatError | FormatError} a negative length, or an empty `hashes`.
   */
  constructor(
    path: string,
    length: number,
    hashes: ReadonlyMap<string, string>,
    unrecognizedFields?: JsonObject,
  ) {
    if (!Number.isSafeInteger(length) || length < 0)
      throw new FormatError(`length must be >= 0, found ${length}`);
    if (hashes.size === 0) throw new FormatError('hashes must not be empty');
    this.path = path;
    this.length = length;
    this.hashes = new Map(hashes);
    this.unrecognized = ownFields(unrecognizedFields, () => `target ${JSON.stringify(path)}`);
  }

  /**
   * The `custom` field as signed, or undefined; third-party text, to be passed through `visible`
   * before it reaches a terminal.
   */
  get custom(): unknown {
    return this.unrecognized['custom'];
  }

  /**
   * Validates a `targets` entry for `path`; `fieldPath` names it in errors.
   * @throws {@link errors!FormatError | FormatError} not a valid target entry (a negative length,
   *   no or bad `hashes`).
   */
  static fromJSON(path: string, v: unknown, fieldPath: string): TargetFile {
    const o = readObject(v, fieldPath);
    const length = readInteger(readField(o, 'length', fieldPath), `${fieldPath}.length`, 0);
    const hashes = readHashes(readField(o, 'hashes', fieldPath), `${fieldPath}.hashes`);
    return new TargetFile(path, length, hashes, unrecognized(o, TARGET_FIELDS));
  }

  /** A target entry for `data`, hashing it as it streams by. */
  static async fromData(
    path: string,
    data: ByteSource,
    algorithms: readonly string[] = ['sha256'],
    custom?: unknown,
  ): Promise<TargetFile> {
    const { length, hashes } = await measure(data, algorithms);
    const extra: JsonObject = Object.create(null);
    if (custom !== undefined) extra['custom'] = custom;
    return new TargetFile(path, length, hashes, extra);
  }

  /**
   * The entry as JSON, with the fields this version does not know (for a target, `custom` among
   * them) re-emitted unchanged.
   */
  toJSON(): JsonObject {
    return jsonObject({ length: this.length, hashes: mapToObject(this.hashes, (d) => d) }, this.unrecognized);
  }

  /**
   * Spec 5.7.3: the downloaded bytes must match the target's length and every known hash.
   * @throws {@link errors!LengthOrHashError | LengthOrHashError} the bytes do not match.
   * @throws {@link errors!UnsupportedHashError | UnsupportedHashError} none of the hashes is of a
   *   supported algorithm.
   */
  verifyLengthAndHashes(data: ByteSource): Promise<void> {
    return verifyLengthAndHashes(this.describe(), data, this.length, this.hashes);
  }

  /**
   * A checker for this target's bytes as they stream by.
   * @throws {@link errors!UnsupportedHashError | UnsupportedHashError} none of the hashes is of a
   *   supported algorithm.
   */
  checker(): LengthAndHashChecker {
    return new LengthAndHashChecker(this.describe(), this.length, this.hashes);
  }

  private describe(): string {
    return `target ${JSON.stringify(this.path)}`;
  }
}
