/**
 * FetchFetcher over the real `fetch` of this runtime (Node's) against a real HTTP server on
 * loopback: streaming, the byte limit on what is read, deadlines through AbortSignal, status
 * mapping, redirects, and a whole client refresh through it.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FetchFetcher } from '../../src/client/fetch-fetcher.js';
import { download } from '../../src/client/fetcher.js';
import { MemoryMetadataStore } from '../../src/client/store.js';
import { Updater } from '../../src/client/updater.js';
import { DownloadLimitError, FetchError, NotFoundError, TimeoutError } from '../../src/errors.js';
import { NOW } from '../helpers/client.js';
import { Simulator } from '../helpers/simulator.js';

const sim = new Simulator();
let server: http.Server;
let base = '';
/** Whether the server saw the endless response's connection closed by the client. */
let endlessClosed: Promise<void>;
let resolveEndlessClosed: () => void;
const seen: { path: string; headers: http.IncomingHttpHeaders }[] = [];

beforeAll(async () => {
  await sim.publishRoot();
  await sim.addTarget('app/1.0', 'one');
  await sim.publish();
  endlessClosed = new Promise((r) => {
    resolveEndlessClosed = r;
  });
  server = http.createServer((req, res) => {
    const path = req.url ?? '';
    seen.push({ path, headers: req.headers });
    if (path === '/chunks') {
      res.writeHead(200);
      for (let i = 0; i < 5; i++) res.write(new Uint8Array(1000).fill(i));
      res.end();
    } else if (path === '/endless') {
      res.writeHead(200);
      const chunk = new Uint8Array(16 * 1024);
      const pump = () => {
        while (res.write(chunk)) {
          /* fill the socket */
        }
      };
      res.on('drain', pump);
      res.on('close', () => resolveEndlessClosed());
      pump();
    } else if (path === '/stall') {
      res.writeHead(200);
      res.write('a');
    } else if (path === '/redirect') {
      res.writeHead(302, { location: '/chunks' });
      res.end();
    } else if (/^\/status\/\d+$/.test(path)) {
      res.writeHead(Number(path.slice(8)));
      res.end('error page');
    } else if (path.startsWith('/repo/')) {
      const file = sim.files.get(decodeURIComponent(path.slice(6)));
      res.writeHead(file ? 200 : 404);
      res.end(file);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const fetcher = new FetchFetcher();
const get = (path: string, maxLength = 1 << 20, timeoutMs = 60_000) =>
  download(fetcher, `${base}${path}`, { maxLength, timeoutMs });

describe('FetchFetcher', () => {
  it('streams the body as it arrives and sends no credentials', async () => {
    const chunks: Uint8Array[] = [];
    const controller = new AbortController();
    for await (const c of fetcher.fetch(`${base}/chunks`, {
      signal: controller.signal,
      maxLength: 1 << 20,
    })) {
      chunks.push(c);
    }
    const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let o = 0;
    for (const c of chunks) {
      all.set(c, o);
      o += c.length;
    }
    expect(all.length).toBe(5000);
    expect(all[4999]).toBe(4);
    const req = seen.find((s) => s.path === '/chunks');
    expect(req?.headers.cookie).toBeUndefined();
    expect(req?.headers.authorization).toBeUndefined();
  });

  it('stops reading an endless body past the limit: DOWNLOAD_LIMIT, and the connection closes', async () => {
    await expect(get('/endless', 100_000)).rejects.toBeInstanceOf(DownloadLimitError);
    await endlessClosed; // the server saw the client go away: nothing more is read
  });

  it('a stalled body ends at the deadline (TIMEOUT) through the AbortSignal', async () => {
    await expect(get('/stall', 1000, 300)).rejects.toBeInstanceOf(TimeoutError);
  });

  it.each([404, 410, 403])('HTTP %i is NOT_FOUND', async (status) => {
    const err = await get(`/status/${status}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err).toMatchObject({ status });
  });

  it.each([500, 401, 429])('HTTP %i is FETCH with the status', async (status) => {
    const err = await get(`/status/${status}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchError);
    expect(err).toMatchObject({ code: 'FETCH', status, message: expect.stringContaining(`HTTP ${status}`) });
  });

  it('follows redirects by default, and refuses them with redirect: error', async () => {
    expect((await get('/redirect')).length).toBe(5000);
    const strict = new FetchFetcher({ redirect: 'error' });
    await expect(
      download(strict, `${base}/redirect`, { maxLength: 1 << 20, timeoutMs: 60_000 }),
    ).rejects.toBeInstanceOf(FetchError);
  });

  it('a refused connection is FETCH', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await expect(
      download(fetcher, `http://127.0.0.1:${port}/x`, { maxLength: 10, timeoutMs: 60_000 }),
    ).rejects.toBeInstanceOf(FetchError);
  });

  it('takes another fetch implementation (a worker binding, say)', async () => {
    const calls: string[] = [];
    const custom = new FetchFetcher({
      fetch: (url, init) => {
        calls.push(url);
        return fetch(url, init);
      },
    });
    const bytes = await download(custom, `${base}/chunks`, { maxLength: 1 << 20, timeoutMs: 60_000 });
    expect(bytes.length).toBe(5000);
    expect(calls).toEqual([`${base}/chunks`]);
  });

  it('carries a whole client workflow: refresh, look-up, download with hash check', async () => {
    const store = new MemoryMetadataStore();
    await store.write('root', sim.rootBytes(1));
    const updater = new Updater({
      metadataBaseUrl: `${base}/repo/metadata/`,
      targetBaseUrl: `${base}/repo/targets/`,
      fetcher,
      store,
      now: () => NOW,
    });
    await updater.refresh();
    const info = await updater.getTargetInfo('app/1.0');
    expect(info).toBeDefined();
    expect(new TextDecoder().decode(await updater.downloadTarget(info!.target))).toBe('one');
  });
});
