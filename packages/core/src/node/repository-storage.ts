/**
 * A repository in a directory: `metadata/…` and `targets/…` under `dir`, as any static HTTP
 * server or object store can serve it. Writes are atomic; a lock file keeps two publishers
 * from interleaving.
 */
import { open, readFile, rm } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { ConflictError, UnsafeNameError } from '../errors.js';
import type { RepositoryStorage } from '../repository/storage.js';
import {
  commitTempFile,
  ensureDir,
  errorCode,
  openTempFile,
  storageError,
  writeAll,
  writeFileAtomic,
} from './atomic.js';

export const LOCK_FILE = '.tufa-publish.lock';

export class FsRepositoryStorage implements RepositoryStorage {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  /** The local path of a repository path; never outside `dir`. */
  private local(path: string): string {
    const segments = path.split('/');
    if (segments.some((s) => s === '' || s === '.' || s === '..' || s.includes('\\') || s.includes('\0'))) {
      throw new UnsafeNameError(
        `repository path ${JSON.stringify(path)} could escape the repository directory`,
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

  async write(path: string, bytes: Uint8Array): Promise<void> {
    const p = this.local(path);
    await ensureDir(dirname(p));
    await writeFileAtomic(p, bytes);
  }

  async writeStream(path: string, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const p = this.local(path);
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
  }

  async remove(path: string): Promise<void> {
    await rm(this.local(path), { force: true });
  }

  async lock(): Promise<() => Promise<void>> {
    await ensureDir(this.dir);
    const p = join(this.dir, LOCK_FILE);
    try {
      const h = await open(p, 'wx', 0o644);
      await h.writeFile(`${process.pid} ${new Date().toISOString()}\n`);
      await h.close();
    } catch (e) {
      if (errorCode(e) === 'EEXIST') {
        const holder = await readFile(p, 'utf8').catch(() => '?');
        throw new ConflictError(
          `another publish is in progress (lock ${p} held by ${holder.trim()}); if none is running, remove the lock file`,
        );
      }
      throw storageError('create the lock', p, e);
    }
    return async () => {
      await rm(p, { force: true });
    };
  }
}
