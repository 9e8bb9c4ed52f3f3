/**
 * The PostgreSQL store with two server replicas on one database: what one replica publishes the
 * other serves; concurrent publishers to one GUN and to many lose no update and leave every
 * version chain valid; of two replicas refreshing at once, exactly one signs each timestamp.
 * PostgreSQL runs as the postgres user in a temporary directory (helpers/postgres.ts).
 */

import { gunzipSync } from 'node:zlib';
import {
  DelegatedRole,
  MemoryMetadataStore,
  MemoryRepositoryStorage,
  Metadata,
  Repository,
  TargetFile,
  Updater,
} from '@tufa/core';
import { HttpFetcher } from '@tufa/core/node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMMUTABLE, MIN_GZIP_BYTES, PostgresStore, REVALIDATE, ServerClient } from '../src/index.js';
import { fixedSigner } from './helpers/keys.js';
import { postgresUnavailable, startPostgres, type TestPostgres } from './helpers/postgres.js';
import { call, startTestServer, type TestServer } from './helpers/server.js';

const missing = postgresUnavailable();
if (missing && process.env.CI === 'true') throw new Error(`CI needs PostgreSQL for these tests: ${missing}`);

const ROOT = fixedSigner(91);
const TARGETS = fixedSigner(92);
const ROOT_2 = fixedSigner(93);
const TEAM = fixedSigner(94);
const LONG = { root: 3650 * 86400, targets: 3650 * 86400 };

function target(path: string, seed: number): TargetFile {
  return new TargetFile(path, seed, new Map([['sha256', seed.toString(16).padStart(64, '0')]]));
}

async function targetsOf(
  client: ServerClient,
  gun: string,
  paths: string[],
): Promise<(number | undefined)[]> {
  const store = new MemoryMetadataStore();
  await store.write('root', (await client.readFile(gun, 'metadata/1.root.json')) as Uint8Array);
  const u = new Updater({ metadataBaseUrl: client.metadataUrl(gun), fetcher: new HttpFetcher(), store });
  const out = [];
  for (const p of paths) out.push((await u.getTargetInfo(p))?.target.length);
  return out;
}

describe.skipIf(missing !== undefined)('PostgreSQL store, two replicas', () => {
  let db: TestPostgres;
  let a: TestServer;
  let b: TestServer;
  let clock = new Date();
  beforeAll(async () => {
    db = await startPostgres('tufa_server_test');
    process.env.PGPASSWORD = db.password;
    const options = { store: db.url, now: () => clock, expiry: { timestamp: 3600 } };
    a = await startTestServer(options);
    b = await startTestServer(options);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    db?.stop();
  });

  it('serves on one replica what the other published', async () => {
    const onA = new ServerClient({ url: a.url });
    const onB = new ServerClient({ url: b.url });
    await onA.create('db.test/one', {
      keys: { root: [ROOT.key], targets: [TARGETS.key] },
      signers: [ROOT, TARGETS],
      expiry: LONG,
    });
    await onA.publish('db.test/one', { signers: [TARGETS] }, (r) => r.addTargets([target('x:1', 11)]));
    expect(await targetsOf(onB, 'db.test/one', ['x:1'])).toEqual([11]);
    expect((await onB.onlineKeys('db.test/one')).timestamp.keyid()).toBe(
      (await onA.onlineKeys('db.test/one')).timestamp.keyid(),
    );
  });

  it("answers on one replica the timestamp another replica's upload just wrote, never an older one", async () => {
    // Each replica keeps versioned files in memory (committed, never rewritten); timestamp.json
    // and root.json come from the database on every GET, or a client going from B to A would see
    // its timestamp version go back.
    const onA = new ServerClient({ url: a.url });
    const onB = new ServerClient({ url: b.url });
    const gun = 'db.test/cached';
    await onA.create(gun, {
      keys: { root: [ROOT.key], targets: [TARGETS.key] },
      signers: [ROOT, TARGETS],
      expiry: LONG,
    });
    const version = async (c: ServerClient, file: string, type: 'timestamp' | 'snapshot' | 'root') =>
      Metadata.fromBytes((await c.readFile(gun, `metadata/${file}`)) as Uint8Array, type).signed.version;
    for (let i = 1; i <= 3; i++) {
      const before = await version(onA, 'timestamp.json', 'timestamp');
      expect(await onA.readFile(gun, `metadata/${before}.snapshot.json`)).toBeDefined();
      await onB.publish(gun, { signers: [TARGETS] }, (r) => r.addTargets([target(`cached:${i}`, 30 + i)]));
      expect(await version(onA, 'timestamp.json', 'timestamp')).toBe(before + 1);
      expect(await version(onA, `${before + 1}.snapshot.json`, 'snapshot')).toBe(before + 1);
    }
    await onB.publish(gun, { signers: [ROOT, ROOT_2], expiry: LONG }, async (r) => {
      r.rotateKeys('root', { add: [ROOT_2.key], remove: [ROOT.key.keyid()] });
    });
    expect(await version(onA, 'root.json', 'root')).toBe(2);
    expect(await targetsOf(onA, gun, ['cached:3'])).toEqual([33]);
  });

  it('answers gzip on both replicas: versions compressed once, root.json per answer, always the stored bytes', async () => {
    // Versioned files are kept per replica with their gzip form; root.json is read from the
    // database on every GET, so its gzip form is made per answer and follows every new root.
    const onA = new ServerClient({ url: a.url });
    const onB = new ServerClient({ url: b.url });
    const gun = 'db.test/gzip';
    await onA.create(gun, {
      keys: { root: [ROOT.key], targets: [TARGETS.key] },
      signers: [ROOT, TARGETS],
      expiry: LONG,
    });
    const many = Array.from({ length: 40 }, (_, i) => target(`gz:${i}`, 200 + i));
    await onB.publish(gun, { signers: [TARGETS] }, (r) => r.addTargets(many));
    const gzip = { 'Accept-Encoding': 'gzip' };
    for (const server of [a, b]) {
      const stored = (await server.service.store.readMetadata(gun, '2.targets.json'))?.bytes as Uint8Array;
      expect(stored.length).toBeGreaterThan(MIN_GZIP_BYTES);
      const r = await call(`${server.url}${gun}/metadata/2.targets.json`, { headers: gzip });
      expect(r.headers.get('content-encoding')).toBe('gzip');
      expect(r.headers.get('vary')).toBe('Accept-Encoding');
      expect(r.headers.get('cache-control')).toBe(IMMUTABLE);
      expect(new Uint8Array(gunzipSync(r.body))).toEqual(stored);
      expect((await server.service.store.readMetadata(gun, '2.targets.json'))?.gzip?.bytes).toEqual(r.body);
      const again = await call(`${server.url}${gun}/metadata/2.targets.json`, {
        headers: { ...gzip, 'If-None-Match': r.headers.get('etag') as string },
      });
      expect(again.status).toBe(304);
      const ts = await call(`${server.url}${gun}/metadata/timestamp.json`, { headers: gzip });
      expect(ts.headers.get('content-encoding')).toBeUndefined();
      expect(ts.headers.get('vary')).toBe('Accept-Encoding');
    }
    const rootOn = async (server: TestServer) => {
      const r = await call(`${server.url}${gun}/metadata/root.json`, { headers: gzip });
      expect(r.headers.get('content-encoding')).toBe('gzip');
      expect(r.headers.get('cache-control')).toBe(REVALIDATE);
      const root = Metadata.fromBytes(new Uint8Array(gunzipSync(r.body)), 'root');
      expect((await server.service.store.readMetadata(gun, 'root.json'))?.gzip).toBeUndefined();
      return root.signed.version;
    };
    expect(await rootOn(a)).toBe(1);
    await onB.publish(gun, { signers: [ROOT, ROOT_2], expiry: LONG }, async (r) => {
      r.rotateKeys('root', { add: [ROOT_2.key], remove: [ROOT.key.keyid()] });
    });
    expect(await rootOn(a)).toBe(2);
    expect(await rootOn(b)).toBe(2);
  });

  it('serves the current ROLE.json of a repository without consistent snapshots, even one named N.ROLE.json', async () => {
    // Without consistent snapshots every version of a role is written to ROLE.json: the file of
    // a delegated role named "2024.releases" is 2024.releases.json, which reads like version
    // 2024 of a role "releases". Kept from its first read, it would be served after the role's
    // next version, and clients could never update past it.
    const onA = new ServerClient({ url: a.url });
    const onB = new ServerClient({ url: b.url });
    const gun = 'db.test/plain-names';
    const online = await onA.onlineKeys(gun, { create: true });
    const first = await Repository.create(new MemoryRepositoryStorage(), {
      keys: {
        root: [ROOT.key],
        targets: [TARGETS.key],
        snapshot: [online.snapshot],
        timestamp: [online.timestamp],
      },
      signers: [ROOT, TARGETS],
      expiry: LONG,
      consistentSnapshot: false,
    });
    const { files, prepared } = await first.prepare({ allowPending: true });
    await onA.upload(
      gun,
      files
        .filter((f) => f.role === 'root' || f.role === 'targets')
        .map((f) => ({ role: f.role, metadata: prepared.get(f.role) as Metadata })),
    );
    const releases = new DelegatedRole({
      name: '2024.releases',
      keyids: [TEAM.keyid],
      threshold: 1,
      terminating: true,
      paths: ['rel/*'],
    });
    await onB.publish(gun, { signers: [TARGETS, TEAM] }, async (r) => {
      await r.addDelegation('targets', releases, [TEAM.key]);
      await r.addTargets([target('rel/a', 61)], { role: '2024.releases' });
    });
    const versionOnA = async () =>
      Metadata.fromBytes((await onA.readFile(gun, 'metadata/2024.releases.json')) as Uint8Array, 'targets')
        .signed.version;
    expect(await versionOnA()).toBe(1);
    await onB.publish(gun, { signers: [TEAM] }, (r) =>
      r.addTargets([target('rel/b', 62)], { role: '2024.releases' }),
    );
    expect(await versionOnA()).toBe(2);
    expect(await targetsOf(onA, gun, ['rel/a', 'rel/b'])).toEqual([61, 62]);
    // Nor is it answered as immutable, for an HTTP cache on the way to keep for a year.
    const header = async (url: string, file: string) =>
      (await call(`${url}${gun}/metadata/${file}`)).headers.get('cache-control');
    expect(await header(a.url, '2024.releases.json')).toBe(REVALIDATE);
    expect(await header(b.url, '2024.releases.json')).toBe(REVALIDATE);
    expect(await header(a.url, '1.root.json')).toBe(REVALIDATE); // a role "1.root" could be its file
    // In a repository with consistent snapshots a committed version is.
    await onA.create('db.test/consistent', {
      keys: { root: [ROOT.key], targets: [TARGETS.key] },
      signers: [ROOT, TARGETS],
      expiry: LONG,
    });
    for (const url of [a.url, b.url]) {
      expect(
        (await call(`${url}db.test/consistent/metadata/1.targets.json`)).headers.get('cache-control'),
      ).toBe(IMMUTABLE);
    }
  });

  it("takes an upload on one replica right after the other replica's, whatever it kept of its own", async () => {
    // Each replica keeps a GUN's published state after its upload; B's upload makes A's stale,
    // and A must notice before judging the next version (a stale state calls it a version skip).
    const onA = new ServerClient({ url: a.url });
    const onB = new ServerClient({ url: b.url });
    const gun = 'db.test/alternating';
    await onA.create(gun, {
      keys: { root: [ROOT.key], targets: [TARGETS.key] },
      signers: [ROOT, TARGETS],
      expiry: LONG,
    });
    for (let i = 0; i < 6; i++) {
      await (i % 2 ? onB : onA).publish(gun, { signers: [TARGETS], attempts: 1 }, (r) =>
        r.addTargets([target(`alt:${i}`, 50 + i)]),
      );
    }
    expect(await targetsOf(onB, gun, ['alt:0', 'alt:5'])).toEqual([50, 55]);
  });

  it('takes 20 concurrent publishers, to one GUN and to many, without losing an update', async () => {
    const clients = [new ServerClient({ url: a.url }), new ServerClient({ url: b.url })];
    const gun = 'db.test/busy';
    await clients[0]?.create(gun, {
      keys: { root: [ROOT.key], targets: [TARGETS.key] },
      signers: [ROOT, TARGETS],
      expiry: LONG,
    });
    const same = Array.from({ length: 10 }, (_, i) =>
      (clients[i % 2] as ServerClient).publish(gun, { signers: [TARGETS], attempts: 30 }, (r) =>
        r.addTargets([target(`t:${i}`, 100 + i)]),
      ),
    );
    const many = Array.from({ length: 10 }, async (_, i) => {
      const c = clients[i % 2] as ServerClient;
      const g = `db.test/many-${i}`;
      await c.create(g, {
        keys: { root: [ROOT.key], targets: [TARGETS.key] },
        signers: [ROOT, TARGETS],
        expiry: LONG,
      });
      await c.publish(g, { signers: [TARGETS] }, (r) => r.addTargets([target(`m:${i}`, 200 + i)]));
    });
    await Promise.all([...same, ...many]);
    const paths = Array.from({ length: 10 }, (_, i) => `t:${i}`);
    expect(await targetsOf(clients[1] as ServerClient, gun, paths)).toEqual(paths.map((_, i) => 100 + i));
    // Every version in the chain exists, each snapshot the one before + 1.
    const ts = Metadata.fromBytes(
      (await clients[0]?.readFile(gun, 'metadata/timestamp.json')) as Uint8Array,
      'timestamp',
    );
    const sn = ts.signed.snapshotMeta.version;
    expect(sn).toBe(11);
    for (let v = 1; v <= 11; v++) {
      expect(await clients[1]?.readFile(gun, `metadata/${v}.targets.json`)).toBeDefined();
      expect(await clients[1]?.readFile(gun, `metadata/${v}.snapshot.json`)).toBeDefined();
    }
    for (let i = 0; i < 10; i++) {
      expect(await targetsOf(clients[(i + 1) % 2] as ServerClient, `db.test/many-${i}`, [`m:${i}`])).toEqual([
        200 + i,
      ]);
    }
  });

  it('recovers by itself when PostgreSQL crashes and restarts under load', async () => {
    const clients = [new ServerClient({ url: a.url }), new ServerClient({ url: b.url })];
    const gun = 'db.test/crash';
    await clients[0]?.create(gun, {
      keys: { root: [ROOT.key], targets: [TARGETS.key] },
      signers: [ROOT, TARGETS],
      expiry: LONG,
    });
    const load = Array.from({ length: 6 }, (_, i) =>
      (clients[i % 2] as ServerClient)
        .publish(gun, { signers: [TARGETS], attempts: 30 }, (r) => r.addTargets([target(`c:${i}`, 300 + i)]))
        .then(
          () => true,
          () => false,
        ),
    );
    db.restart();
    const done = await Promise.all(load);
    // What was accepted is there, completely; what failed is not there at all.
    const paths = Array.from({ length: 6 }, (_, i) => `c:${i}`);
    const seen = await targetsOf(clients[1] as ServerClient, gun, paths);
    expect(seen).toEqual(done.map((ok, i) => (ok ? 300 + i : undefined)));
    // Both replicas work again without a restart of their own.
    for (const c of clients) {
      await c.publish(gun, { signers: [TARGETS], attempts: 30 }, (r) =>
        r.addTargets([target(`after:${c === clients[0] ? 0 : 1}`, 400)]),
      );
    }
    expect(await targetsOf(clients[0] as ServerClient, gun, ['after:0', 'after:1'])).toEqual([400, 400]);
  });

  it('lets one replica at a time be the refresher', async () => {
    let release = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    let entered = () => {};
    const inside = new Promise<void>((r) => {
      entered = r;
    });
    const first = a.service.store.asRefresher(async () => {
      entered();
      await held;
      return 'a';
    });
    await inside;
    let ran = false;
    try {
      expect(
        await b.service.store.asRefresher(async () => {
          ran = true;
          return 'b';
        }),
      ).toBeUndefined();
      expect(ran).toBe(false);
    } finally {
      release(); // a failed check must not leave the refresher role held (the store would not close)
    }
    expect(await first).toBe('a');
    // Released: the other replica may take its turn.
    expect(await b.service.store.asRefresher(async () => 'b')).toBe('b');
  });

  it('has exactly one replica sign each due timestamp', async () => {
    const guns = await a.service.store.listGuns();
    const before = await Promise.all(
      guns.map(
        async (g) =>
          Metadata.fromBytes(
            (await a.service.store.readMetadata(g, 'timestamp.json'))?.bytes as Uint8Array,
            'timestamp',
          ).signed.version,
      ),
    );
    clock = new Date(clock.getTime() + 45 * 60 * 1000);
    const [ra, rb] = await Promise.all([a.service.refreshAll(), b.service.refreshAll()]);
    expect(ra.refreshed + rb.refreshed).toBe(guns.length);
    expect(ra.failed + rb.failed).toBe(0);
    const after = await Promise.all(
      guns.map(
        async (g) =>
          Metadata.fromBytes(
            (await b.service.store.readMetadata(g, 'timestamp.json'))?.bytes as Uint8Array,
            'timestamp',
          ).signed.version,
      ),
    );
    expect(after).toEqual(before.map((v) => v + 1));
  });

  it('rotates an online key across replicas: one generation each, any replica signs with it', async () => {
    const onA = new ServerClient({ url: a.url });
    const onB = new ServerClient({ url: b.url });
    const gun = 'db.test/rotating';
    await onA.create(gun, {
      keys: { root: [ROOT.key], targets: [TARGETS.key] },
      signers: [ROOT, TARGETS],
      expiry: LONG,
    });
    const old = (await onA.onlineKeys(gun)).timestamp;
    // Two replicas rotating at once get two generations, not one overwritten by the other.
    const [k1, k2] = await Promise.all([
      onA.rotateOnlineKey(gun, 'timestamp'),
      onB.rotateOnlineKey(gun, 'timestamp'),
    ]);
    const held = await a.service.store.readOnlineKeys(gun, 'timestamp');
    expect(held.map((h) => h.generation)).toEqual([1, 2, 3]);
    expect(new Set([old.keyid(), k1?.keyid(), k2?.keyid()]).size).toBe(3);
    const newest = (await onB.onlineKeys(gun)).timestamp;
    // Root 2 names the newest key, uploaded through B (which may not have unlocked it yet).
    await onB.publish(gun, { signers: [ROOT], expiry: LONG }, async (repo) => {
      repo.rotateKeys('timestamp', { add: [newest], remove: [old.keyid()] });
    });
    expect((await a.service.store.readOnlineKeys(gun, 'timestamp')).map((h) => h.generation)).toEqual([3]);
    // A signs the next timestamp with it too.
    await onA.publish(gun, { signers: [TARGETS], expiry: LONG }, (r) => r.addTargets([target('rot:1', 21)]));
    const ts = Metadata.fromBytes(
      (await onA.readFile(gun, 'metadata/timestamp.json')) as Uint8Array,
      'timestamp',
    );
    expect([...ts.signatures.keys()]).toEqual([newest.keyid()]);
    expect(await targetsOf(onB, gun, ['rot:1'])).toEqual([21]);
  });

  it('records an upload in the change feed in the transaction of its files: both or neither', async () => {
    const gun = 'db.test/feed';
    const onA = new ServerClient({ url: a.url });
    const onB = new ServerClient({ url: b.url });
    await onA.create(gun, {
      keys: { root: [ROOT.key], targets: [TARGETS.key] },
      signers: [ROOT, TARGETS],
      expiry: LONG,
    });
    const feed = async () =>
      (
        (await call(`${b.url}_tufa/changes?since=0&limit=1000`)).json().changes as {
          gun: string;
          versions: unknown;
        }[]
      ).filter((c) => c.gun === gun);
    const before = { timestamp: await onB.readFile(gun, 'metadata/timestamp.json'), feed: await feed() };
    // The change feed refuses this upload's entry: the files must not commit either.
    const pool = new pg.Pool({ connectionString: db.url, password: db.password });
    try {
      await pool.query(
        "ALTER TABLE tufa_changes ADD CONSTRAINT tufa_test_no_upload CHECK (kind <> 'upload') NOT VALID",
      );
      const err = await onA
        .publish(gun, { signers: [TARGETS], attempts: 1 }, (r) => r.addTargets([target('feed:1', 21)]))
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect(await onB.readFile(gun, 'metadata/timestamp.json')).toEqual(before.timestamp);
      expect(await targetsOf(onB, gun, ['feed:1'])).toEqual([undefined]);
    } finally {
      await pool.query('ALTER TABLE tufa_changes DROP CONSTRAINT IF EXISTS tufa_test_no_upload');
      await pool.end();
    }
    expect(await feed()).toEqual(before.feed);
    // Accepted, the upload and its entry are there together.
    const { versions } = await onA.publish(gun, { signers: [TARGETS] }, (r) =>
      r.addTargets([target('feed:1', 21)]),
    );
    expect(await targetsOf(onB, gun, ['feed:1'])).toEqual([21]);
    expect((await feed()).at(-1)?.versions).toEqual(versions);
  });

  it('commits nothing of a publish that stopped before timestamp.json', async () => {
    // The core releases the lock whatever happened; versioned files committed without the
    // timestamp that references them would be kept by every replica as final (ADR 0027), and the
    // next publish of that version would write other bytes under the same name.
    const store = await PostgresStore.open({ connectionString: db.url });
    try {
      const gun = 'db.test/unfinished';
      const storage = store.storage(gun);
      let release = await storage.lock();
      await storage.write('metadata/2.targets.json', new TextEncoder().encode('{"left": "by a failure"}'));
      await release();
      expect(await store.storage(gun).read('metadata/2.targets.json')).toBeUndefined();
      expect(await store.readMetadata(gun, '2.targets.json')).toBeUndefined();
      // With timestamp.json, written last, everything is committed together.
      release = await storage.lock();
      await storage.write('metadata/2.targets.json', new TextEncoder().encode('{"a": 1}'));
      await storage.write('metadata/timestamp.json', new TextEncoder().encode('{"b": 2}'));
      await release();
      expect(await store.storage(gun).read('metadata/2.targets.json')).toEqual(
        new TextEncoder().encode('{"a": 1}'),
      );
    } finally {
      await store.close();
    }
  });

  it('upgrades a database of schema version 1 in place, keeping its online keys', async () => {
    const pg = (await import('pg')).default;
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query('CREATE DATABASE tufa_upgrade');
    await admin.end();
    const oldUrl = db.url.replace(/\/[^/]+$/, '/tufa_upgrade');
    // The schema exactly as version 1 of the server left it (migration 1, recorded as applied).
    const old = new pg.Client({ connectionString: oldUrl });
    await old.connect();
    await old.query(`CREATE TABLE tufa_migrations (version integer PRIMARY KEY, applied timestamptz NOT NULL);
      CREATE TABLE tufa_files (gun text NOT NULL, path text NOT NULL, bytes bytea NOT NULL, PRIMARY KEY (gun, path));
      CREATE TABLE tufa_online_keys (gun text NOT NULL, role text NOT NULL, key_file bytea NOT NULL, PRIMARY KEY (gun, role));
      CREATE TABLE tufa_changes (id bigserial PRIMARY KEY, gun text NOT NULL, time timestamptz NOT NULL,
        kind text NOT NULL, versions jsonb NOT NULL);
      INSERT INTO tufa_migrations VALUES (1, now());`);
    await old.query("INSERT INTO tufa_online_keys VALUES ('db.test/old', 'snapshot', '\\x0102')");
    await old.end();
    const store = await PostgresStore.open({ connectionString: oldUrl });
    try {
      expect(await store.readOnlineKeys('db.test/old', 'snapshot')).toEqual([
        { generation: 1, bytes: new Uint8Array([1, 2]) },
      ]);
      expect(await store.addOnlineKey('db.test/old', 'snapshot', new Uint8Array([3]))).toBe(2);
      expect((await store.readOnlineKeys('db.test/old', 'snapshot')).map((k) => k.generation)).toEqual([
        1, 2,
      ]);
    } finally {
      await store.close();
    }
  });
});
