/**
 * The read-only static server of `tufa serve DIR` and `tufa server --read-only DIR`, for
 * published repositories (local use, demos, CI). GET and HEAD only. What it serves is a regular file whose real path (symlinks
 * resolved) is inside DIR, reached without a path segment starting with `.`: the lock and the
 * temporary files of a publish (`.tufa-publish.lock`, `.tufa-tmp-…`) are never served. A file
 * that cannot be read gets 500, and the server goes on serving (DESIGN rule 14).
 */
import { constants } from 'node:fs';
import { type FileHandle, open, realpath, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { resolve, sep } from 'node:path';
import { CliError } from './cli-error.js';
import type { Context } from './context.js';
import { EXIT } from './exit-codes.js';
import { onInterrupt } from './signals.js';

/** Read before the status line is sent, so a file that cannot be read gets a 500. */
const FIRST_CHUNK = 64 * 1024;

/** Open errors that mean "no file to serve here". */
const NOT_THERE = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG', 'ENXIO']);

function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The local path a request names, or the status that refuses it. */
function localPath(root: string, url: string | undefined): string | 400 | 404 {
  let segments: string[];
  try {
    segments = ((url ?? '/').split('?')[0] as string).split('/').map((p) => decodeURIComponent(p));
  } catch {
    return 400;
  }
  if (segments.some((p) => p === '..' || p.includes('/') || p.includes('\\') || p.includes('\0'))) return 400;
  // Dot files are never part of a repository: the publish lock, temporary files, `.git`, and `.`.
  if (segments.some((p) => p.startsWith('.'))) return 404;
  const path = resolve(root, `.${segments.join('/')}`);
  if (!path.startsWith(root + sep)) return 400;
  return path;
}

/** Sends the file at `path` if it is a regular file inside `realRoot` once symlinks are resolved. */
async function sendFile(
  path: string,
  realRoot: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  let handle: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO does not wait for a writer.
    handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    if (NOT_THERE.has(errorCode(e) ?? '')) {
      res.writeHead(404).end();
      return;
    }
    throw e;
  }
  let streaming = false;
  try {
    const st = await handle.stat();
    if (!st.isFile()) {
      res.writeHead(404).end();
      return;
    }
    // A symlink may lead to a file inside the served directory, never outside it; and the file
    // opened must be the one that real path names (not swapped since).
    const real = await realpath(path);
    const named = await stat(real);
    if (!real.startsWith(realRoot + sep) || named.ino !== st.ino || named.dev !== st.dev) {
      res.writeHead(404).end();
      return;
    }
    const probe = new Uint8Array(Math.min(Math.max(st.size, 1), FIRST_CHUNK));
    const { bytesRead } = await handle.read(probe, 0, probe.length, 0);
    const first = probe.subarray(0, Math.min(bytesRead, st.size));
    res.writeHead(200, {
      'Content-Length': st.size,
      'Content-Type': path.endsWith('.json') ? 'application/json' : 'application/octet-stream',
      'Cache-Control': path.endsWith(`${sep}timestamp.json`) ? 'no-cache' : 'max-age=300',
    });
    if (req.method === 'HEAD' || st.size === 0) {
      res.end();
      return;
    }
    if (first.length === st.size) {
      res.end(first);
      return;
    }
    res.write(first);
    let sent = first.length;
    const rest = handle.createReadStream({ start: first.length, end: st.size - 1, autoClose: true });
    streaming = true; // the stream closes the file from here on
    // A client that goes away must not leave the file open.
    res.on('close', () => rest.destroy());
    rest.on('data', (chunk) => {
      sent += chunk.length;
    });
    // After the status line, a read error (or a file that shrank) can only cut the response
    // short: the client sees fewer bytes than Content-Length.
    rest.on('error', () => res.destroy());
    rest.on('end', () => {
      if (sent === st.size) res.end();
      else res.destroy();
    });
    rest.pipe(res, { end: false });
  } finally {
    if (!streaming) await handle.close().catch(() => {});
  }
}

/**
 * Serves `dir` read-only until SIGINT or SIGTERM (`tufa serve DIR`, `tufa server --read-only
 * DIR`): prints `serving DIR at URL` (with --json, `{serving, url}`).
 */
export async function serveReadOnly(
  ctx: Context,
  dir: string,
  host: string,
  port: number,
  tls?: { cert: string; key: string },
): Promise<number> {
  const root = resolve(dir);
  const s = await stat(root).catch(() => undefined);
  if (!s?.isDirectory()) throw new CliError(`${root} is not a directory`, EXIT.NOT_FOUND);
  const realRoot = await realpath(root);
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    const path = localPath(root, req.url);
    if (typeof path === 'number') {
      res.writeHead(path).end();
      return;
    }
    sendFile(path, realRoot, req, res).catch(() => {
      if (res.headersSent) res.destroy();
      else res.writeHead(500).end();
    });
  };
  // A pair that does not belong together is a UsageError (exit 2) before anything listens.
  const server = tls ? (await import('@tufa/server')).tlsServer(tls, handler) : createServer(handler);
  await new Promise<void>((ok, fail) => {
    server.once('error', (e) =>
      fail(new CliError(`cannot listen on ${host}:${port} (${(e as Error).message})`, EXIT.IO)),
    );
    server.listen(port, host, ok);
  });
  const addr = server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  const shown = host.includes(':') ? `[${host}]` : host;
  const url = `${tls ? 'https' : 'http'}://${shown}:${bound}/`;
  ctx.out.result({ serving: root, url }, () => `serving ${root} at ${url} (read-only; Ctrl-C to stop)`);
  await new Promise<void>((done) => {
    onInterrupt(() => server.close(() => done()));
  });
  return EXIT.OK;
}
