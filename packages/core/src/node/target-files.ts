/**
 * Targets on disk. `localTargetPath` maps a signed target path to a file under a directory and
 * refuses anything that could leave it or mean something else on some file system (DESIGN rule
 * 9). `downloadTarget` / `downloadTargetToFile` stream a target into a temporary file next to
 * its destination and rename it into place only after the Updater has checked length and
 * hashes: a partial or mismatching download never sits under the target's name (DESIGN rules
 * 10 and 11). Nothing is written through a symbolic link below the target directory (DESIGN
 * rule 14): a link planted there (`app -> /etc`) is refused, not followed.
 */
import { constants } from 'node:fs';
import { type FileHandle, lstat, open, rename, rm } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { TufError, UnsafeNameError } from '../errors.js';
import type { TargetFile } from '../metadata/files.js';
import { fsyncDir, openTempFile, storageError, writeAll } from './atomic.js';
import { checkDirChain, type DirChain, ensureDirBelow, refuseLinkAt } from './below.js';

/**
 * DOS device names, reserved in every directory and with any extension (`CON.txt`, `com1.tar.gz`).
 * Superscript 1–3 are written as escapes: the CLI bundle stays ASCII (scripts/bundle-cli.mjs).
 */
const WINDOWS_DEVICE =
  /^(con|prn|aux|nul|conin\$|conout\$|clock\$|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3])$/i;
/** Characters Windows forbids in file names. */
const WINDOWS_FORBIDDEN = /[<>:"|?*]/;

function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** Options of `localTargetPath`. */
export interface LocalTargetPathOptions {
  /** Apply the Windows-only checks too (reserved characters `<>:"|?*`). Default: on Windows. */
  windows?: boolean;
}

/**
 * The file under `targetDir` for a TUF target path (`/`-separated). Refuses with
 * UnsafeNameError: empty paths and segments, `.` and `..`, backslashes, NUL and other control
 * characters, absolute paths, drive letters (`C:`), DOS device names (`CON`, `nul.txt`, …) and
 * segments ending in `.` or space (Windows strips those, so `..` could come back). These are
 * refused on every platform, so a name that works on Linux also works on Windows.
 */
export function localTargetPath(
  targetDir: string,
  targetPath: string,
  options: LocalTargetPathOptions = {},
): string {
  const bad = (why: string) => new UnsafeNameError(`target path ${JSON.stringify(targetPath)} ${why}`);
  if (targetPath === '') throw bad('is empty');
  if (targetPath.includes('\0')) throw bad('contains a NUL character');
  if (targetPath.includes('\\')) throw bad('contains a backslash');
  if (targetPath.startsWith('/')) throw bad('is absolute');
  if (/^[A-Za-z]:/.test(targetPath)) throw bad('starts with a drive letter');
  const windows = options.windows ?? process.platform === 'win32';
  const segments = targetPath.split('/');
  for (const seg of segments) {
    if (seg === '') throw bad('has an empty segment');
    if (seg === '.' || seg === '..') throw bad('has a "." or ".." segment');
    if (hasControlCharacter(seg)) throw bad('contains a control character');
    if (/[. ]$/.test(seg)) throw bad('has a segment ending in "." or a space');
    const stem = (seg.split('.')[0] ?? '').trimEnd();
    if (WINDOWS_DEVICE.test(stem)) throw bad(`uses the reserved device name ${JSON.stringify(stem)}`);
    if (windows && WINDOWS_FORBIDDEN.test(seg))
      throw bad('contains a character Windows forbids in file names');
  }
  const root = resolve(targetDir);
  const full = resolve(root, ...segments);
  const rel = relative(root, full);
  if (rel === '' || rel.split(/[\\/]/)[0] === '..' || isAbsolute(rel)) {
    throw bad('escapes the target directory');
  }
  return full;
}

/** What `downloadTargetToFile` needs from an Updater. */
export interface TargetStreamer {
  /**
   * Spec 5.7: the target's bytes, verified by the end of the stream (see `Updater.streamTarget`).
   */
  streamTarget(
    target: TargetFile,
    options?: { onProgress?: (received: number) => void; signal?: AbortSignal },
  ): AsyncIterable<Uint8Array>;
}

/** Options of `downloadTargetToFile`. */
export interface DownloadTargetToFileOptions {
  /** Called with the number of bytes received so far. */
  onProgress?: (received: number) => void;
  /** Cancels the download (an AbortedError); nothing is left under the target's name. */
  signal?: AbortSignal;
  /** Permission bits of a newly written file, set exactly. Default: 0o666 narrowed by the umask. */
  mode?: number;
  /**
   * The directory `destPath` is under (the one it was derived in with `localTargetPath`): no
   * directory below it, and not the file itself, may be a symbolic link. Default: the
   * destination's own directory, so only the file itself is checked. `downloadTarget` sets it.
   */
  targetDir?: string;
}

/** Where a target was written, and whether the file already held it. */
export interface DownloadTargetToFileResult {
  /** The file the target is in. */
  path: string;
  /** True when `destPath` already held exactly this target and was left untouched. */
  cached: boolean;
}

/** Never through a link at the file itself (O_NOFOLLOW), never blocking on a FIFO planted there. */
const READ_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOFOLLOW ?? 0);

/**
 * Whether `path` is a regular file whose length and hashes match `target`. A missing or
 * unreadable file simply does not match.
 */
async function fileMatchesTarget(path: string, target: TargetFile): Promise<boolean> {
  try {
    const st = await lstat(path);
    if (!st.isFile() || st.size !== target.length) return false;
  } catch {
    return false;
  }
  const checker = target.checker(); // throws UnsupportedHashError, as streamTarget would
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, READ_FLAGS);
    const buf = new Uint8Array(65_536);
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      checker.update(buf.subarray(0, bytesRead));
    }
    checker.finish();
    return true;
  } catch (e) {
    if (e instanceof TufError && e.code !== 'LENGTH_OR_HASH') throw e;
    return false;
  } finally {
    await handle?.close().catch(() => {});
  }
}

/**
 * Downloads `target` to `destPath`, verified. When `destPath` already holds exactly the target
 * (same length and hashes), returns `cached: true` without writing or even touching it.
 * Otherwise streams `updater.streamTarget` into a temporary file in the destination's directory
 * (creating it if needed) and, only once the stream ended without error, fsyncs and renames it
 * over `destPath`. On any failure the temporary file is removed and the error rethrown: the
 * previous file at `destPath`, if any, stays as it was.
 *
 * Below `options.targetDir` (default: the destination's directory) every directory is created
 * or checked without following links, and a link at `destPath` itself is refused
 * (UnsafeNameError), so nothing is read or written outside that directory.
 */
export async function downloadTargetToFile(
  updater: TargetStreamer,
  target: TargetFile,
  destPath: string,
  options: DownloadTargetToFileOptions = {},
): Promise<DownloadTargetToFileResult> {
  const dest = resolve(destPath);
  const parent = dirname(dest);
  const root = resolve(options.targetDir ?? parent);
  const rel = relative(root, dest);
  if (rel === '' || isAbsolute(rel) || rel.split(sep)[0] === '..') {
    throw new UnsafeNameError(`${JSON.stringify(destPath)} is not below ${JSON.stringify(root)}`);
  }
  const chain = await ensureDirBelow(root, parent);
  await refuseLinkAt(root, dest);
  if (await fileMatchesTarget(dest, target)) return { path: destPath, cached: true };
  // 'wx' (O_CREAT | O_EXCL) never opens through a link, even a dangling one.
  const { handle, tempPath } = await openTempFile(dest, options.mode);
  try {
    for await (const chunk of updater.streamTarget(target, {
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    })) {
      try {
        await writeAll(handle, chunk);
      } catch (e) {
        throw storageError('write', tempPath, e);
      }
    }
  } catch (e) {
    await handle.close().catch(() => {});
    await rm(tempPath, { force: true }).catch(() => {});
    throw e;
  }
  await commitBelow(handle, tempPath, dest, chain);
  return { path: destPath, cached: false };
}

/**
 * fsync and close the temporary file, check the directories again (the race noted in
 * below.ts: a directory swapped for a link since it was checked, or the temporary file no
 * longer the one written), then rename it over `dest` and fsync the directory.
 */
async function commitBelow(
  handle: FileHandle,
  tempPath: string,
  dest: string,
  chain: DirChain,
): Promise<void> {
  try {
    let written: { dev: number; ino: number };
    try {
      await handle.sync();
      written = await handle.stat();
    } finally {
      await handle.close();
    }
    await checkDirChain(chain);
    await refuseLinkAt(chain.root, dest);
    const st = await lstat(tempPath);
    if (st.dev !== written.dev || st.ino !== written.ino) {
      throw new UnsafeNameError(`${JSON.stringify(tempPath)} was replaced while it was being written`);
    }
    await rename(tempPath, dest);
  } catch (e) {
    await rm(tempPath, { force: true }).catch(() => {});
    throw e instanceof TufError ? e : storageError('write', dest, e);
  }
  await fsyncDir(dirname(dest));
}

/** Options of `downloadTarget`. */
export interface DownloadTargetOptions
  extends Omit<DownloadTargetToFileOptions, 'targetDir'>,
    LocalTargetPathOptions {}

/**
 * Downloads `target` into `targetDir` under its own path (`localTargetPath`), verified, with
 * no symbolic link followed below `targetDir`. The safe way to write targets to a directory.
 */
export async function downloadTarget(
  updater: TargetStreamer,
  target: TargetFile,
  targetDir: string,
  options: DownloadTargetOptions = {},
): Promise<DownloadTargetToFileResult> {
  const dest = localTargetPath(targetDir, target.path, options);
  return downloadTargetToFile(updater, target, dest, { ...options, targetDir });
}
