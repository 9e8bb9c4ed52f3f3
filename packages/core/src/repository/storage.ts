/**
 * Where a repository lives: files addressed by paths relative to the repository root
 * (`metadata/3.root.json`, `targets/app/HASH.v1.tar.gz`). Writes must be atomic.
 */
import { ConflictError } from '../errors.js';

/**
 * Where a `Repository` reads and writes its files (paths relative to the repository root, e.g.
 * `metadata/timestamp.json`). Writes are atomic, and `lock` keeps two publishers from interleaving.
 * `FsRepositoryStorage` (`@tufa/core/node`) is the on-disk one.
 */
export interface RepositoryStorage {
  /** The file's bytes, or undefined when it does not exist. */
  read(path: string): Promise<Uint8Array | undefined>;
  /** Atomically creates or replaces a file (parent directories as needed). */
  write(path: string, bytes: Uint8Array): Promise<void>;
  /** Atomically writes a file from a stream (large target copies). */
  writeStream(path: string, chunks: AsyncIterable<Uint8Array>): Promise<void>;
  /** Removes a file; no error if it is missing. */
  remove(path: string): Promise<void>;
  /**
   * Takes an exclusive lock for a publish, so two publishers never interleave; resolves to
   * the function that releases it. Throws a ConflictError when another publisher holds it. A
   * lock whose holder is known to be gone may be taken over (FsRepositoryStorage: a process of
   * this host and boot that no longer runs); one whose holder cannot be checked never is.
   * @throws {@link errors!ConflictError | ConflictError} another publisher holds the lock
   *   (`PublishLockedError` on disk).
   */
  lock(): Promise<() => Promise<void>>;
  /**
   * How many `write`s of different paths may run at once. A publish that writes many hash bins
   * overlaps that many (each write of a file store waits on an fsync); absent means one at a
   * time, for a store that was not written with concurrent writes in mind.
   */
  readonly parallelWrites?: number;
}

/** A repository in memory, for tests and for building a repository before uploading it. */
export class MemoryRepositoryStorage implements RepositoryStorage {
  readonly files = new Map<string, Uint8Array>();
  /** Writes are independent: a publish of many bins may overlap them (tests exercise that). */
  readonly parallelWrites: number = 8;
  private locked = false;
  /** Test hook: called before every write; throwing simulates a crash at that write. */
  beforeWrite: ((path: string) => void) | undefined;

  async read(path: string): Promise<Uint8Array | undefined> {
    return this.files.get(path);
  }

  async write(path: string, bytes: Uint8Array): Promise<void> {
    this.beforeWrite?.(path);
    this.files.set(path, bytes.slice());
  }

  async writeStream(path: string, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const parts: Uint8Array[] = [];
    let n = 0;
    for await (const c of chunks) {
      parts.push(c);
      n += c.length;
    }
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    await this.write(path, out);
  }

  async remove(path: string): Promise<void> {
    this.files.delete(path);
  }

  async lock(): Promise<() => Promise<void>> {
    if (this.locked) throw new ConflictError('another publish holds the repository lock');
    this.locked = true;
    return async () => {
      this.locked = false;
    };
  }
}
