/**
 * `tufa serve DIR`: a small read-only static server for published repositories (local use,
 * demos, CI). GET and HEAD only; paths are resolved inside DIR and nothing else is served.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { resolve, sep } from 'node:path';
import { CliError } from '../cli-error.js';
import { EXIT } from '../exit-codes.js';
import type { Context } from '../main.js';
import { onInterrupt } from '../signals.js';

export async function serve(
  ctx: Context,
  dir: string,
  opts: { host: string; port: number },
): Promise<number> {
  const root = resolve(dir);
  const s = await stat(root).catch(() => undefined);
  if (!s?.isDirectory()) throw new CliError(`${root} is not a directory`, EXIT.NOT_FOUND);
  const server = createServer(async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    let path: string;
    try {
      const raw = (req.url ?? '/').split('?')[0] as string;
      const segments = raw.split('/').map((p) => decodeURIComponent(p));
      if (segments.some((p) => p === '..' || p.includes('/') || p.includes('\\') || p.includes('\0')))
        throw new Error('unsafe');
      path = resolve(root, `.${segments.join('/')}`);
      if (!path.startsWith(root + sep)) throw new Error('unsafe');
    } catch {
      res.writeHead(400).end();
      return;
    }
    const st = await stat(path).catch(() => undefined);
    if (!st?.isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'Content-Length': st.size,
      'Content-Type': path.endsWith('.json') ? 'application/json' : 'application/octet-stream',
      'Cache-Control': path.endsWith(`${sep}timestamp.json`) ? 'no-cache' : 'max-age=300',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(path).pipe(res);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', (e) =>
      fail(new CliError(`cannot listen on ${opts.host}:${opts.port} (${(e as Error).message})`, EXIT.IO)),
    );
    server.listen(opts.port, opts.host, ok);
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  ctx.out.result(
    { serving: root, url: `http://${host}:${port}/` },
    () => `serving ${root} at http://${host}:${port}/ (read-only; Ctrl-C to stop)`,
  );
  await new Promise<void>((done) => {
    onInterrupt(() => server.close(() => done()));
  });
  return EXIT.OK;
}
