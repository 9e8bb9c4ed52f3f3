/**
 * The server's life: a shutdown lets an upload in flight finish (and then releases the store for
 * the next process); online keys that the passphrase does not unlock make uploads fail with a
 * 500 that names nothing secret, and the server goes on serving.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, SPECIFICATION_VERSION, TargetFile, Targets } from '@tufa/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerClient } from '../src/index.js';
import { fixedSigner } from './helpers/keys.js';
import { call, PASSPHRASE, startTestServer } from './helpers/server.js';

const ROOT = fixedSigner(71);
const TARGETS = fixedSigner(72);
const GUN = 'example.test/life/app';
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tufa-server-life-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The body of an upload of targets version 2, signed by the targets key. */
async function nextTargetsBody(): Promise<string> {
  const md = new Metadata(
    new Targets({
      version: 2,
      specVersion: SPECIFICATION_VERSION,
      expires: new Date(Date.now() + 86_400_000),
      targets: new Map([['app:2', new TargetFile('app:2', 2, new Map([['sha256', 'ab'.repeat(32)]]))]]),
    }),
  );
  await md.sign(TARGETS);
  return JSON.stringify({
    roles: [{ role: 'targets', metadata: Buffer.from(md.toBytes()).toString('base64') }],
  });
}

describe('shutdown', () => {
  it('lets an upload in flight finish, then releases the store', async () => {
    const server = await startTestServer({ store: dir });
    const client = new ServerClient({ url: server.url });
    await client.create(GUN, {
      keys: { root: [ROOT.key], targets: [TARGETS.key] },
      signers: [ROOT, TARGETS],
    });
    const body = Buffer.from(await nextTargetsBody());
    const { port } = server.http.address() as { port: number };
    // Headers and half the body are sent; the server has the request when it emits 'request'.
    const arrived = new Promise<void>((r) => server.http.once('request', () => r()));
    const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: `/${GUN}/metadata`,
          headers: { 'Content-Type': 'application/json', 'Content-Length': body.length },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (c: string) => {
            text += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.write(body.subarray(0, 10));
      arrived.then(() => {
        closed = server.close();
        // The rest of the body after the shutdown began.
        setImmediate(() => req.end(body.subarray(10)));
      }, reject);
    });
    let closed: Promise<void> | undefined;
    const r = await answer;
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text).versions).toContainEqual({ role: 'targets', version: 2 });
    await closed;
    // The store is free: a new process (here, server) opens it and serves the upload.
    const next = await startTestServer({ store: dir });
    const ts = await call(`${next.url}${GUN}/metadata/2.targets.json`);
    expect(ts.status).toBe(200);
    await next.stop();
  });
});

describe('online keys the passphrase does not unlock', () => {
  it('answer uploads with a 500 that says nothing secret, and reads go on', async () => {
    const logged: string[] = [];
    const server = await startTestServer({
      store: dir,
      keyPassphrase: `${PASSPHRASE} but another one`,
      log: (l) => logged.push(l),
    });
    try {
      const body = await nextTargetsBody();
      const r = await call(`${server.url}${GUN}/metadata`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body,
      });
      expect(r.status).toBe(500);
      expect(r.json().error).toEqual({
        code: 'INTERNAL',
        message: 'the server failed to handle the request (see its log)',
      });
      expect(logged.join('\n')).toMatch(/cannot be unlocked with the server's passphrase/);
      expect(logged.join('\n')).not.toContain(PASSPHRASE);
      expect((await call(`${server.url}${GUN}/metadata/timestamp.json`)).status).toBe(200);
    } finally {
      await server.stop();
    }
  });
});
