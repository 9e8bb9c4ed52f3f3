/**
 * A minimal static file server for the interop tests: serves a directory over `node:http` on
 * 127.0.0.1, port 0, the way nginx or an object store would (GET of `/a/b%20c` reads `a/b c`).
 * Percent-decodes each path segment on its own and refuses anything that could leave the
 * directory. Records every request path, so tests can see exactly what a client asked for.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import * as http from 'node:http';
import { join, resolve, sep } from 'node:path';

export interface StaticServer {
  /** `http://127.0.0.1:PORT` (no trailing slash). */
  readonly base: string;
  /** Request paths as received (still percent-encoded), in order. */
  readonly requests: string[];
  close(): Promise<void>;
}

/** The file under `root` for a request path, or undefined when it is not a plain relative path. */
function localPath(root: string, urlPath: string): string | undefined {
  const raw = urlPath.split(/[?#]/, 1)[0] ?? '';
  if (!raw.startsWith('/')) return undefined;
  const segments: string[] = [];
  for (const enc of raw.slice(1).split('/')) {
    let seg: string;
    try {
      seg = decodeURIComponent(enc);
    } catch {
      return undefined;
    }
    if (seg === '' || seg === '.' || seg === '..' || /[/\\\0]/.test(seg)) return undefined;
    segments.push(seg);
  }
  const p = join(root, ...segments);
  return p.startsWith(root + sep) ? p : undefined;
}

export async function serveDirectory(dir: string): Promise<StaticServer> {
  const root = resolve(dir);
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const urlPath = req.url ?? '';
    requests.push(urlPath);
    const notFound = () => res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    const p = localPath(root, urlPath);
    if (p === undefined) {
      notFound();
      return;
    }
    stat(p).then(
      (st) => {
        if (!st.isFile()) {
          notFound();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': st.size });
        if (req.method === 'HEAD') {
          res.end();
          return;
        }
        createReadStream(p)
          .on('error', () => res.destroy())
          .pipe(res);
      },
      () => notFound(),
    );
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the server has no TCP address');
  return {
    base: `http://127.0.0.1:${address.port}`,
    requests,
    close: async () => {
      const closed = new Promise<void>((ok) => server.close(() => ok()));
      server.closeAllConnections(); // keep-alive sockets of fetch() would hold close() open
      await closed;
    },
  };
}
