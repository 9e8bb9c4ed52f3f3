/**
 * Where the server keeps its repositories. The HTTP layer and the upload logic see a
 * `ServerStore`; `DirectoryStore` is the embedded one: one directory holding every GUN at
 * `DIR/<gun>/metadata/…`, exactly the layout of a static publish root (ADR 0021), so any static
 * server can serve the same directory. One server process per directory: a second refuses to
 * start, since uploads of a GUN are serialised by a queue in the process.
 */
import { constants } from 'node:fs';
import { appendFile, lstat, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  ConflictError,
  Metadata,
  PublishLockedError,
  type RepositoryStorage,
  StorageError,
} from '@tufa/core';
import { ensureDir, FsRepositoryStorage, writeFileAtomic } from '@tufa/core/node';
import type { GzipForm } from './content-coding.js';
import { checkGun } from './gun.js';
import {
  asImmutable,
  MetadataCache,
  type MetadataFile,
  metadataFile,
  versionedName,
} from './metadata-cache.js';
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

export { type MetadataFile, sha256Hex } from './metadata-cache.js';

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
  /**
   * The gzip form of `served`, what `readMetadata(gun, file)` just answered: kept beside it in
   * memory when the store keeps that file (a committed version is compressed once), compressed
   * for this answer otherwise.
   */
  gzip(gun: string, file: string, served: MetadataFile): Promise<GzipForm>;
  /** Every GUN that has published metadata. */
  listGuns(): Promise<string[]>;
  /**
   * Appends to the change feed; returns the record with its id. `within`: the storage of the
   * GUN's publish whose lock is held (called from `Repository.publish`'s `beforeRelease`), so a
   * store that commits on release records the change in the same transaction as the files.
   */
  recordChange(change: Omit<ChangeRecord, 'id'>, within?: RepositoryStorage): Promise<ChangeRecord>;
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
/** GUNs whose committed versions are kept in memory (each a role → version map). */
const MAX_COMMITTED_GUNS = 10_000;
const TIMESTAMP_PATH = 'metadata/timestamp.json';
const LATEST_ROOT_PATH = 'metadata/root.json';

/** Whether root bytes say consistent snapshots; anything unreadable says no. */
function consistentSnapshots(rootBytes: Uint8Array): boolean {
  try {
    return Metadata.fromBytes(rootBytes, 'root').signed.consistentSnapshot;
  } catch {
    return false;
  }
}

/** Options of `DirectoryStore.open` and `PostgresStore.open`. */
export interface StoreCacheOptions {
  /**
   * Bytes of metadata files kept in memory to answer GETs (default 128 MiB; 0: none). See
   * `MetadataCache` for what may be kept.
   */
  metadataCacheBytes?: number;
}

/**
 * What a GUN's committed state references, as far as this process knows: every versioned file
 * at or below these versions was written before a `timestamp.json` that made it part of the
 * repository, and no writer replaces it after that (the next change is the next version).
 */
interface Committed {
  /** Role file stem → the version the committed snapshot lists ('snapshot': the timestamp's). */
  roles: Map<string, number>;
  /**
   * Roots below this version are committed: `root.json` is written before `timestamp.json`, so
   * its own version may be one a crash left unreferenced.
   */
  rootBelow: number;
  /** The newest root this process saw committed by its own publish (then `timestamp.json`). */
  rootCommitted: number;
  /**
   * Whether the current root says consistent snapshots. Without them every version of a role
   * is written to ROLE.json, and a name that looks versioned is not: a delegated role named
   * "2024.releases" (or "5.root") has the file 2024.releases.json, rewritten by each version.
   */
  consistent: boolean;
}

function covers(c: Committed, v: { version: number; role: string }): boolean {
  if (!c.consistent) return false;
  if (v.role === 'root') return v.version < c.rootBelow || v.version <= c.rootCommitted;
  return v.version <= (c.roles.get(v.role) ?? 0);
}

/** The identity of a file: replaced (a rename gives a new inode) or rewritten, it changes. */
function identityOf(st: {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/**
 * A GUN's repository storage as the server publishes through it (ADR 0027):
 *
 * - Versioned metadata files written under the publish lock are written concurrently: each
 *   `write` starts the core's atomic write (temporary file, fsync, rename, fsync of the
 *   directory) and returns; the next write that is not a versioned file (`root.json`, then
 *   `timestamp.json`) first waits until every one started before it is in place, and fails if
 *   one failed. So `timestamp.json` is still written only once everything it references is
 *   durable (DESIGN rule 10), and `root.json` only once the root it names is; what changes is
 *   that the fsyncs of the new files overlap instead of adding up.
 * - It tells the store which files a publish committed: those written under the lock before
 *   `timestamp.json`, once that write succeeded. A publish that fails before it leaves files no
 *   committed state references.
 */
export class PublishStorage implements RepositoryStorage {
  private written: { path: string; bytes: Uint8Array }[] | undefined;
  /** Versioned files being written, not yet waited for. */
  private inFlight: Promise<void>[] = [];

  constructor(
    private readonly inner: RepositoryStorage,
    private readonly onCommit: (files: readonly { path: string; bytes: Uint8Array }[]) => void,
  ) {}

  read(path: string): Promise<Uint8Array | undefined> {
    return this.inner.read(path);
  }

  async write(path: string, bytes: Uint8Array): Promise<void> {
    if (!this.written) return this.inner.write(path, bytes);
    const name = path.startsWith('metadata/') ? path.slice('metadata/'.length) : '';
    if (!name.includes('/') && versionedName(name)) {
      const w = this.inner.write(path, bytes);
      w.catch(() => {}); // its failure is reported by the barrier, not as an unhandled rejection
      this.inFlight.push(w);
      this.written.push({ path, bytes });
      return;
    }
    await this.barrier();
    await this.inner.write(path, bytes);
    if (path === TIMESTAMP_PATH) {
      const files = this.written;
      this.written = [];
      this.onCommit(files);
    } else this.written.push({ path, bytes });
  }

  /** Waits for every write in flight; throws the first failure. */
  private async barrier(): Promise<void> {
    const flights = this.inFlight;
    this.inFlight = [];
    const failed = (await Promise.allSettled(flights)).find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  writeStream(path: string, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    // Target files, never metadata: nothing the metadata cache holds.
    return this.inner.writeStream(path, chunks);
  }

  remove(path: string): Promise<void> {
    return this.inner.remove(path);
  }

  async lock(): Promise<() => Promise<void>> {
    const release = await this.inner.lock();
    this.written = [];
    return async () => {
      // No write of this publish goes on after its lock is released.
      try {
        await this.barrier();
      } finally {
        this.written = undefined;
        await release();
      }
    };
  }
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
   * Files answered from memory (ADR 0027): versioned files once committed, with no file-system
   * call; entry points (`timestamp.json`, `root.json`) with the identity of the file they were
   * read from, checked by one `stat` per GET, since another writer of the directory (a CLI
   * publish under the repository's lock) may replace them.
   */
  private readonly cache: MetadataCache;
  /** What each GUN's committed state references (see Committed), by GUN, oldest use first. */
  private readonly committed = new Map<string, Committed>();
  /**
   * Online key files by GUN and role, as last read: this process is the only writer of the
   * directory's key files (one server per directory, and no CLI writes them), and forgets a
   * GUN's entries whenever it adds or removes one. Saves a readdir and a read per key on every
   * upload.
   */
  private readonly keyFiles = new Map<string, OnlineKeyFile[]>();
  /** Counts changes of key files (see readOnlineKeys). */
  private keyChanges = 0;

  private constructor(dir: string, release: () => Promise<void>, log: ChangeRecord[], cacheBytes?: number) {
    this.dir = dir;
    this.release = release;
    this.log = log;
    this.cache = new MetadataCache(cacheBytes);
  }

  /**
   * Opens `dir` for this process, creating it if needed.
   * @throws {ConflictError} another server process serves the directory.
   */
  static async open(dir: string, options: StoreCacheOptions = {}): Promise<DirectoryStore> {
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
    return new DirectoryStore(abs, release, log, options.metadataCacheBytes);
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
    const key = `${gun}\0${role}`;
    const known = this.keyFiles.get(key);
    if (known) return [...known];
    const changes = this.keyChanges;
    const files = await this.readOnlineKeyFiles(gun, role);
    // A read that overlapped a change may have seen the files before it: not kept.
    if (changes === this.keyChanges) {
      if (this.keyFiles.size >= MAX_COMMITTED_GUNS) this.keyFiles.clear();
      this.keyFiles.set(key, files);
    }
    return [...files];
  }

  private forgetOnlineKeys(gun: string): void {
    this.keyChanges++;
    for (const role of ['snapshot', 'timestamp'] as const) this.keyFiles.delete(`${gun}\0${role}`);
  }

  private async readOnlineKeyFiles(gun: string, role: OnlineRole): Promise<OnlineKeyFile[]> {
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
    this.forgetOnlineKeys(gun);
    try {
      await this.createOnlineKeyFiles(gun, files);
    } finally {
      this.forgetOnlineKeys(gun);
    }
  }

  private async createOnlineKeyFiles(
    gun: string,
    files: Partial<Record<OnlineRole, Uint8Array>>,
  ): Promise<void> {
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
    try {
      await ensureDir(join(this.gunDirectory(gun), SERVER_FILES_DIR), 0o700);
      await writeFileAtomic(this.keyPath(gun, role, generation), bytes, { mode: 0o600 });
    } finally {
      this.forgetOnlineKeys(gun);
    }
    return generation;
  }

  async removeOnlineKey(gun: string, role: OnlineRole, generation: number): Promise<void> {
    try {
      await rm(this.keyPath(gun, role, generation), { force: true });
    } finally {
      this.forgetOnlineKeys(gun);
    }
  }

  async asRefresher<T>(fn: () => Promise<T>): Promise<T> {
    return fn(); // the only process of this directory
  }

  storage(gun: string): RepositoryStorage {
    return new PublishStorage(new FsRepositoryStorage(this.gunDirectory(gun)), (files) =>
      this.committedByPublish(gun, files),
    );
  }

  /** A publish of this process committed `files`: they are final, and served from memory. */
  private committedByPublish(gun: string, files: readonly { path: string; bytes: Uint8Array }[]): void {
    const c = this.committed.get(gun);
    // A new root of this publish decides whether names N.ROLE.json are versions from now on.
    const root = files.findLast((f) => f.path === LATEST_ROOT_PATH);
    if (c && root) c.consistent = consistentSnapshots(root.bytes);
    // Unknown (the GUN not read since this process started) is not "consistent": nothing kept.
    if (!c?.consistent) return;
    for (const { path, bytes } of files) {
      const file = path.startsWith('metadata/') ? path.slice('metadata/'.length) : undefined;
      const v = file === undefined || file.includes('/') ? undefined : versionedName(file);
      if (!v || file === undefined) continue;
      if (c) {
        if (v.role === 'root') c.rootCommitted = Math.max(c.rootCommitted, v.version);
        else c.roles.set(v.role, Math.max(c.roles.get(v.role) ?? 0, v.version));
      }
      this.cache.set(gun, file, metadataFile(bytes, true));
    }
  }

  /**
   * What the GUN's committed state references, read from the directory: `timestamp.json` (written
   * last, so what it names is committed), the snapshot it names, and `root.json`'s version.
   * Undefined when the GUN has no (readable) repository: then nothing of it is cached.
   */
  private async loadCommitted(gun: string): Promise<Committed | undefined> {
    try {
      const ts = await this.readFile(gun, 'timestamp.json');
      if (!ts) return undefined;
      const snapshotVersion = Metadata.fromBytes(ts.file.bytes, 'timestamp').signed.snapshotMeta.version;
      const roles = new Map<string, number>([['snapshot', snapshotVersion]]);
      const sn = await this.readFile(gun, `${snapshotVersion}.snapshot.json`);
      if (sn) {
        for (const [name, meta] of Metadata.fromBytes(sn.file.bytes, 'snapshot').signed.meta) {
          if (name.endsWith('.json')) roles.set(name.slice(0, -'.json'.length), meta.version);
        }
      }
      const root = await this.readFile(gun, 'root.json');
      const rootSigned = root ? Metadata.fromBytes(root.file.bytes, 'root').signed : undefined;
      const before = this.committed.get(gun);
      const c: Committed = {
        roles,
        rootBelow: rootSigned?.version ?? 0,
        rootCommitted: before?.rootCommitted ?? 0,
        consistent: rootSigned?.consistentSnapshot ?? false,
      };
      this.committed.delete(gun);
      if (this.committed.size >= MAX_COMMITTED_GUNS)
        this.committed.delete(this.committed.keys().next().value as string);
      this.committed.set(gun, c);
      return c;
    } catch {
      // A repository a client would refuse too: served from the directory, never from memory.
      return undefined;
    }
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
    const hit = this.cache.get(gun, file);
    const v = versionedName(file);
    if (v) {
      if (hit) return hit.file;
      // Known committed before the read: the bytes read are final.
      const known = this.committed.get(gun);
      const final = known !== undefined && covers(known, v);
      const found = await this.readFile(gun, file);
      if (!found) return undefined;
      if (final) {
        const committed = asImmutable(found.file);
        this.cache.set(gun, file, committed);
        return committed;
      }
      const c = await this.loadCommitted(gun);
      if (!c || !covers(c, v)) return found.file;
      // Committed now, but the bytes were read before that was known: they may be those of a
      // crashed upload, which the publish that committed this version replaced. Read again.
      const again = await this.readFile(gun, file);
      if (!again) return undefined;
      const committed = asImmutable(again.file);
      this.cache.set(gun, file, committed);
      return committed;
    }
    if (hit) {
      const st = await stat(join(this.metadataDir(gun), file), { bigint: true }).catch(() => undefined);
      // The same file as the one read with every check below: the same bytes.
      if (st && identityOf(st) === hit.identity) return hit.file;
    }
    const found = await this.readFile(gun, file);
    if (found) this.cache.set(gun, file, found.file, found.identity);
    else this.cache.delete(gun, file);
    return found?.file;
  }

  gzip(gun: string, file: string, served: MetadataFile): Promise<GzipForm> {
    return this.cache.gzip(gun, file, served);
  }

  private metadataDir(gun: string): string {
    return join(this.gunDirectory(gun), 'metadata');
  }

  /**
   * A file under the GUN's `metadata/`, read without following a symbolic link anywhere below
   * the store (DESIGN rule 14), with the identity of the file read.
   */
  private async readFile(
    gun: string,
    file: string,
  ): Promise<{ file: MetadataFile; identity: string } | undefined> {
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
      return { file: metadataFile(bytes), identity: identityOf(st) };
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

  async recordChange(change: Omit<ChangeRecord, 'id'>, _within?: RepositoryStorage): Promise<ChangeRecord> {
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
