/**
 * Where the server keeps its repositories. The HTTP layer and the upload logic see a
 * `ServerStore`; `DirectoryStore` is the embedded one: one directory holding every GUN at
 * `DIR/<gun>/metadata/…`, exactly the layout of a static publish root (ADR 0021), so any static
 * server can serve the same directory. One server process per directory: a second refuses to
 * start, since uploads of a GUN are serialised by a queue in the process.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { appendFile, lstat, open, readdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConflictError, PublishLockedError, type RepositoryStorage, StorageError } from '@tufa/core';
import { ensureDir, FsRepositoryStorage, writeFileAtomic } from '@tufa/core/node';
import { checkGun } from './gun.js';
import { type OnlineKeyFile, type OnlineKeyFiles, type OnlineRole, SERVER_FILES_DIR } from './online-keys.js';

/** One entry of the change feed: a GUN's new versions after an upload or a refresh. */
export interface ChangeRecord {
  /** Increases by one with every change (the feed's cursor). */
  id: number;
  gun: string;
  /** ISO time of the change. */
  time: string;
  /** What changed it. */
  kind: 'upload' | 'refresh';
  /** The new version of each role written. */
  versions: { role: string; version: number }[];
}

/** A metadata file as served: its bytes and their sha256 (hex), which is its ETag. */
export interface MetadataFile {
  bytes: Uint8Array;
  sha256: string;
}

/** What the server needs from its storage. */
export interface ServerStore extends OnlineKeyFiles {
  /** The core repository storage of a GUN (paths relative to the GUN: `metadata/…`). */
  storage(gun: string): RepositoryStorage;
  /**
   * Runs `fn` if this process is the one that refreshes timestamps now (with several replicas,
   * exactly one is); otherwise returns undefined without running it.
   */
  asRefresher<T>(fn: () => Promise<T>): Promise<T | undefined>;
  /** Runs `fn` with the GUN's writes serialised against every other write of that GUN. */
  withGun<T>(gun: string, fn: () => Promise<T>): Promise<T>;
  /**
   * A metadata file of a GUN (`file` is a file name under `metadata/`), or undefined when there
   * is none. Never follows a symbolic link.
   */
  readMetadata(gun: string, file: string): Promise<MetadataFile | undefined>;
  /** Every GUN that has published metadata. */
  listGuns(): Promise<string[]>;
  /** Appends to the change feed; returns the record with its id. */
  recordChange(change: Omit<ChangeRecord, 'id'>): Promise<ChangeRecord>;
  /** The changes after `since`, at most `limit`. */
  changes(since: number, limit: number): Promise<ChangeRecord[]>;
  /** Releases the store (the directory lock). */
  close(): Promise<void>;
}

/** The directory, inside the store, of the server's own files (lock, change log). */
const SERVER_DIR = '.tufa-server';
const CHANGES_FILE = 'changes.jsonl';
/** The largest metadata file served from the directory. */
const MAX_METADATA_BYTES = 64 * 1024 * 1024;
/** Digests of versioned files kept (by GUN and name, with the file's identity). */
const MAX_DIGESTS = 10_000;

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function errorCode(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

/** The embedded store: one directory, one process. */
export class DirectoryStore implements ServerStore {
  readonly dir: string;
  private readonly release: () => Promise<void>;
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly log: ChangeRecord[];
  /**
   * sha256 of versioned files (`N.ROLE.json`) by GUN and name, with the identity of the file it
   * was computed from (device, inode, size, change times): hashing a 10k-target targets.json on
   * every GET cost more than serving it. Any rewrite of the file (the server's atomic rename
   * gives a new inode) changes the identity, and the digest is computed again.
   */
  private readonly digests = new Map<string, { id: string; sha256: string }>();

  private constructor(dir: string, release: () => Promise<void>, log: ChangeRecord[]) {
    this.dir = dir;
    this.release = release;
    this.log = log;
  }

  /**
   * Opens `dir` for this process, creating it if needed.
   * @throws {ConflictError} another server process serves the directory.
   */
  static async open(dir: string): Promise<DirectoryStore> {
    const abs = resolve(dir);
    // The core's publish lock (pid, host and boot id): a lock left by a killed server is taken
    // over, one held by a running server is not.
    const lock = new FsRepositoryStorage(join(abs, SERVER_DIR));
    let release: () => Promise<void>;
    try {
      release = await lock.lock();
    } catch (e) {
      if (e instanceof PublishLockedError) {
        throw new ConflictError(
          `another tufa server serves ${abs} (${e.message}); one server process per directory`,
        );
      }
      throw e;
    }
    let log: ChangeRecord[] = [];
    try {
      const text = await readFile(join(abs, SERVER_DIR, CHANGES_FILE), 'utf8');
      log = text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as ChangeRecord];
          } catch {
            return []; // a line cut short by a crash
          }
        });
    } catch (e) {
      if (errorCode(e) !== 'ENOENT') {
        await release();
        throw new StorageError(`cannot read the change log of ${abs} (${errorCode(e) ?? String(e)})`, {
          cause: e,
        });
      }
    }
    return new DirectoryStore(abs, release, log);
  }

  private gunDirectory(gun: string): string {
    return join(this.dir, ...checkGun(gun).split('/'));
  }

  /** Generation 1 is `<role>.key` (the name before rotation existed); generation n, `<role>.<n>.key`. */
  private keyPath(gun: string, role: OnlineRole, generation: number): string {
    const name = generation === 1 ? `${role}.key` : `${role}.${generation}.key`;
    return join(this.gunDirectory(gun), SERVER_FILES_DIR, name);
  }

  async readOnlineKeys(gun: string, role: OnlineRole): Promise<OnlineKeyFile[]> {
    let names: string[];
    try {
      names = await readdir(join(this.gunDirectory(gun), SERVER_FILES_DIR));
    } catch (e) {
      if (['ENOENT', 'ENOTDIR'].includes(errorCode(e) ?? '')) return [];
      throw e;
    }
    const generations = names.flatMap((n) => {
      if (n === `${role}.key`) return [1];
      const m = new RegExp(`^${role}\\.([2-9]|[1-9][0-9]{1,8})\\.key$`).exec(n);
      return m ? [Number(m[1])] : [];
    });
    const out: OnlineKeyFile[] = [];
    for (const generation of generations.sort((a, b) => a - b)) {
      const path = this.keyPath(gun, role, generation);
      const st = await lstat(path).catch(() => undefined);
      if (!st?.isFile()) continue; // never a symbolic link
      out.push({ generation, bytes: new Uint8Array(await readFile(path)) });
    }
    return out;
  }

  /** One process per directory, and creation runs under the GUN's queue: no race to lose. */
  async createOnlineKeys(gun: string, files: Partial<Record<OnlineRole, Uint8Array>>): Promise<void> {
    await ensureDir(join(this.gunDirectory(gun), SERVER_FILES_DIR), 0o700);
    for (const [role, bytes] of Object.entries(files) as [OnlineRole, Uint8Array][]) {
      if ((await this.readOnlineKeys(gun, role)).length > 0) continue;
      await writeFileAtomic(this.keyPath(gun, role, 1), bytes, { mode: 0o600 });
    }
  }

  /** Callers hold the GUN's queue (withGun), so the next generation is not raced for. */
  async addOnlineKey(gun: string, role: OnlineRole, bytes: Uint8Array): Promise<number> {
    const have = await this.readOnlineKeys(gun, role);
    const generation = (have.at(-1)?.generation ?? 0) + 1;
    await ensureDir(join(this.gunDirectory(gun), SERVER_FILES_DIR), 0o700);
    await writeFileAtomic(this.keyPath(gun, role, generation), bytes, { mode: 0o600 });
    return generation;
  }

  async removeOnlineKey(gun: string, role: OnlineRole, generation: number): Promise<void> {
    await rm(this.keyPath(gun, role, generation), { force: true });
  }

  async asRefresher<T>(fn: () => Promise<T>): Promise<T> {
    return fn(); // the only process of this directory
  }

  storage(gun: string): RepositoryStorage {
    return new FsRepositoryStorage(this.gunDirectory(gun));
  }

  async withGun<T>(gun: string, fn: () => Promise<T>): Promise<T> {
    const before = this.queues.get(gun) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const tail = run.catch(() => {});
    this.queues.set(gun, tail);
    try {
      return await run;
    } finally {
      if (this.queues.get(gun) === tail) this.queues.delete(gun);
    }
  }

  async readMetadata(gun: string, file: string): Promise<MetadataFile | undefined> {
    if (file === '' || file.startsWith('.') || /[/\\\0]/.test(file)) return undefined;
    // No symbolic link anywhere below the store (DESIGN rule 14): each directory is checked, and
    // the file is opened without following one.
    let dir = this.dir;
    for (const segment of [...checkGun(gun).split('/'), 'metadata']) {
      dir = join(dir, segment);
      const st = await lstat(dir).catch((e) => {
        if (['ENOENT', 'ENOTDIR'].includes(errorCode(e) ?? '')) return undefined;
        throw e;
      });
      if (!st?.isDirectory()) return undefined;
    }
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(join(dir, file), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (e) {
      if (['ENOENT', 'ENOTDIR', 'ELOOP', 'ENXIO', 'ENAMETOOLONG'].includes(errorCode(e) ?? ''))
        return undefined;
      throw e;
    }
    try {
      // Of the open file: the identity and the bytes are of the same file.
      const st = await handle.stat({ bigint: true });
      if (!st.isFile()) return undefined;
      if (st.size > BigInt(MAX_METADATA_BYTES))
        throw new StorageError(`${file} of ${gun} is larger than ${MAX_METADATA_BYTES} bytes`);
      const bytes = new Uint8Array(await handle.readFile());
      if (!/^[1-9][0-9]*\./.test(file)) return { bytes, sha256: sha256Hex(bytes) };
      const key = `${gun}\0${file}`;
      const id = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
      const known = this.digests.get(key);
      if (known?.id === id) return { bytes, sha256: known.sha256 };
      const sha256 = sha256Hex(bytes);
      this.digests.delete(key);
      if (this.digests.size >= MAX_DIGESTS) this.digests.delete(this.digests.keys().next().value as string);
      this.digests.set(key, { id, sha256 });
      return { bytes, sha256 };
    } finally {
      await handle.close();
    }
  }

  async listGuns(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, prefix: string[]): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        if (!e.isDirectory() || e.name.startsWith('.')) continue;
        if (e.name === 'metadata') {
          if (prefix.length > 0) out.push(prefix.join('/'));
          continue;
        }
        if (e.name === 'targets') continue;
        await walk(join(dir, e.name), [...prefix, e.name]);
      }
    };
    await walk(this.dir, []);
    return out
      .filter((g) => {
        try {
          checkGun(g);
          return true;
        } catch {
          return false;
        }
      })
      .sort();
  }

  async recordChange(change: Omit<ChangeRecord, 'id'>): Promise<ChangeRecord> {
    // The id is taken before the first await: two GUNs' uploads finishing together get two ids.
    const record: ChangeRecord = { id: (this.log.at(-1)?.id ?? 0) + 1, ...change };
    this.log.push(record);
    await appendFile(join(this.dir, SERVER_DIR, CHANGES_FILE), `${JSON.stringify(record)}\n`, {
      mode: 0o644,
    });
    return record;
  }

  async changes(since: number, limit: number): Promise<ChangeRecord[]> {
    const out: ChangeRecord[] = [];
    for (const r of this.log) {
      if (r.id <= since) continue;
      out.push(r);
      if (out.length >= limit) break;
    }
    return out;
  }

  async close(): Promise<void> {
    await this.release();
  }
}
