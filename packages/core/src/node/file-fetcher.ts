/**
 * A `Fetcher` for a repository on the local file system (or a mounted share): `file://` URLs,
 * or plain absolute paths as the base URL. The Updater appends percent-encoded names, so the
 * path is decoded per RFC 8089 (`fileURLToPath`); a dot segment, raw or encoded (`..`,
 * `%2e%2e`), an encoded `/`, or a NUL is refused before it could leave the directory.
 */
import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Fetcher, FetchRequest } from '../client/fetcher.js';
import { DownloadLimitError, FetchError, NotFoundError, UnsafeNameError, UsageError } from '../errors.js';
import { errorCode } from './atomic.js';

/** Options of `FileFetcher`. */
export interface FileFetcherOptions {
  /** Bytes per chunk read. Default 64 KiB. */
  chunkSize?: number;
}

/** `.` and `..`, also when percent-encoded (the WHATWG URL parser would resolve them silently). */
const DOT_SEGMENT = /^(\.|%2e){1,2}$/i;
/** Opening a FIFO without O_NONBLOCK would block a libuv thread until a writer appears. */
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/**
 * The local path a `file:` URL (or a plain absolute path, read as a file URL's path) names.
 * Throws UnsafeNameError for dot segments, encoded separators and NUL; UsageError for anything
 * that is not a local file URL.
 * @throws {@link errors!UnsafeNameError | UnsafeNameError} a dot segment, an encoded separator or a
 *   NUL.
 * @throws {@link errors!UsageError | UsageError} not a local file URL.
 */
export function fileUrlToLocalPath(url: string): string {
  let fileUrl: string;
  if (/^file:/i.test(url)) {
    fileUrl = url;
  } else if (url.startsWith('/') && !url.startsWith('//')) {
    // A plain POSIX path; `?` and `#` in it are file name characters, not query and fragment.
    fileUrl = `file://${url.replace(/[?#]/g, (c) => (c === '?' ? '%3F' : '%23'))}`;
  } else if (/^[A-Za-z]:[\\/]/.test(url)) {
    fileUrl = `file:///${url.replace(/\\/g, '/').replace(/[?#]/g, (c) => (c === '?' ? '%3F' : '%23'))}`;
  } else {
    throw new UsageError(`expected a file: URL or an absolute path, found ${JSON.stringify(url)}`);
  }
  const unsafe = (why: string) => new UnsafeNameError(`${JSON.stringify(url)}: ${why}`);
  // Check the path as written, before any parser resolves dot segments away.
  const afterScheme = fileUrl.slice('file:'.length).split(/[?#]/, 1)[0] ?? '';
  const rawPath = afterScheme.startsWith('//') ? afterScheme.slice(2).replace(/^[^/\\]*/, '') : afterScheme;
  for (const seg of rawPath.split(/[/\\]/)) {
    if (DOT_SEGMENT.test(seg)) throw unsafe('a "." or ".." path segment is not allowed');
  }
  let path: string;
  try {
    path = fileURLToPath(fileUrl);
  } catch (e) {
    const code = errorCode(e);
    if (code === 'ERR_INVALID_FILE_URL_PATH') throw unsafe('an encoded path separator is not allowed');
    throw new UsageError(`not a local file URL: ${JSON.stringify(url)}`);
  }
  if (path.includes('\0')) throw unsafe('a NUL character is not allowed');
  if (path.split(/[/\\]/).some((s) => s === '..' || s === '.'))
    throw unsafe('a "." or ".." path segment is not allowed');
  return path;
}

/**
 * A `Fetcher` for `file:` URLs: a repository on a local or mounted file system, read in chunks so
 * the core's byte limit applies as to a download. Refuses `.` and `..` segments, encoded or not.
 */
export class FileFetcher implements Fetcher {
  private readonly chunkSize: number;

  /** @throws {@link errors!UsageError | UsageError} `chunkSize` is not a positive integer. */
  constructor(options: FileFetcherOptions = {}) {
    const size = options.chunkSize ?? 65_536;
    if (!Number.isSafeInteger(size) || size < 1)
      throw new UsageError(`chunkSize must be a positive integer, found ${size}`);
    this.chunkSize = size;
  }

  async *fetch(url: string, request: FetchRequest): AsyncGenerator<Uint8Array> {
    const { signal, maxLength } = request;
    const path = fileUrlToLocalPath(url);
    let handle: FileHandle;
    try {
      handle = await open(path, OPEN_FLAGS);
    } catch (e) {
      const code = errorCode(e);
      if (code === 'ENOENT' || code === 'ENOTDIR')
        throw new NotFoundError(`${url}: no such file`, { status: 404, cause: e });
      throw new FetchError(`${url}: cannot open ${JSON.stringify(path)} (${code ?? String(e)})`, undefined, {
        cause: e,
      });
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw new FetchError(`${url}: ${JSON.stringify(path)} is not a regular file`);
      if (st.size > maxLength) {
        throw new DownloadLimitError(`${url}: expected at most ${maxLength} bytes, the file has ${st.size}`);
      }
      let total = 0;
      for (;;) {
        if (signal.aborted) throw new FetchError(`${url}: aborted`);
        // One byte past the limit is enough to know the file grew beyond it.
        const want = Math.min(this.chunkSize, maxLength + 1 - total);
        const buf = new Uint8Array(want);
        let bytesRead: number;
        try {
          ({ bytesRead } = await handle.read(buf, 0, want, null));
        } catch (e) {
          throw new FetchError(
            `${url}: cannot read ${JSON.stringify(path)} (${errorCode(e) ?? String(e)})`,
            undefined,
            {
              cause: e,
            },
          );
        }
        if (bytesRead === 0) return;
        total += bytesRead;
        if (total > maxLength)
          throw new DownloadLimitError(`${url}: expected at most ${maxLength} bytes, found more`);
        yield buf.subarray(0, bytesRead);
      }
    } finally {
      await handle.close().catch(() => {});
    }
  }
}

/**
 * A `file:` base URL (ending in `/`) for a local directory, for the Updater's
 * `metadataBaseUrl` / `targetBaseUrl`: `%`, `?`, `#` and the like in the directory name are
 * percent-encoded, so they survive the decoding of `fileUrlToLocalPath`.
 */
export function fileBaseUrl(dir: string): string {
  const href = pathToFileURL(resolve(dir)).href;
  return href.endsWith('/') ? href : `${href}/`;
}
