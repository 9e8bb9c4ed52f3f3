/**
 * Compressed answers to metadata GETs (ADR 0027, docs/server.md "Metadata files"): which coding a
 * request's Accept-Encoding gets, the headers of both forms (Vary, ETag, 304, HEAD), that the
 * bytes a client gets after gunzip are exactly the stored file, that a committed version is
 * compressed once and kept in the metadata cache within its bound, that a replaced entry point
 * never gets an older file's gzip form, and that tuf-js verifies through compressed answers.
 */
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { TargetFile } from '@tufa/core';
import { Updater as TufJsUpdater } from 'tuf-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseCoding, gzipEtag, IMMUTABLE, MIN_GZIP_BYTES, REVALIDATE, ServerClient } from '../src/index.js';
import { MetadataCache, metadataFile } from '../src/metadata-cache.js';
import { fixedSigner } from './helpers/keys.js';
import { call, startTestServer, type TestServer } from './helpers/server.js';

const ROOT = fixedSigner(121);
const TARGETS = fixedSigner(122);
const GUN = 'gzip.test/app';
const LONG = { root: 3650 * 86400, targets: 3650 * 86400 };
const GZIP = { 'Accept-Encoding': 'gzip, deflate' };

function target(path: string, seed: number): TargetFile {
  return new TargetFile(path, 100 + seed, new Map([['sha256', seed.toString(16).padStart(64, '0')]]));
}

describe('chooseCoding: Accept-Encoding as RFC 9110 reads it', () => {
  // [header, the file gains from gzip, the coding answered]
  const cases: [string | undefined, boolean, 'gzip' | 'identity' | undefined][] = [
    [undefined, true, 'identity'],
    ['', true, 'identity'],
    ['gzip', true, 'gzip'],
    ['gzip', false, 'identity'],
    ['GZip', true, 'gzip'],
    ['x-gzip', true, 'gzip'],
    ['gzip, deflate, br', true, 'gzip'],
    ['br;q=1.0, gzip;q=0.8, *;q=0.1', true, 'gzip'],
    ['deflate', true, 'identity'],
    ['br', true, 'identity'],
    ['*', true, 'gzip'],
    ['*;q=0.5', true, 'gzip'],
    ['gzip;q=0', true, 'identity'],
    ['gzip;q=0.000', true, 'identity'],
    ['gzip;q=0, *', true, 'identity'],
    ['*, gzip;q=0', true, 'identity'],
    ['gzip ; q=0.001', true, 'gzip'],
    ['gzip;q=1.000', true, 'gzip'],
    // Identity weighed higher than gzip: the client prefers it.
    ['gzip;q=0.5, identity', true, 'identity'],
    ['gzip;q=0.5, identity;q=0.5', true, 'gzip'],
    // Identity refused: gzip even for a file that gains nothing from it.
    ['gzip, identity;q=0', false, 'gzip'],
    ['gzip, *;q=0', false, 'gzip'],
    ['gzip, *;q=0, identity', false, 'identity'],
    // Nothing acceptable: 406.
    ['identity;q=0', true, undefined],
    ['*;q=0', true, undefined],
    ['gzip;q=0, identity;q=0', true, undefined],
    ['br, *;q=0', true, undefined],
    // A malformed weight neither accepts nor refuses.
    ['gzip;q=2', true, 'identity'],
    ['gzip;q=0.5000', true, 'identity'],
    ['gzip;q=abc, *', true, 'gzip'],
    ['gzip;q=-0, *', true, 'gzip'],
    // The higher weight of a coding listed twice (two headers joined by a proxy).
    ['gzip;q=0, gzip', true, 'gzip'],
    [', ,gzip', true, 'gzip'],
  ];
  it.each(cases)('%j (gains: %s) -> %s', (header, gains, expected) => {
    expect(chooseCoding(header, gains)).toBe(expected);
  });
});

describe('MetadataCache keeps the gzip form beside the file', () => {
  const json = (n: number) =>
    new TextEncoder().encode(JSON.stringify({ entries: Array(n).fill({ a: 'b' }) }));

  it('compresses a kept file once, counts the gzip bytes against the bound, and gunzips to the file', async () => {
    const cache = new MetadataCache(100_000);
    const served = metadataFile(json(500), true);
    cache.set('g', '1.targets.json', served);
    expect(cache.size).toBe(served.bytes.length);
    const [a, b] = await Promise.all([
      cache.gzip('g', '1.targets.json', served),
      cache.gzip('g', '1.targets.json', served),
    ]);
    expect(b).toBe(a); // two first requests share one compression
    expect(a.etag).toBe(`"${served.sha256}-gzip"`);
    expect(new Uint8Array(gunzipSync(a.bytes))).toEqual(served.bytes);
    expect(cache.size).toBe(served.bytes.length + a.bytes.length);
    const kept = cache.get('g', '1.targets.json')?.file;
    expect(kept?.gzip).toBe(a);
    expect(kept?.bytes).toBe(served.bytes);
    expect(await cache.gzip('g', '1.targets.json', kept as never)).toBe(a);
    cache.delete('g', '1.targets.json');
    expect(cache.size).toBe(0);
  });

  it('keeps no gzip form of a file it does not hold, nor of one replaced meanwhile', async () => {
    const cache = new MetadataCache(100_000);
    const loose = metadataFile(json(300));
    const gz = await cache.gzip('g', 'root.json', loose);
    expect(new Uint8Array(gunzipSync(gz.bytes))).toEqual(loose.bytes);
    expect(cache.size).toBe(0);
    const old = metadataFile(json(300));
    cache.set('g', 'root.json', old, 'identity 1');
    const newer = metadataFile(json(301));
    const pending = cache.gzip('g', 'root.json', old);
    cache.set('g', 'root.json', newer, 'identity 2');
    await pending;
    expect(cache.get('g', 'root.json')?.file).toBe(newer);
    expect(cache.get('g', 'root.json')?.file.gzip).toBeUndefined();
    expect(cache.size).toBe(newer.bytes.length);
  });

  it('evicts the least recently used beyond the bound once gzip forms are added, and keeps no pair over a quarter', async () => {
    const x = metadataFile(json(200), true);
    const s = x.bytes.length;
    const g = (await new MetadataCache(0).gzip('g', 'x', x)).bytes.length;
    // Four fillers and x fill the bound exactly, x's two forms fit in a quarter of it.
    let bound = 4 * (s + g);
    while ((bound - s) % 4 !== 0) bound++;
    const f = (bound - s) / 4;
    const cache = new MetadataCache(bound);
    for (const n of [1, 2, 3, 4]) cache.set('g', `${n}.filler.json`, metadataFile(new Uint8Array(f), true));
    cache.set('g', '1.targets.json', x);
    expect(cache.size).toBe(bound);
    await cache.gzip('g', '1.targets.json', x);
    expect(cache.get('g', '1.filler.json')).toBeUndefined();
    expect(cache.get('g', '2.filler.json')).toBeDefined();
    expect(cache.get('g', '1.targets.json')?.file.gzip?.bytes.length).toBe(g);
    expect(cache.size).toBe(bound + g - f);
    // A file whose two forms exceed a quarter of the bound keeps only its identity bytes.
    const tight = new MetadataCache(4 * s);
    tight.set('g', '1.targets.json', x);
    await tight.gzip('g', '1.targets.json', x);
    expect(tight.get('g', '1.targets.json')?.file.gzip).toBeUndefined();
    expect(tight.size).toBe(s);
  });
});

describe('compressed answers through the server (directory store)', () => {
  let server: TestServer;
  let client: ServerClient;
  const url = (file: string) => `${server.url}${GUN}/metadata/${file}`;
  const onDisk = async (file: string) =>
    new Uint8Array(await readFile(join(server.dir, GUN, 'metadata', file)));

  beforeAll(async () => {
    server = await startTestServer();
    client = new ServerClient({ url: server.url });
    await client.create(GUN, {
      keys: { root: [ROOT.key], targets: [TARGETS.key] },
      signers: [ROOT, TARGETS],
      expiry: LONG,
    });
    const many = Array.from({ length: 40 }, (_, i) => target(`app:${i}`, i));
    await client.publish(GUN, { signers: [TARGETS] }, (r) => r.addTargets(many));
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('answers a large committed version gzip with its own ETag and Vary; gunzip gives the stored bytes', async () => {
    const stored = await onDisk('2.targets.json');
    expect(stored.length).toBeGreaterThan(MIN_GZIP_BYTES);
    const plain = await call(url('2.targets.json'));
    expect(plain.headers.get('content-encoding')).toBeUndefined();
    expect(plain.headers.get('vary')).toBe('Accept-Encoding');
    expect(plain.body).toEqual(stored);
    const r = await call(url('2.targets.json'), { headers: GZIP });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-encoding')).toBe('gzip');
    expect(r.headers.get('vary')).toBe('Accept-Encoding');
    expect(r.headers.get('cache-control')).toBe(IMMUTABLE);
    expect(r.headers.get('content-length')).toBe(String(r.body.length));
    expect(r.body.length).toBeLessThan(stored.length / 2);
    expect(new Uint8Array(gunzipSync(r.body))).toEqual(plain.body);
    expect(r.headers.get('etag')).toBe(gzipEtag((plain.headers.get('etag') as string).slice(1, -1)));
    expect(r.headers.get('etag')).not.toBe(plain.headers.get('etag'));
    // Compressed once: the store now holds the gzip form beside the file, and answers it again.
    const kept = await server.service.store.readMetadata(GUN, '2.targets.json');
    expect(kept?.gzip?.bytes).toEqual(r.body);
    expect((await call(url('2.targets.json'), { headers: GZIP })).body).toEqual(r.body);
  });

  it('revalidates each form by its own ETag, and answers HEAD for both', async () => {
    const plain = await call(url('2.targets.json'));
    const gz = await call(url('2.targets.json'), { headers: GZIP });
    const plainEtag = plain.headers.get('etag') as string;
    const gzEtag = gz.headers.get('etag') as string;
    const notModified = await call(url('2.targets.json'), { headers: { ...GZIP, 'If-None-Match': gzEtag } });
    expect(notModified.status).toBe(304);
    expect(notModified.body.length).toBe(0);
    expect(notModified.headers.get('etag')).toBe(gzEtag);
    expect(notModified.headers.get('vary')).toBe('Accept-Encoding');
    expect(notModified.headers.get('cache-control')).toBe(IMMUTABLE);
    // The other form's ETag names other bytes: a full answer, in the form asked for.
    const crossed = await call(url('2.targets.json'), { headers: { ...GZIP, 'If-None-Match': plainEtag } });
    expect(crossed.status).toBe(200);
    expect(crossed.headers.get('content-encoding')).toBe('gzip');
    expect((await call(url('2.targets.json'), { headers: { 'If-None-Match': gzEtag } })).status).toBe(200);
    expect(
      (await call(url('2.targets.json'), { headers: { 'If-None-Match': `"x", ${plainEtag}` } })).status,
    ).toBe(304);
    const head = await call(url('2.targets.json'), { method: 'HEAD', headers: GZIP });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(head.headers.get('content-encoding')).toBe('gzip');
    expect(head.headers.get('content-length')).toBe(String(gz.body.length));
    expect(head.headers.get('etag')).toBe(gzEtag);
    const plainHead = await call(url('2.targets.json'), { method: 'HEAD' });
    expect(plainHead.headers.get('content-length')).toBe(String(plain.body.length));
    expect(plainHead.headers.get('content-encoding')).toBeUndefined();
    expect(plainHead.headers.get('vary')).toBe('Accept-Encoding');
  });

  it('never compresses timestamp.json or a file under the threshold, and still says Vary', async () => {
    const ts = await call(url('timestamp.json'), { headers: GZIP });
    expect(ts.headers.get('content-encoding')).toBeUndefined();
    expect(ts.headers.get('vary')).toBe('Accept-Encoding');
    expect(ts.headers.get('cache-control')).toBe(REVALIDATE);
    expect(ts.body).toEqual(await onDisk('timestamp.json'));
    const small = await onDisk('1.targets.json');
    expect(small.length).toBeLessThan(MIN_GZIP_BYTES);
    const r = await call(url('1.targets.json'), { headers: GZIP });
    expect(r.headers.get('content-encoding')).toBeUndefined();
    expect(r.body).toEqual(small);
  });

  it('follows the q-values: gzip;q=0 refuses, * accepts, identity;q=0 gets gzip, nothing acceptable gets 406', async () => {
    const refused = await call(url('2.targets.json'), { headers: { 'Accept-Encoding': 'gzip;q=0, *' } });
    expect(refused.headers.get('content-encoding')).toBeUndefined();
    expect(refused.body).toEqual(await onDisk('2.targets.json'));
    const star = await call(url('2.targets.json'), { headers: { 'Accept-Encoding': '*' } });
    expect(star.headers.get('content-encoding')).toBe('gzip');
    const onlyGzip = await call(url('timestamp.json'), {
      headers: { 'Accept-Encoding': 'gzip, identity;q=0' },
    });
    expect(onlyGzip.headers.get('content-encoding')).toBe('gzip');
    expect(new Uint8Array(gunzipSync(onlyGzip.body))).toEqual(await onDisk('timestamp.json'));
    const none = await call(url('2.targets.json'), { headers: { 'Accept-Encoding': 'br, identity;q=0' } });
    expect(none.status).toBe(406);
    expect(none.json().error.code).toBe('USAGE');
    expect(none.json().error.message).toContain('"br, identity;q=0"');
    // And the server goes on serving.
    expect((await call(url('2.targets.json'), { headers: GZIP })).status).toBe(200);
  });

  it('compresses an entry point the file on disk holds now, never an older one', async () => {
    // root.json is kept with the identity of its file; a replaced file is read (and compressed) again.
    const file = join(server.dir, GUN, 'metadata', 'root.json');
    const original = await readFile(file);
    expect(original.length).toBeGreaterThan(MIN_GZIP_BYTES);
    try {
      const first = await call(url('root.json'), { headers: GZIP });
      expect(first.headers.get('content-encoding')).toBe('gzip');
      expect(first.headers.get('cache-control')).toBe(REVALIDATE);
      expect(gunzipSync(first.body)).toEqual(original);
      const replaced = Buffer.from(`${original.toString()}\n`);
      await writeFile(`${file}.new`, replaced);
      await rename(`${file}.new`, file);
      const second = await call(url('root.json'), { headers: GZIP });
      expect(gunzipSync(second.body)).toEqual(replaced);
      expect(second.headers.get('etag')).not.toBe(first.headers.get('etag'));
    } finally {
      await writeFile(file, original);
    }
    expect(gunzipSync((await call(url('root.json'), { headers: GZIP })).body)).toEqual(original);
  });

  it('tuf-js asks for gzip, gets compressed answers and verifies them', async () => {
    // What each answer was sent as: the handler writes its headers as a flat array, which
    // res.getHeader does not see, so writeHead is watched instead.
    const codings: string[] = [];
    const record = (req: IncomingMessage, res: ServerResponse) => {
      if (!req.url?.includes('/metadata/')) return;
      const file = req.url.split('/').at(-1);
      const writeHead = res.writeHead.bind(res) as (...a: unknown[]) => ServerResponse;
      (res as { writeHead: unknown }).writeHead = (...args: unknown[]) => {
        const flat = args.find(Array.isArray) as string[] | undefined;
        const at = flat?.indexOf('Content-Encoding') ?? -1;
        codings.push(
          `${file} ${at >= 0 ? flat?.[at + 1] : 'identity'} (asked: ${req.headers['accept-encoding']})`,
        );
        return writeHead(...args);
      };
    };
    server.http.on('request', record);
    const metadataDir = await mkdtemp(join(tmpdir(), 'tuf-js-gzip-'));
    try {
      await writeFile(join(metadataDir, 'root.json'), await onDisk('1.root.json'));
      const u = new TufJsUpdater({
        metadataDir,
        metadataBaseUrl: client.metadataUrl(GUN).replace(/\/$/, ''),
        targetBaseUrl: 'http://127.0.0.1:9/',
        config: { fetchRetry: 0 },
      });
      await u.refresh();
      expect((await u.getTargetInfo('app:7'))?.length).toBe(107);
    } finally {
      server.http.off('request', record);
      await rm(metadataDir, { recursive: true, force: true });
    }
    expect(codings).toContain('2.targets.json gzip (asked: gzip, deflate)');
    expect(codings).toContain('timestamp.json identity (asked: gzip, deflate)');
  });
});
