/**
 * Metadata files held in memory, least recently used first out, bounded by their bytes.
 *
 * What may go in is decided by the store, not here (ADR 0027): a versioned file (`N.ROLE.json`)
 * once the GUN's committed state references it, since no writer ever replaces it after that,
 * and, in the directory store, an entry point (`timestamp.json`) together with the identity of
 * the file it was read from, checked on every use. The cache itself only keeps bytes with what
 * every answer needs precomputed (sha256, ETag, length), so a GET of a cached file touches
 * neither the file system nor the database, and hashes nothing.
 */
import { createHash } from 'node:crypto';
import { type GzipForm, gzipForm } from './content-coding.js';

/** The default bound of a server's metadata cache: 128 MiB of file bytes. */
export const DEFAULT_METADATA_CACHE_BYTES = 128 * 1024 * 1024;

/** A metadata file as served: its bytes and what its answers need, computed once. */
export interface MetadataFile {
  bytes: Uint8Array;
  /** sha256 of the bytes, lower-case hex. */
  sha256: string;
  /** The strong ETag of the bytes: the sha256 in double quotes. */
  etag: string;
  /**
   * The store knows these bytes are a committed version no publish rewrites: answered with
   * `Cache-Control: immutable`, which any HTTP cache on the way may keep for a year. Absent for
   * entry points and for anything the store cannot vouch for (a versioned-looking file no
   * committed state references yet, which a later publish may replace, or a name that only looks
   * versioned in a repository without consistent snapshots).
   */
  immutable?: boolean;
  /**
   * The gzip form, once compressed for a file the cache keeps (see MetadataCache.gzip): each
   * committed version is compressed once, when a client first asks for it compressed.
   */
  gzip?: GzipForm;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The served form of `bytes`, hashed once (`immutable`: see MetadataFile). */
export function metadataFile(bytes: Uint8Array, immutable = false): MetadataFile {
  const sha256 = sha256Hex(bytes);
  return immutable
    ? { bytes, sha256, etag: `"${sha256}"`, immutable }
    : { bytes, sha256, etag: `"${sha256}"` };
}

/** `file` as a committed version (see MetadataFile.immutable). */
export function asImmutable(file: MetadataFile): MetadataFile {
  return file.immutable ? file : { ...file, immutable: true };
}

/**
 * A versioned metadata file name (`N.ROLE.json`, N without leading zeros): its version and the
 * role's file stem, or undefined for an entry point (`timestamp.json`, `root.json`, and the
 * unversioned names of a repository without consistent snapshots).
 */
export function versionedName(file: string): { version: number; role: string } | undefined {
  const m = /^([1-9][0-9]{0,15})\.(.+)\.json$/.exec(file);
  if (!m) return undefined;
  const version = Number(m[1]);
  return Number.isSafeInteger(version) ? { version, role: m[2] as string } : undefined;
}

interface Entry {
  file: MetadataFile;
  /** For entry points: the identity of the file the bytes came from (see DirectoryStore). */
  identity: string | undefined;
  /** The bytes counted against the bound: the file's, and its gzip form's once kept. */
  size: number;
}

const sizeOf = (file: MetadataFile) => file.bytes.length + (file.gzip?.bytes.length ?? 0);

/**
 * An LRU map from (GUN, file name) to a served file, bounded by the sum of the files' bytes (the
 * identity bytes and, once compressed, the gzip form's).
 */
export class MetadataCache {
  readonly maxBytes: number;
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  /** Compressions under way, by the file compressed: concurrent first requests share one. */
  private readonly compressing = new WeakMap<MetadataFile, Promise<GzipForm>>();

  /** @param maxBytes the bound (0 disables the cache); a file larger than a quarter of it is never kept. */
  constructor(maxBytes: number = DEFAULT_METADATA_CACHE_BYTES) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
      throw new RangeError(
        `the metadata cache bound must be a whole number of bytes >= 0, found ${maxBytes}`,
      );
    }
    this.maxBytes = maxBytes;
  }

  private static key(gun: string, file: string): string {
    return `${gun}\0${file}`;
  }

  /** The bytes held now. */
  get size(): number {
    return this.bytes;
  }

  /** The cached file, marked as the most recently used; `identity` is what it was stored with. */
  get(gun: string, file: string): { file: MetadataFile; identity: string | undefined } | undefined {
    const key = MetadataCache.key(gun, file);
    const e = this.entries.get(key);
    if (!e) return undefined;
    // Re-inserting moves it to the end of the Map's order: the newest use.
    this.entries.delete(key);
    this.entries.set(key, e);
    return e;
  }

  /** Keeps `file` (replacing what the name held), then drops the least recently used beyond the bound. */
  set(gun: string, file: string, served: MetadataFile, identity?: string): void {
    this.delete(gun, file);
    const size = sizeOf(served);
    // One huge file must not flush everything else out.
    if (size > this.maxBytes / 4) return;
    this.entries.set(MetadataCache.key(gun, file), { file: served, identity, size });
    this.bytes += size;
    this.evict();
  }

  /** Drops the least recently used files until the bytes held are within the bound. */
  private evict(): void {
    for (const [k, e] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= e.size;
    }
  }

  /**
   * The gzip form of `served`, which the store has just answered for (`gun`, `file`). While the
   * cache holds exactly that file under that name, the gzip form is kept beside it, counted
   * against the bound (a file whose two forms together exceed a quarter of it keeps only the
   * identity bytes), so a committed version is compressed once; any other file (not kept, or
   * replaced meanwhile) is compressed for this answer only.
   */
  async gzip(gun: string, file: string, served: MetadataFile): Promise<GzipForm> {
    if (served.gzip) return served.gzip;
    let pending = this.compressing.get(served);
    if (!pending) {
      pending = gzipForm(served.bytes, served.sha256);
      this.compressing.set(served, pending);
      // Once settled the entry (if kept) carries the form; a failure is not remembered.
      pending.then(
        () => this.compressing.delete(served),
        () => this.compressing.delete(served),
      );
    }
    const gzip = await pending;
    const key = MetadataCache.key(gun, file);
    const e = this.entries.get(key);
    if (e?.file !== served) return gzip;
    const withGzip = { ...served, gzip };
    const size = sizeOf(withGzip);
    if (size > this.maxBytes / 4) return gzip;
    // Replaced in place: the entry keeps its place in the LRU order.
    e.file = withGzip;
    this.bytes += size - e.size;
    e.size = size;
    this.evict();
    return gzip;
  }

  delete(gun: string, file: string): void {
    const key = MetadataCache.key(gun, file);
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.bytes -= e.size;
  }

  /** Forgets every file of a GUN. */
  deleteGun(gun: string): void {
    const prefix = `${gun}\0`;
    for (const [k, e] of this.entries) {
      if (!k.startsWith(prefix)) continue;
      this.entries.delete(k);
      this.bytes -= e.size;
    }
  }
}
