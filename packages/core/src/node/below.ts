/**
 * Paths below a directory we write into, with no symbolic link on the way (DESIGN rule 14).
 * Checking a name for `..` is not enough: a link planted inside the directory (`targets/app ->
 * /etc`) sends a write for `targets/app/x` outside it. Each component below the root is
 * `lstat`ed, never followed; missing directories are created one at a time with a plain `mkdir`,
 * which fails on an existing name (a link included) instead of following it.
 *
 * What is checked can change before it is used (a time-of-check to time-of-use race): Node has
 * no `openat`/`renameat` to pin a directory by handle. `DirChain` keeps the device and inode of
 * every directory checked, so a caller can check again right before its final step (a rename)
 * and see a directory swapped for a link meanwhile; that narrows the window to the rename itself.
 */
import type { Stats } from 'node:fs';
import { lstat, mkdir } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { UnsafeNameError } from '../errors.js';
import { errorCode, storageError } from './atomic.js';

/** The directories from the root down to a directory, each with its identity when checked. */
export interface DirChain {
  root: string;
  dirs: { path: string; dev: number; ino: number }[];
}

function throughLink(root: string, link: string): UnsafeNameError {
  return new UnsafeNameError(
    `refusing to write through the symbolic link ${JSON.stringify(link)} below ${JSON.stringify(root)} (expected a real directory or file)`,
  );
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return undefined;
    throw storageError('inspect', path, e);
  }
}

/** The path segments of `dir` below `root`; UnsafeNameError if it is not below it. */
function segmentsBelow(root: string, dir: string): string[] {
  const rel = relative(root, dir);
  if (rel === '') return [];
  if (isAbsolute(rel) || rel.split(sep)[0] === '..') {
    throw new UnsafeNameError(`${JSON.stringify(dir)} is outside ${JSON.stringify(root)}`);
  }
  return rel.split(sep);
}

/**
 * Makes `dir` exist as a real directory below `root` (created if missing, with no link at any
 * component below `root`; `root` itself is the caller's choice and may be a link). Throws
 * UnsafeNameError for a link, StorageError for a non-directory in the way.
 */
export async function ensureDirBelow(root: string, dir: string): Promise<DirChain> {
  root = resolve(root);
  const segments = segmentsBelow(root, resolve(dir));
  try {
    await mkdir(root, { recursive: true }); // 0o777 narrowed by the umask, as any new directory
  } catch (e) {
    throw storageError('create directory', root, e);
  }
  const chain: DirChain = { root, dirs: [] };
  let path = root;
  for (const segment of segments) {
    path = join(path, segment);
    let st = await lstatOrUndefined(path);
    if (st === undefined) {
      try {
        await mkdir(path); // never follows a link: an existing name of any kind is EEXIST
      } catch (e) {
        if (errorCode(e) !== 'EEXIST') throw storageError('create directory', path, e);
      }
      st = await lstatOrUndefined(path);
    }
    if (st?.isSymbolicLink()) throw throughLink(root, path);
    if (!st?.isDirectory()) {
      throw storageError('create directory', path, Object.assign(new Error(), { code: 'ENOTDIR' }));
    }
    chain.dirs.push({ path, dev: st.dev, ino: st.ino });
  }
  return chain;
}

/** Checks again that every directory of `chain` is the one checked before (not a link now). */
export async function checkDirChain(chain: DirChain): Promise<void> {
  for (const d of chain.dirs) {
    const st = await lstatOrUndefined(d.path);
    if (st?.isSymbolicLink()) throw throughLink(chain.root, d.path);
    if (!st?.isDirectory() || st.dev !== d.dev || st.ino !== d.ino) {
      throw new UnsafeNameError(
        `${JSON.stringify(d.path)} below ${JSON.stringify(chain.root)} was replaced while it was being written into`,
      );
    }
  }
}

/** Refuses a symbolic link at `path` (a missing file is fine); returns what is there. */
export async function refuseLinkAt(root: string, path: string): Promise<Stats | undefined> {
  const st = await lstatOrUndefined(path);
  if (st?.isSymbolicLink()) throw throughLink(resolve(root), path);
  return st;
}
