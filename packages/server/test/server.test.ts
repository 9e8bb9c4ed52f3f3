/**
 * The trust server over HTTP with its embedded store: publishers create a GUN and upload new
 * versions through ServerClient; tufa's Updater and tuf-js verify what it serves; every bad
 * request is refused with a 4xx and stores nothing.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DelegatedRole,
  MemoryMetadataStore,
  MemoryRepositoryStorage,
  Metadata,
  Repository,
  SPECIFICATION_VERSION,
  StaleVersionError,
  TargetFile,
  Targets,
  ThresholdError,
  Updater,
} from '@tufa/core';
import { HttpFetcher } from '@tufa/core/node';
import { Updater as TufJsUpdater } from 'tuf-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMMUTABLE, REVALIDATE, ServerClient } from '../src/index.js';
import { fixedSigner } from './helpers/keys.js';
import { call, startTestServer, type TestServer } from './helpers/server.js';

const ROOT = fixedSigner(41);
const TARGETS = fixedSigner(42);
const TEAM = fixedSigner(43);
const STRANGER = fixedSigner(44);
const GUN = 'registry.test:5000/team/app';

function target(path: string, seed: number): TargetFile {
  return new TargetFile(path, 100 + seed, new Map([['sha256', seed.toString(16).padStart(64, '0')]]));
}

let server: TestServer;
let client: ServerClient;

/** Every file under the store directory, with its bytes (to prove a refusal stored nothing). */
async function snapshotOfStore(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.set(p, (await readFile(p)).toString('base64'));
    }
  };
  await walk(server.dir);
  return out;
}

async function verifiedBy(
  updater: 'tufa' | 'tuf-js',
  gun: string,
  path: string,
): Promise<number | undefined> {
  const root1 = await client.readFile(gun, 'metadata/1.root.json');
  if (!root1) throw new Error('no root 1');
  if (updater === 'tufa') {
    const store = new MemoryMetadataStore();
    await store.write('root', root1);
    const u = new Updater({ metadataBaseUrl: client.metadataUrl(gun), fetcher: new HttpFetcher(), store });
    return (await u.getTargetInfo(path))?.target.length;
  }
  const { mkdtemp, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const metadataDir = await mkdtemp(join(tmpdir(), 'tuf-js-'));
  await writeFile(join(metadataDir, 'root.json'), root1);
  const u = new TufJsUpdater({
    metadataDir,
    metadataBaseUrl: client.metadataUrl(gun).replace(/\/$/, ''),
    targetBaseUrl: 'http://127.0.0.1:9/',
    config: { fetchRetry: 0 },
  });
  await u.refresh();
  return (await u.getTargetInfo(path))?.length;
}

/** The version the served snapshot lists for a targets role. */
async function currentVersion(role: string): Promise<number> {
  const ts = Metadata.fromBytes(
    (await client.readFile(GUN, 'metadata/timestamp.json')) as Uint8Array,
    'timestamp',
  );
  const v = ts.signed.snapshotMeta.version;
  const sn = Metadata.fromBytes(
    (await client.readFile(GUN, `metadata/${v}.snapshot.json`)) as Uint8Array,
    'snapshot',
  );
  return sn.signed.roleMeta(role)?.version ?? 0;
}

beforeAll(async () => {
  server = await startTestServer();
  client = new ServerClient({ url: server.url });
  await client.create(GUN, { keys: { root: [ROOT.key], targets: [TARGETS.key] }, signers: [ROOT, TARGETS] });
});
afterAll(async () => {
  await server?.stop();
});

describe('serving and publishing', () => {
  it('creates a GUN with the online keys the server generated, encrypted at rest', async () => {
    const keys = await client.onlineKeys(GUN);
    const root = Metadata.fromBytes(
      (await client.readFile(GUN, 'metadata/1.root.json')) as Uint8Array,
      'root',
    );
    expect(root.signed.role('timestamp').keyids).toEqual([keys.timestamp.keyid()]);
    expect(root.signed.role('snapshot').keyids).toEqual([keys.snapshot.keyid()]);
    const keyFile = await readFile(join(server.dir, GUN, '.tufa-server', 'timestamp.key'), 'utf8');
    expect(JSON.parse(keyFile)).toMatchObject({ kdf: { name: 'scrypt' }, cipher: { name: 'aes-256-gcm' } });
    expect(keyFile).not.toContain('PRIVATE KEY');
    expect(keyFile).not.toContain('private_pkcs8');
    // Keys of the GUN are not served, nor anything else of the server's.
    expect((await call(`${server.url}${GUN}/.tufa-server/timestamp.key`)).status).toBe(404);
    expect((await call(`${server.url}${GUN}/metadata/..%2F.tufa-server%2Ftimestamp.key`)).status).toBe(400);
  });

  it('publishes targets a publisher signed; tufa and tuf-js verify what the server serves', async () => {
    const { versions } = await client.publish(GUN, { signers: [TARGETS] }, (repo) =>
      repo.addTargets([target('app:1', 1)]),
    );
    expect(versions).toEqual(
      expect.arrayContaining([
        { role: 'targets', version: 2 },
        { role: 'snapshot', version: 2 },
        { role: 'timestamp', version: 2 },
      ]),
    );
    expect(await verifiedBy('tufa', GUN, 'app:1')).toBe(101);
    expect(await verifiedBy('tuf-js', GUN, 'app:1')).toBe(101);
  });

  it('serves exactly the bytes of the directory, with caching headers right for TUF', async () => {
    for (const file of ['timestamp.json', '2.snapshot.json', '2.targets.json', '1.root.json', 'root.json']) {
      const r = await call(`${server.url}${GUN}/metadata/${file}`);
      expect(r.status).toBe(200);
      expect(r.body).toEqual(new Uint8Array(await readFile(join(server.dir, GUN, 'metadata', file))));
      // The newest root is not vouched for as immutable: root.json is written before
      // timestamp.json, so after a crash between them its version was never committed (ADR 0027).
      expect(r.headers.get('cache-control')).toBe(
        /^\d/.test(file) && file !== '1.root.json' ? IMMUTABLE : REVALIDATE,
      );
      const again = await call(`${server.url}${GUN}/metadata/${file}`, {
        headers: { 'If-None-Match': r.headers.get('etag') as string },
      });
      expect(again.status).toBe(304);
    }
    const head = await call(`${server.url}${GUN}/metadata/timestamp.json`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect((await call(`${server.url}${GUN}/metadata/9.targets.json`)).json().error.code).toBe('NOT_FOUND');
  });

  it('gives timestamp.json the ETag of the bytes it holds now, also after the file is replaced', async () => {
    // The directory store keeps entry points in memory with the identity of the file they came
    // from: a file another writer replaced (rename, or rewritten in place) is read again.
    const file = join(server.dir, GUN, 'metadata', 'timestamp.json');
    const url = `${server.url}${GUN}/metadata/timestamp.json`;
    const original = await readFile(file);
    const etagOf = (b: Uint8Array) => `"${createHash('sha256').update(b).digest('hex')}"`;
    try {
      expect((await call(url)).headers.get('etag')).toBe(etagOf(original));
      expect((await call(url)).headers.get('etag')).toBe(etagOf(original));
      const renamed = Buffer.from(`${original.toString()}\n`);
      await writeFile(`${file}.new`, renamed);
      await rename(`${file}.new`, file);
      const r = await call(url);
      expect(r.body).toEqual(new Uint8Array(renamed));
      expect(r.headers.get('etag')).toBe(etagOf(renamed));
      const inPlace = Buffer.from(`${original.toString()}\n\n`);
      await writeFile(file, inPlace);
      expect((await call(url)).headers.get('etag')).toBe(etagOf(inPlace));
    } finally {
      await writeFile(file, original);
    }
    expect((await call(url)).headers.get('etag')).toBe(etagOf(original));
  });

  it('keeps answering the committed bytes of a versioned file, which never change', async () => {
    // Once timestamp.json references 1.targets.json no writer replaces it: the server answers
    // it from memory, and bytes put there behind its back are not what clients get.
    const file = join(server.dir, GUN, 'metadata', '1.targets.json');
    const url = `${server.url}${GUN}/metadata/1.targets.json`;
    const original = await readFile(file);
    expect((await call(url)).body).toEqual(new Uint8Array(original));
    try {
      await writeFile(`${file}.new`, Buffer.from(`${original.toString()}\n`));
      await rename(`${file}.new`, file);
      expect((await call(url)).body).toEqual(new Uint8Array(original));
    } finally {
      await writeFile(file, original);
    }
  });

  it('takes delegated roles and refuses targets outside their paths', async () => {
    const team = new DelegatedRole({
      name: 'team',
      keyids: [TEAM.keyid],
      threshold: 1,
      terminating: true,
      paths: ['team/*'],
    });
    await client.publish(GUN, { signers: [TARGETS, TEAM] }, async (repo) => {
      await repo.addDelegation('targets', team, [TEAM.key]);
      await repo.addTargets([target('team/a', 2)], { role: 'team' });
    });
    expect(await verifiedBy('tufa', GUN, 'team/a')).toBe(102);

    const before = await snapshotOfStore();
    const outside = new Metadata(
      new Targets({
        version: 2,
        specVersion: SPECIFICATION_VERSION,
        expires: new Date(Date.now() + 86_400_000),
        targets: new Map([['other/x', target('other/x', 3)]]),
      }),
    );
    await outside.sign(TEAM);
    const r = await call(`${server.url}${GUN}/metadata`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        roles: [{ role: 'team', metadata: Buffer.from(outside.toBytes()).toString('base64') }],
      }),
    });
    expect(r.status).toBe(400);
    expect(r.json().error.code).toBe('BAD_VALUE');
    expect(await snapshotOfStore()).toEqual(before);
  });

  it('answers a stale upload with 409 naming the current version, and stores nothing', async () => {
    // Two publishers read the same state; the first one's upload wins.
    const slow = new ServerClient({ url: server.url });
    let raced = false;
    const err = await slow
      .publish(GUN, { signers: [TARGETS], attempts: 1 }, async (repo) => {
        await repo.addTargets([target('slow:1', 4)]);
        if (!raced) {
          raced = true;
          await client.publish(GUN, { signers: [TARGETS] }, (r) => r.addTargets([target('fast:1', 5)]));
        }
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StaleVersionError);
    expect(err).toMatchObject({ code: 'CONFLICT', role: 'targets', current: 4 });
    expect(await verifiedBy('tufa', GUN, 'slow:1')).toBeUndefined();
    // With retries (the default), the same edit is applied to the new state and published.
    raced = false;
    await slow.publish(GUN, { signers: [TARGETS] }, (repo) => repo.addTargets([target('slow:1', 4)]));
    expect(await verifiedBy('tufa', GUN, 'slow:1')).toBe(104);
    expect(await verifiedBy('tufa', GUN, 'fast:1')).toBe(105);
  });

  it('a publisher that pinned another root signs nothing over what the server serves (ADR 0032)', async () => {
    const other = new MemoryRepositoryStorage();
    const keys = [STRANGER.key];
    await (
      await Repository.create(other, {
        keys: { root: keys, targets: keys, snapshot: keys, timestamp: keys },
        signers: [STRANGER],
      })
    ).publish();
    const before = await snapshotOfStore();
    const err = await client
      .publish(
        GUN,
        { signers: [TARGETS], trustedRoot: other.files.get('metadata/1.root.json') as Uint8Array },
        (r) => r.addTargets([target('pinned:1', 7)]),
      )
      .catch((e: unknown) => e);
    // The server's root 1 is another root of the pinned version (ROOT_NOT_IN_CHAIN); past a
    // rotation, its root 2 is not signed by the pinned root's keys (THRESHOLD).
    expect(err).toMatchObject({
      code: expect.stringMatching(/^(ROOT_NOT_IN_CHAIN|THRESHOLD)$/),
      message: expect.stringMatching(/^published root/),
    });
    expect(await snapshotOfStore()).toEqual(before);
  });

  it('refuses targets signed by a key root does not authorise (THRESHOLD), and stores nothing', async () => {
    const before = await snapshotOfStore();
    const err = await client
      .publish(GUN, { signers: [STRANGER] }, async (repo) => {
        await repo.addTargets([target('evil:1', 6)]);
      })
      .catch((e: unknown) => e);
    // The client refuses before uploading: its signers cannot sign targets.
    expect(err).toMatchObject({ code: 'USAGE' });
    // Uploaded anyway, the server refuses it.
    const evil = new Metadata(
      new Targets({
        version: (await currentVersion('targets')) + 1,
        specVersion: SPECIFICATION_VERSION,
        expires: new Date(Date.now() + 86_400_000),
        targets: new Map([['evil:1', target('evil:1', 6)]]),
      }),
    );
    await evil.sign(STRANGER);
    await expect(client.upload(GUN, [{ role: 'targets', metadata: evil }])).rejects.toBeInstanceOf(
      ThresholdError,
    );
    expect(await snapshotOfStore()).toEqual(before);
  });

  it('answers a replayed old version with 409 and the current version', async () => {
    const old = (await client.readFile(GUN, 'metadata/2.targets.json')) as Uint8Array;
    const r = await call(`${server.url}${GUN}/metadata`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ roles: [{ role: 'targets', metadata: Buffer.from(old).toString('base64') }] }),
    });
    expect(r.status).toBe(409);
    expect(r.json()).toMatchObject({
      error: { code: 'CONFLICT' },
      current: { role: 'targets', version: await currentVersion('targets') },
    });
  });
});

describe('root versions through the server', () => {
  it('rotates the targets key with a root signed by the root key; the old key no longer publishes', async () => {
    const newTargets = fixedSigner(45);
    // Targets are signed again by the new key in the same upload: root 2 no longer accepts the old.
    const { versions } = await client.publish(GUN, { signers: [ROOT, newTargets] }, async (repo) => {
      repo.rotateKeys('targets', { add: [newTargets.key], remove: [TARGETS.keyid] });
    });
    expect(versions).toContainEqual({ role: 'root', version: 2 });
    await expect(
      client.publish(GUN, { signers: [TARGETS] }, (repo) => repo.addTargets([target('old-key:1', 7)])),
    ).rejects.toMatchObject({ code: 'USAGE' });
    await client.publish(GUN, { signers: [newTargets] }, (repo) => repo.addTargets([target('new-key:1', 8)]));
    expect(await verifiedBy('tufa', GUN, 'new-key:1')).toBe(108);
    expect(await verifiedBy('tuf-js', GUN, 'new-key:1')).toBe(108);
    // Root 1 again: a replay, answered with the current root version.
    const r = await call(`${server.url}${GUN}/metadata`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        roles: [
          {
            role: 'root',
            metadata: Buffer.from(
              (await client.readFile(GUN, 'metadata/1.root.json')) as Uint8Array,
            ).toString('base64'),
          },
        ],
      }),
    });
    expect(r.status).toBe(409);
    expect(r.json().current).toEqual({ role: 'root', version: 2 });
  });

  it('keeps a GUN and a GUN nested in it apart', async () => {
    const inner = `${GUN}/sub`;
    await client.create(inner, {
      keys: { root: [ROOT.key], targets: [TARGETS.key] },
      signers: [ROOT, TARGETS],
    });
    await client.publish(inner, { signers: [TARGETS] }, (repo) => repo.addTargets([target('inner:1', 9)]));
    expect(await verifiedBy('tufa', inner, 'inner:1')).toBe(109);
    expect(await verifiedBy('tufa', GUN, 'inner:1')).toBeUndefined();
    expect((await client.onlineKeys(inner)).timestamp.keyid()).not.toBe(
      (await client.onlineKeys(GUN)).timestamp.keyid(),
    );
    expect(await server.service.store.listGuns()).toEqual([GUN, inner]);
  });
});

describe('a second server on the same directory', () => {
  it('refuses to start while the first one runs', async () => {
    await expect(startTestServer({ store: server.dir })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect((await call(`${server.url}_tufa/health`)).status).toBe(200);
  });
});
