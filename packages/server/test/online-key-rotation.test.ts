/**
 * Rotating a GUN's online keys through root (docs/server.md "Rotating online keys"): the server
 * generates the next key beside the current one and signs nothing with it until a root names it;
 * the publisher's new root names it; from then on snapshot/timestamp are signed with it, clients
 * following the root chain (tufa, tuf-js) verify, and the replaced key is destroyed. A rotation
 * under way survives an unrelated root, and the route refuses what it should.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryMetadataStore, Metadata, TargetFile, Updater } from '@tufa/core';
import { HttpFetcher } from '@tufa/core/node';
import { Updater as TufJsUpdater } from 'tuf-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseStaticTokens, ServerClient, StaticTokenAuthorizer } from '../src/index.js';
import { fixedSigner } from './helpers/keys.js';
import { call, startTestServer, type TestServer } from './helpers/server.js';

const ROOT = fixedSigner(61);
const TARGETS = fixedSigner(62);
const GUN = 'registry.test/team/rotating';

let server: TestServer;
let client: ServerClient;

function target(path: string, seed: number): TargetFile {
  return new TargetFile(path, seed, new Map([['sha256', seed.toString(16).padStart(64, '0')]]));
}

/** The keyids that signed the served timestamp and the snapshot it names. */
async function servedSigners(gun: string): Promise<{ snapshot: string[]; timestamp: string[] }> {
  const ts = Metadata.fromBytes(
    (await client.readFile(gun, 'metadata/timestamp.json')) as Uint8Array,
    'timestamp',
  );
  const sn = Metadata.fromBytes(
    (await client.readFile(gun, `metadata/${ts.signed.snapshotMeta.version}.snapshot.json`)) as Uint8Array,
    'snapshot',
  );
  return { snapshot: [...sn.signatures.keys()], timestamp: [...ts.signatures.keys()] };
}

async function keyFiles(gun: string): Promise<string[]> {
  return (await readdir(join(server.dir, gun, '.tufa-server'))).filter((n) => n.endsWith('.key')).sort();
}

async function verifiedLength(
  gun: string,
  path: string,
): Promise<{ tufa: number | undefined; tufJs: number | undefined }> {
  const root1 = (await client.readFile(gun, 'metadata/1.root.json')) as Uint8Array;
  const store = new MemoryMetadataStore();
  await store.write('root', root1);
  const tufa = await new Updater({
    metadataBaseUrl: client.metadataUrl(gun),
    fetcher: new HttpFetcher(),
    store,
  }).getTargetInfo(path);
  const metadataDir = await mkdtemp(join(tmpdir(), 'tuf-js-'));
  await writeFile(join(metadataDir, 'root.json'), root1);
  const u = new TufJsUpdater({
    metadataDir,
    metadataBaseUrl: client.metadataUrl(gun).replace(/\/$/, ''),
    targetBaseUrl: 'http://127.0.0.1:9/',
    config: { fetchRetry: 0 },
  });
  await u.refresh();
  return { tufa: tufa?.target.length, tufJs: (await u.getTargetInfo(path))?.length };
}

beforeAll(async () => {
  server = await startTestServer();
  client = new ServerClient({ url: server.url });
  await client.create(GUN, { keys: { root: [ROOT.key], targets: [TARGETS.key] }, signers: [ROOT, TARGETS] });
});
afterAll(async () => {
  await server?.stop();
});

describe('rotating an online key through root', () => {
  it('signs with the new key only once root names it, then destroys the old one', async () => {
    const before = await client.onlineKeys(GUN);
    const next = await client.rotateOnlineKey(GUN, 'snapshot');
    expect(next.keyid()).not.toBe(before.snapshot.keyid());
    // The newest key is what a publisher is told to put into root; the old one still signs.
    expect((await client.onlineKeys(GUN)).snapshot.keyid()).toBe(next.keyid());
    await client.publish(GUN, { signers: [TARGETS] }, (repo) => repo.addTargets([target('before', 11)]));
    expect((await servedSigners(GUN)).snapshot).toEqual([before.snapshot.keyid()]);
    expect(await keyFiles(GUN)).toEqual(['snapshot.2.key', 'snapshot.key', 'timestamp.key']);

    // The root ceremony: root 2 names the new snapshot key instead of the old one.
    const { versions } = await client.publish(GUN, { signers: [ROOT] }, async (repo) => {
      repo.rotateKeys('snapshot', { add: [next], remove: [before.snapshot.keyid()] });
    });
    expect(versions).toContainEqual({ role: 'root', version: 2 });
    expect((await servedSigners(GUN)).snapshot).toEqual([next.keyid()]);
    expect(await keyFiles(GUN)).toEqual(['snapshot.2.key', 'timestamp.key']);

    await client.publish(GUN, { signers: [TARGETS] }, (repo) => repo.addTargets([target('after', 12)]));
    expect((await servedSigners(GUN)).snapshot).toEqual([next.keyid()]);
    expect(await verifiedLength(GUN, 'after')).toEqual({ tufa: 12, tufJs: 12 });
    expect(await verifiedLength(GUN, 'before')).toEqual({ tufa: 11, tufJs: 11 });
  });

  it('keeps a rotation under way through a root that does not name the new key yet', async () => {
    const current = (await servedSigners(GUN)).timestamp;
    const pending = await client.rotateOnlineKey(GUN, 'timestamp');
    // An unrelated root change (a root threshold stays 1, a second root key is added).
    const extra = fixedSigner(63);
    await client.publish(GUN, { signers: [ROOT, extra] }, async (repo) => {
      repo.rotateKeys('root', { add: [extra.key] });
    });
    expect(await keyFiles(GUN)).toEqual(['snapshot.2.key', 'timestamp.2.key', 'timestamp.key']);
    expect((await servedSigners(GUN)).timestamp).toEqual(current);
    await client.publish(GUN, { signers: [ROOT] }, async (repo) => {
      repo.rotateKeys('timestamp', { add: [pending], remove: current });
    });
    expect((await servedSigners(GUN)).timestamp).toEqual([pending.keyid()]);
    expect(await keyFiles(GUN)).toEqual(['snapshot.2.key', 'timestamp.2.key']);
    expect(await verifiedLength(GUN, 'after')).toEqual({ tufa: 12, tufJs: 12 });
  });

  it('refuses a root naming an online key the server does not hold, and keeps its keys', async () => {
    const foreign = fixedSigner(64);
    const held = await keyFiles(GUN);
    await expect(
      client.publish(GUN, { signers: [ROOT] }, async (repo) => {
        repo.rotateKeys('snapshot', {
          add: [foreign.key],
          remove: [(await client.onlineKeys(GUN)).snapshot.keyid()],
        });
      }),
    ).rejects.toMatchObject({ code: expect.stringMatching(/THRESHOLD|USAGE/) });
    expect(await keyFiles(GUN)).toEqual(held);
  });

  it('answers 404 for a GUN without keys or a role the server does not hold, 405 for GET', async () => {
    const none = await call(`${server.url}registry.test/team/none/keys/snapshot`, { method: 'POST' });
    expect(none.status).toBe(404);
    expect(none.json().error.code).toBe('NOT_FOUND');
    const root = await call(`${server.url}${GUN}/keys/root`, { method: 'POST' });
    expect(root.status).toBe(404);
    expect(root.json().error.message).toMatch(/snapshot and timestamp/);
    expect((await call(`${server.url}${GUN}/keys/snapshot`)).status).toBe(405);
    expect(await keyFiles(GUN)).toEqual(['snapshot.2.key', 'timestamp.2.key']);
  });
});

describe('who may rotate', () => {
  it('takes push scope: a pull-only token is refused and creates no key', async () => {
    const { createHash } = await import('node:crypto');
    const sha = (t: string) => createHash('sha256').update(t).digest('hex');
    const guarded = await startTestServer({
      authorizer: new StaticTokenAuthorizer(
        parseStaticTokens(
          new TextEncoder().encode(
            JSON.stringify([
              { sha256: sha('pusher'), scopes: [`repository:${GUN}:pull,push`] },
              { sha256: sha('reader'), scopes: [`repository:${GUN}:pull`] },
            ]),
          ),
        ),
      ),
    });
    try {
      const pusher = new ServerClient({ url: guarded.url, token: 'pusher' });
      await pusher.create(GUN, {
        keys: { root: [ROOT.key], targets: [TARGETS.key] },
        signers: [ROOT, TARGETS],
      });
      const reader = new ServerClient({ url: guarded.url, token: 'reader' });
      await expect(reader.rotateOnlineKey(GUN, 'snapshot')).rejects.toThrow(/403/);
      const anonymous = await call(`${guarded.url}${GUN}/keys/snapshot`, { method: 'POST' });
      expect(anonymous.status).toBe(401);
      const files = (await readdir(join(guarded.dir, GUN, '.tufa-server'))).filter((n) => n.endsWith('.key'));
      expect(files.sort()).toEqual(['snapshot.key', 'timestamp.key']);
      await pusher.rotateOnlineKey(GUN, 'snapshot');
      expect(
        (await readdir(join(guarded.dir, GUN, '.tufa-server'))).filter((n) => n.endsWith('.key')).sort(),
      ).toEqual(['snapshot.2.key', 'snapshot.key', 'timestamp.key']);
    } finally {
      await guarded.stop();
    }
  });
});

describe('online keys the operator gives', () => {
  it('signs every GUN with them, keeps older ones for roots that name them, and refuses rotating them here', async () => {
    const OP1 = fixedSigner(71);
    const OP2 = fixedSigner(72);
    const dir = await mkdtemp(join(tmpdir(), 'tufa-server-given-'));
    const gun = 'registry.test/team/operator';
    let s = await startTestServer({ store: dir, onlineSigners: { timestamp: [OP1] } });
    try {
      const c = new ServerClient({ url: s.url });
      await c.create(gun, { keys: { root: [ROOT.key], targets: [TARGETS.key] }, signers: [ROOT, TARGETS] });
      const keys = await c.onlineKeys(gun);
      expect(keys.timestamp.keyid()).toBe(OP1.keyid);
      // Only the snapshot key was generated; the operator's key is nowhere in the store.
      expect((await readdir(join(dir, gun, '.tufa-server'))).filter((n) => n.endsWith('.key'))).toEqual([
        'snapshot.key',
      ]);
      await c.publish(gun, { signers: [TARGETS] }, (repo) => repo.addTargets([target('op:1', 31)]));
      const ts = Metadata.fromBytes(
        (await c.readFile(gun, 'metadata/timestamp.json')) as Uint8Array,
        'timestamp',
      );
      expect([...ts.signatures.keys()]).toEqual([OP1.keyid]);
      await expect(c.rotateOnlineKey(gun, 'timestamp')).rejects.toMatchObject({
        code: 'USAGE',
        message: expect.stringMatching(/the operator's/),
      });
      await s.close();

      // The operator's rotation: the new key beside the old one. Roots still naming the old key
      // keep being signed; new roots are told the new one.
      s = await startTestServer({ store: dir, onlineSigners: { timestamp: [OP1, OP2] } });
      const c2 = new ServerClient({ url: s.url });
      expect((await c2.onlineKeys(gun)).timestamp.keyid()).toBe(OP2.keyid);
      await c2.publish(gun, { signers: [TARGETS] }, (repo) => repo.addTargets([target('op:2', 32)]));
      const signedBy = async () => [
        ...Metadata.fromBytes(
          (await c2.readFile(gun, 'metadata/timestamp.json')) as Uint8Array,
          'timestamp',
        ).signatures.keys(),
      ];
      expect(await signedBy()).toEqual([OP1.keyid]);
      await c2.publish(gun, { signers: [ROOT] }, async (repo) => {
        repo.rotateKeys('timestamp', { add: [OP2.key], remove: [OP1.keyid] });
      });
      expect(await signedBy()).toEqual([OP2.keyid]);
      const store = new MemoryMetadataStore();
      await store.write('root', (await c2.readFile(gun, 'metadata/1.root.json')) as Uint8Array);
      const u = new Updater({ metadataBaseUrl: c2.metadataUrl(gun), fetcher: new HttpFetcher(), store });
      expect((await u.getTargetInfo('op:2'))?.target.length).toBe(32);
    } finally {
      await s.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
