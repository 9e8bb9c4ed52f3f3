/**
 * A small HTTP proxy in front of a test registry: counts every request (method and path, for the
 * request-budget tests) and can rewrite a response body (a registry that serves other bytes).
 * The `Host` header is passed on unchanged, so the registry's upload `Location`s point back at
 * the proxy.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  path: string;
  status: number;
}

export interface CountingProxy {
  /** `127.0.0.1:PORT`. */
  host: string;
  seen: SeenRequest[];
  /** When set, called with each answer's path and body; what it returns is sent instead. */
  rewrite: ((method: string, path: string, body: Buffer) => Buffer) | undefined;
  stop(): Promise<void>;
}

export async function startCountingProxy(upstream: string): Promise<CountingProxy> {
  const target = new URL(upstream);
  const proxy: CountingProxy = {
    host: '',
    seen: [],
    rewrite: undefined,
    stop: async () => {},
  };
  const server = http.createServer((q, s) => {
    const chunks: Buffer[] = [];
    q.on('data', (c: Buffer) => chunks.push(c));
    q.on('end', () => {
      const up = http.request(
        {
          host: target.hostname,
          port: Number(target.port),
          method: q.method,
          path: q.url,
          headers: q.headers,
        },
        (r) => {
          const body: Buffer[] = [];
          r.on('data', (c: Buffer) => body.push(c));
          r.on('end', () => {
            const path = q.url ?? '';
            proxy.seen.push({ method: q.method ?? '', path, status: r.statusCode ?? 0 });
            let out: Buffer = Buffer.concat(body);
            const headers = { ...r.headers };
            if (proxy.rewrite !== undefined && q.method !== 'HEAD') {
              out = proxy.rewrite(q.method ?? '', path, out);
              headers['content-length'] = String(out.length);
            }
            s.writeHead(r.statusCode ?? 502, headers).end(q.method === 'HEAD' ? undefined : out);
          });
        },
      );
      up.on('error', () => s.writeHead(502).end());
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  proxy.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.stop = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return proxy;
}
