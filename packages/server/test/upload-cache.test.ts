/**
 * The published state the server keeps between uploads of a GUN (ADR 0027): it is used only
 * while the store holds the timestamp it was left at and the online keys are the same. Each case
 * fails when a kept repository is used after another writer, a key rotation, a root change or a
 * restart changed what it should be.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Metadata, Repository, TargetFile } from '@tufa/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AllowAll,
  createHandler,
  OnlineKeys,
  ServerClient,
  ServerRepositoryStorage,
  TrustService,
} from '../src/index.js';
import { fixedSigner } from './helpers/keys.js';
import { PASSPHRASE, startTestServer, type TestServer } from './helpers/server.js';

const ROOT = fixedSigner(81);
const TARGETS = fixedSigner(82);
const NEW_ROOT = fixedSigner(83);
const GUN = 'upload-cache.test/app';
const LONG = { root: 3650 * 86400, targets: 3650 * 86400 };

function target(path: string, seed: number): TargetFile {
  return new TargetFile(path, seed, new Map([['sha256', seed.toString(16).padStart(64, '0')]]));
}

let server: TestServer | undefined;
let other: Server | undefined;
afterEach(async () => {
  await new Promise<void>((done) => (other ? other.close(() => done()) : done()));
  other = undefined;
  await server?.stop();
  server = undefined;
});

async function started(options: Parameters<typeof startTestServer>[0] = {}) {
  server = await startTestServer(options);
  const client = new ServerClient({ url: server.url });
  await client.create(GUN, {
    keys: { root: [ROOT.key], targets: [TARGETS.key] },
    signers: [ROOT, TARGETS],
    expiry: LONG,
  });
  return { server, client };
}

const add = (client: ServerClient, path: string, seed: number) =>
  client.publish(GUN, { signers: [TARGETS] }, (r) => r.addTargets([target(path, seed)]));

async function timestampVersion(client: ServerClient): Promise<number> {
  return Metadata.fromBytes(
    (await client.readFile(GUN, 'metadata/timestamp.json')) as Uint8Array,
    'timestamp',
  ).signed.version;
}

describe('the repository kept between uploads', () => {
  it('is not used after another writer of the store published', async () => {
    const { server: s, client } = await started();
    await add(client, 'a:1', 1); // kept by the server's service
    // A second service on the same store (another process writing the directory, as a CLI
    // holding the repository's lock would) publishes the next version.
    const second = new TrustService({
      store: s.service.store,
      keys: new OnlineKeys(s.service.store, { passphrase: PASSPHRASE, scryptN: 2 ** 10 }),
    });
    other = createServer(createHandler({ service: second, authorizer: new AllowAll() }));
    await new Promise<void>((ok) => other?.listen(0, '127.0.0.1', ok));
    const viaOther = new ServerClient({ url: `http://127.0.0.1:${(other.address() as AddressInfo).port}/` });
    await add(viaOther, 'b:1', 2);
    // The next version, made from what the store now holds, is taken by the first service: a
    // kept repository still at the old version would call it a version skip.
    const before = await timestampVersion(client);
    await add(client, 'c:1', 3);
    expect(await timestampVersion(client)).toBe(before + 1);
    const targets = Metadata.fromBytes(
      (await client.readFile(GUN, 'metadata/4.targets.json')) as Uint8Array,
      'targets',
    );
    expect([...targets.signed.targets.keys()].sort()).toEqual(['a:1', 'b:1', 'c:1']);
  });

  it('is not used once the online keys changed: a root naming a rotated key is signed with it', async () => {
    const { client } = await started();
    await add(client, 'a:1', 1);
    const old = (await client.onlineKeys(GUN)).timestamp;
    const rotated = await client.rotateOnlineKey(GUN, 'timestamp');
    await client.publish(GUN, { signers: [ROOT], expiry: LONG }, async (r) => {
      r.rotateKeys('timestamp', { add: [rotated], remove: [old.keyid()] });
    });
    const ts = Metadata.fromBytes(
      (await client.readFile(GUN, 'metadata/timestamp.json')) as Uint8Array,
      'timestamp',
    );
    expect([...ts.signatures.keys()]).toEqual([rotated.keyid()]);
    await add(client, 'b:1', 2);
    const next = Metadata.fromBytes(
      (await client.readFile(GUN, 'metadata/timestamp.json')) as Uint8Array,
      'timestamp',
    );
    expect([...next.signatures.keys()]).toEqual([rotated.keyid()]);
  });

  it('follows a root change: the next root is checked against the new root keys', async () => {
    const { client } = await started();
    await add(client, 'a:1', 1);
    await client.publish(GUN, { signers: [ROOT, NEW_ROOT], expiry: LONG }, async (r) => {
      r.rotateKeys('root', { add: [NEW_ROOT.key], remove: [ROOT.key.keyid()] });
    });
    await add(client, 'b:1', 2);
    // Root 3 is signed by the new root key (root 2's) and taken.
    await client.publish(GUN, { signers: [NEW_ROOT], expiry: { root: 100 * 86400 } }, async (r) => {
      r.rotateKeys('targets', { add: [ROOT.key] });
    });
    const root = Metadata.fromBytes((await client.readFile(GUN, 'metadata/root.json')) as Uint8Array, 'root');
    expect(root.signed.version).toBe(3);
  });

  it('does not outlive a restart on a store another process changed meanwhile', async () => {
    const { server: s, client } = await started();
    await add(client, 'a:1', 1);
    const dir = s.dir;
    await s.close();
    server = undefined;
    // Another server on the directory publishes, then goes away.
    const between = await startTestServer({ store: dir });
    await add(new ServerClient({ url: between.url }), 'b:1', 2);
    await between.close();
    server = await startTestServer({ store: dir });
    const again = new ServerClient({ url: server.url });
    await add(again, 'c:1', 3);
    expect(await timestampVersion(again)).toBe(4);
    const { rm } = await import('node:fs/promises');
    await server.close();
    server = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('is bounded by the bytes it holds: a large one is not kept, and the oldest go first', async () => {
    // A GUN's kept repository holds every targets role its uploads touched: bounded only by a
    // count of GUNs, a few large ones could pin any amount of memory.
    const open = vi.spyOn(Repository, 'open');
    // Opens by the server (the client opens its own repository over HTTP to make an upload).
    const opensByServer = () =>
      open.mock.calls.filter(([s]) => !(s instanceof ServerRepositoryStorage)).length;
    try {
      const { server: s, client } = await started({ repositoryCacheBytes: 64 * 1024 });
      await add(client, 'a:1', 1);
      open.mockClear();
      await add(client, 'a:2', 2);
      expect(opensByServer()).toBe(0); // what the upload before left was kept
      // Over 16 KiB of targets, a quarter of the bound: not kept.
      const many = Array.from({ length: 300 }, (_, i) => target(`big:${i}`, 10 + i));
      await client.publish(GUN, { signers: [TARGETS] }, (r) => r.addTargets(many));
      open.mockClear();
      await add(client, 'b:1', 3);
      expect(opensByServer()).toBe(1);

      // Five GUNs holding the same bytes, on a service whose bound takes four and a half of them.
      const guns = Array.from({ length: 5 }, (_, i) => `upload-cache.test/bytes-${i}`);
      for (const gun of guns) {
        await client.create(gun, {
          keys: { root: [ROOT.key], targets: [TARGETS.key] },
          signers: [ROOT, TARGETS],
          expiry: LONG,
        });
      }
      // What a repository opened on one of them holds (refresh opens it so, and keeps it).
      const held = (await Repository.open(s.service.store.storage(guns[0] as string))).heldBytes;
      expect(held).toBeGreaterThan(0);
      const service = new TrustService({
        store: s.service.store,
        keys: new OnlineKeys(s.service.store, { passphrase: PASSPHRASE, scryptN: 2 ** 10 }),
        repositoryCacheBytes: Math.floor(4.5 * held),
      });
      for (const gun of guns) await service.refresh(gun);
      open.mockClear();
      for (const gun of [...guns].reverse()) await service.refresh(gun);
      // The fifth pushed the first out; the other four were still kept.
      expect(open.mock.calls.map(([storage]) => storage)).toHaveLength(1);
    } finally {
      open.mockRestore();
    }
  });

  it('can be turned off by the server option', async () => {
    const { client } = await started({ repositoryCacheSize: 0 });
    await add(client, 'a:1', 1);
    await add(client, 'b:1', 2);
    expect(await timestampVersion(client)).toBe(3);
  });

  it('can be turned off', async () => {
    const { server: s } = await started();
    const service = new TrustService({
      store: s.service.store,
      keys: new OnlineKeys(s.service.store, { passphrase: PASSPHRASE, scryptN: 2 ** 10 }),
      repositoryCacheSize: 0,
    });
    other = createServer(createHandler({ service, authorizer: new AllowAll() }));
    await new Promise<void>((ok) => other?.listen(0, '127.0.0.1', ok));
    const c = new ServerClient({ url: `http://127.0.0.1:${(other.address() as AddressInfo).port}/` });
    await add(c, 'a:1', 1);
    await add(c, 'b:1', 2);
    expect(await timestampVersion(c)).toBe(3);
  });
});
