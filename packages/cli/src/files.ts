/**
 * File-system failures as the user should see them. A missing file is "not found" (exit 5); a
 * file that exists but cannot be read — permission denied, a directory where a file was
 * expected — is an I/O problem (exit 7) naming the path. Swallowing the second kind as the first
 * sent people to `tufa init` when their $TUFA_HOME was merely unreadable.
 */

import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { CliError } from './cli-error.js';
import { EXIT } from './exit-codes.js';

/** A Node.js system error: an errno `code` such as `EACCES`, and usually the path involved. */
export interface SystemError extends Error {
  code: string;
  path?: string;
  syscall?: string;
}

export function isSystemError(e: unknown): e is SystemError {
  return (
    e instanceof Error &&
    typeof (e as { code?: unknown }).code === 'string' &&
    /^E[A-Z0-9]+$/.test((e as unknown as { code: string }).code) &&
    (typeof (e as { syscall?: unknown }).syscall === 'string' ||
      typeof (e as { errno?: unknown }).errno === 'number')
  );
}

const PROBLEM: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory, expected a file',
  ENOTDIR: 'a part of the path is not a directory',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EMFILE: 'too many open files',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'name too long',
  EEXIST: 'already exists',
};

/**
 * The CliError for a system error met while `doing` something (e.g. "read the key"): exit 5 for
 * a missing file, exit 7 for anything else, the path always named.
 */
export function fileProblem(e: SystemError, path = e.path, doing = 'use'): CliError {
  const what = PROBLEM[e.code] ?? e.code;
  const where = path === undefined ? '' : ` ${path}`;
  if (e.code === 'ENOENT') return new CliError(`cannot ${doing}${where}: ${what}`, EXIT.NOT_FOUND);
  const hint =
    e.code === 'EACCES' || e.code === 'EPERM'
      ? 'check the owner and permissions of the path (ls -ld), and that tufa runs as the user who owns it'
      : undefined;
  return new CliError(`cannot ${doing}${where}: ${what} (${e.code})`, EXIT.IO, hint);
}

/** `e` as a CliError when it is a system error; anything else is rethrown as it is. */
export function asFileProblem(e: unknown, path: string, doing: string): never {
  if (isSystemError(e)) throw fileProblem(e, path, doing);
  throw e;
}

/** Reads `path`; a missing or unreadable file is a CliError naming it (see fileProblem). */
export async function readOrExplain(path: string, doing: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    return asFileProblem(e, path, doing);
  }
}

/**
 * Whether `path` exists. Unlike `existsSync`, which answers false when a directory on the way
 * cannot be searched, a permission problem is an error naming the path, never "not there".
 */
export function exists(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch (e) {
    return asFileProblem(e, path, 'look at');
  }
}
