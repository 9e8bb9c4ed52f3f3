/**
 * A repository in a directory: `metadata/…` and `targets/…` under `dir`, as any static HTTP
 * server or object store can serve it. Writes are atomic; a lock file keeps two publishers
 * from interleaving (./publish-lock.ts), and a signal handler can stop a publish between two
 * writes (./interrupt.ts).
 *
 * Every file tufa keeps beside the repository starts with `.tufa-` (the lock, claims on a stale
 * lock, temporary files of atomic writes): dot files are never part of a repository, and
 * `tufa serve` never serves them.
 */
import { readFile, rm } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { UnsafeNameError } from '../errors.js';
import type { RepositoryStorage } from '../repository/storage.js';
import { commitTempFile, ensureDir, errorCode, openTempFile, storageError, writeAll } from './atomic.js';
import { dropLock, holdLock, uninterrupted } from './interrupt.js';
import {
  acquirePublishLock,
  breakPublishLock,
  inspectPublishLock,
  LOCK_FILE,
  ProcessProbe,
  type PublishLockInfo,
  removeStrayTempFiles,
} from './publish-lock.js';
import { testKillPoint } from './test-kill-point.js';

export { LOCK_FILE };

/** The prefix of every file tufa keeps beside a repository; no repository file may use it. */
const RESERVED_PREFIX = '.tufa-';

/** Options of `FsRepositoryStorage`. */
export interface FsRepositoryStorageOptions {
  /**
   * Told when `lock()` takes over the lock of a publisher that is gone (same host and boot, pid
   * gone or reused), to name the old holder to the user.
   */
  onLockTakeover?: (previous: PublishLockInfo) => void;
  /** Where procfs is mounted (default `/proc`); tests point it at a directory without one. */
  procRoot?: string;
}

/**
 * A `RepositoryStorage` on disk: atomic writes (temp file, fsync, rename, fsync the directory), no
 * symbolic link followed under the repository directory, and a publish lock file that a publisher
 * which is gone can be taken over from.
 */
export class FsRepositoryStorage implements RepositoryStorage {
  /** The repository directory, absolute. */
  readonly dir: string;
  /**
   * Each write is its own temporary file, fsync and rename: writes of different paths are
   * independent, and overlapping them hides the fsyncs of a publish of many hash bins.
   */
  readonly parallelWrites = 8;
  private readonly probe: ProcessProbe;
  private readonly onLockTakeover: ((previous: PublishLockInfo) => void) | undefined;

  constructor(dir: string, options: FsRepositoryStorageOptions = {}) {
    this.dir = resolve(dir);
    this.probe = new ProcessProbe(options.procRoot);
    this.onLockTakeover = options.onLockTakeover;
  }

  /** The local path of a repository path; never outside `dir`, never one of tufa's own files. */
  private local(path: string): string {
    const segments = path.split('/');
    if (segments.some((s) => s === '' || s === '.' || s === '..' || s.includes('\\') || s.includes('\0'))) {
      throw new UnsafeNameError(
        `repository path ${JSON.stringify(path)} could escape the repository directory`,
      );
    }
    if (segments.some((s) => s.startsWith(RESERVED_PREFIX))) {
      throw new UnsafeNameError(
        `repository path ${JSON.stringify(path)} uses the prefix ${RESERVED_PREFIX} of tufa's lock and temporary files`,
      );
    }
    const p = join(this.dir, ...segments);
    if (!p.startsWith(this.dir + sep))
      throw new UnsafeNameError(`repository path ${JSON.stringify(path)} escapes ${this.dir}`);
    return p;
  }

  async read(path: string): Promise<Uint8Array | undefined> {
    const p = this.local(path);
    try {
      return new Uint8Array(await readFile(p));
    } catch (e) {
      if (errorCode(e) === 'ENOENT') return undefined;
      throw storageError('read', p, e);
    }
  }

  /**
   * Atomically creates or replaces a file. Once the process is being interrupted
   * (`interruptPublishing`) no write starts, and the interruption waits for this one to finish.
   */
  async write(path: string, bytes: Uint8Array): Promise<void> {
    const p = this.local(path);
    await testKillPoint('write-begin');
    await uninterrupted(`write ${path}`, async () => {
      await ensureDir(dirname(p));
      const { handle, tempPath } = await openTempFile(p, 0o644);
      try {
        await writeAll(handle, bytes);
        await testKillPoint('write-temp');
      } catch (e) {
        await handle.close().catch(() => {});
        await rm(tempPath, { force: true }).catch(() => {});
        throw storageError('write', p, e);
      }
      await commitTempFile(handle, tempPath, p);
    });
    await testKillPoint('write-done');
  }

  async writeStream(path: string, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const p = this.local(path);
    await uninterrupted(`write ${path}`, async () => {
      await ensureDir(dirname(p));
      const { handle, tempPath } = await openTempFile(p, 0o644);
      try {
        for await (const c of chunks) await writeAll(handle, c);
      } catch (e) {
        await handle.close().catch(() => {});
        await rm(tempPath, { force: true }).catch(() => {});
        throw e;
      }
      await commitTempFile(handle, tempPath, p);
    });
  }

  async remove(path: string): Promise<void> {
    const p = this.local(path);
    await uninterrupted(`remove ${path}`, () => rm(p, { force: true }));
  }

  /**
   * Takes the publish lock (`.tufa-publish.lock`), taking over the lock of a publisher that is
   * gone (see ./publish-lock.ts); removes the temporary files interrupted writes left. Throws
   * PublishLockedError while another publisher runs, or when a lock's holder cannot be checked
   * from here (another host or boot): `breakLock` then removes it, on a person's word.
   */
  async lock(): Promise<() => Promise<void>> {
    await testKillPoint('lock-begin');
    const release = await uninterrupted('take the publish lock', async () => {
      await ensureDir(this.dir);
      const r = await acquirePublishLock(this.dir, { probe: this.probe, onTakeover: this.onLockTakeover });
      holdLock(r);
      await removeStrayTempFiles(this.dir);
      return r;
    });
    await testKillPoint('lock-acquired');
    return async () => {
      await testKillPoint('lock-release');
      try {
        await release();
      } finally {
        dropLock(release);
      }
    };
  }

  /** The publish lock and the state of its holder, or undefined when the repository is not locked. */
  async inspectLock(): Promise<PublishLockInfo | undefined> {
    return inspectPublishLock(join(this.dir, LOCK_FILE), this.probe);
  }

  /**
   * Removes the lock `info` describes (from `inspectLock`), and no other: refuses while its
   * holder runs on this host, or when the lock changed since. For a person who checked that the
   * publish it names is over, e.g. on another host.
   */
  async breakLock(info: PublishLockInfo): Promise<void> {
    await breakPublishLock(this.dir, info, this.probe);
  }
}
