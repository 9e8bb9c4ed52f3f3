/** A trust server in a temporary directory, on a free loopback port, for one test file. */
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningTrustServer, startTrustServer, type TrustServerOptions } from '../../src/index.js';

/** A passphrase for online keys in tests (the real one comes from the environment). */
export const PASSPHRASE = 'test passphrase of the online keys';

export interface TestServer extends RunningTrustServer {
  dir: string;
  stop(): Promise<void>;
}

export async function startTestServer(options: Partial<TrustServerOptions> = {}): Promise<TestServer> {
  const dir = options.store ?? (await mkdtemp(join(tmpdir(), 'tufa-server-')));
  const running = await startTrustServer({
    store: dir,
    keyPassphrase: PASSPHRASE,
    scryptN: 2 ** 10,
    refreshIntervalMs: 0,
    ...options,
  });
  return {
    ...running,
    dir,
    async stop() {
      await running.close();
      if (!options.store) await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A request to the server, the path sent exactly as given (no client-side normalisation of
 * `..` or percent-encoding, as fetch would do); the answer's status, headers and body.
 */
// biome-ignore lint/suspicious/noExplicitAny: tests read answers field by field, as JSON
type Json = any;

export function call(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string | Uint8Array } = {},
): Promise<{ status: number; headers: Map<string, string>; body: Uint8Array; json: () => Json }> {
  const u = /^http:\/\/([^/]+)(\/.*)$/.exec(url);
  if (!u) throw new Error(`not an http URL: ${url}`);
  const [hostname, port] = (u[1] as string).split(':');
  return new Promise((resolve, reject) => {
    const req = request(
      { hostname, port: Number(port), path: u[2], method: init.method ?? 'GET', headers: init.headers ?? {} },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = new Uint8Array(Buffer.concat(parts));
          const headers = new Map(Object.entries(res.headers).map(([k, v]) => [k, String(v)]));
          resolve({
            status: res.statusCode ?? 0,
            headers,
            body,
            json: () => JSON.parse(new TextDecoder().decode(body)),
          });
        });
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}
