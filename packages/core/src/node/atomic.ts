/**
 * Atomic file writes (DESIGN rule 10): a temporary file in the same directory, fsync, rename
 * over the target, fsync the directory. A reader sees the old bytes or the new bytes, never a
 * mix, and a crash leaves at worst a stray temporary file, never a truncated target.
 */
import { randomBytes } from 'node:crypto';
import { chmod, type FileHandle, mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { StorageError } from '../errors.js';

/** Prefix of every temporary file tufa creates. It never ends in `.json`, so a half-written file is never mistaken for metadata. */
export const TEMP_PREFIX = '.tufa-tmp-';

/** Options of `writeFileAtomic`. */
export interface WriteFileAtomicOptions {
  /** Permission bits of the new file, set exactly (not narrowed by the umask). Default 0o644. */
  mode?: number;
}

/** The error code of a Node system error, if any. */
export function errorCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e) {
    const code = (e as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** A StorageError for a failed file operation, naming the path and the system error code (never file content). */
export function storageError(what: string, path: string, e: unknown): StorageError {
  const code = errorCode(e);
  const detail = code ?? (e instanceof Error ? e.message : String(e));
  return new StorageError(`cannot ${what} ${JSON.stringify(path)} (${detail})`, { cause: e });
}

/** A fresh temporary file name in `dir` (128 random bits). */
export function tempPathIn(dir: string): string {
  return join(dir, `${TEMP_PREFIX}${randomBytes(16).toString('hex')}`);
}

/**
 * Creates `path` and its missing parents. Directories created here get exactly `mode`; an
 * existing directory keeps its permissions.
 */
export async function ensureDir(path: string, mode = 0o755): Promise<void> {
  path = resolve(path);
  let first: string | undefined;
  try {
    first = await mkdir(path, { recursive: true, mode });
  } catch (e) {
    throw storageError('create directory', path, e);
  }
  if (first === undefined) return;
  first = resolve(first);
  // mkdir's mode is narrowed by the umask; set it exactly on what we created.
  try {
    let p = path;
    for (;;) {
      await chmod(p, mode);
      if (p === first) break;
      const parent = dirname(p);
      if (parent === p) break;
      p = parent;
    }
  } catch (e) {
    if (process.platform !== 'win32') throw storageError('set the mode of', path, e);
  }
}

/** Writes all of `bytes` to an open file. */
export async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, off, bytes.length - off);
    off += bytesWritten;
  }
}

/**
 * Flushes a directory entry to disk after a rename. Best effort: Windows cannot open a
 * directory, and some file systems refuse fsync on one; the rename itself is still atomic.
 */
export async function fsyncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (e) {
    const code = errorCode(e);
    if (
      code !== 'EINVAL' &&
      code !== 'ENOTSUP' &&
      code !== 'EISDIR' &&
      code !== 'EPERM' &&
      code !== 'EACCES'
    ) {
      throw storageError('flush directory', dir, e);
    }
  } finally {
    await handle?.close().catch(() => {});
  }
}

/**
 * Moves a finished temporary file into place: fsync and close it, rename over `path`, fsync
 * the directory. On failure the temporary file is removed.
 */
export async function commitTempFile(handle: FileHandle, tempPath: string, path: string): Promise<void> {
  try {
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tempPath, path);
  } catch (e) {
    await rm(tempPath, { force: true }).catch(() => {});
    throw storageError('write', path, e);
  }
  await fsyncDir(dirname(path));
}

/**
 * Opens a new temporary file next to `path`: with exactly `mode` when given, else with 0o666
 * narrowed by the umask (as any new file).
 */
export async function openTempFile(
  path: string,
  mode: number | undefined,
): Promise<{ handle: FileHandle; tempPath: string }> {
  const tempPath = tempPathIn(dirname(path));
  let handle: FileHandle;
  try {
    handle = await open(tempPath, 'wx', mode ?? 0o666);
  } catch (e) {
    throw storageError('create a temporary file for', path, e);
  }
  try {
    if (mode !== undefined && process.platform !== 'win32') await handle.chmod(mode);
  } catch (e) {
    await handle.close().catch(() => {});
    await rm(tempPath, { force: true }).catch(() => {});
    throw storageError('set the mode of a temporary file for', path, e);
  }
  return { handle, tempPath };
}

/**
 * Atomically replaces `path` with `bytes`: temp file in the same directory (named
 * `.tufa-tmp-…`, never `*.json`), fsync, rename, fsync the directory. On any failure the
 * temporary file is removed and a StorageError thrown; `path` keeps its old content.
 */
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  if (basename(path).startsWith(TEMP_PREFIX)) {
    throw new StorageError(`refusing to write to a temporary file name: ${JSON.stringify(path)}`);
  }
  const { handle, tempPath } = await openTempFile(path, options.mode ?? 0o644);
  try {
    await writeAll(handle, bytes);
  } catch (e) {
    await handle.close().catch(() => {});
    await rm(tempPath, { force: true }).catch(() => {});
    throw storageError('write', path, e);
  }
  await commitTempFile(handle, tempPath, path);
}
