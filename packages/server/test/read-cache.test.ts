/**
 * The metadata files the server answers from memory (ADR 0027): only versioned files the
 * committed state references, and entry points only while they are the file on disk. Each case
 * here fails when the cache keeps what it must not: a crashed upload's leftover, an old
 * timestamp or root after an upload, a root change, or state from before a restart.
 */
import { mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DelegatedRole, MemoryRepositoryStorage, Metadata, Repository, TargetFile } from '@tufa/core';
import { afterEach, describe, expect, it } from 'vitest';
import { DirectoryStore, IMMUTABLE, REVALIDATE, ServerClient } from '../src/index.js';
import { MetadataCache, metadataFile, versionedName } from '../src/metadata-cache.js';
import { PublishStorage } from '../src/store.js';
import { fixedSigner } from './helpers/keys.js';
import { call, startTestServer, type TestServer } from './helpers/server.js';

const ROOT = fixedSigner(71);
const TARGETS = fixedSigner(72);
const NEW_ROOT = fixedSigner(73);
const TEAM = fixedSigner(74);
const GUN = 'cache.test/app';
const LONG = { root: 3650 * 86400, targets: 3650 * 86400 };

function target(path: string, seed: number): TargetFile {
  return new TargetFile(path, seed, new Map([['sha256', seed.toString(16).padStart(64, '0')]]));
}

const bytesOf = (text: string) => new TextEncoder().encode(text);

describe('MetadataCache', () => {
  it('drops the least recently used files beyond its bound of bytes', () => {
    const cache = new MetadataCache(40);
    cache.set('g', '1.a.json', metadataFile(new Uint8Array(10)));
    cache.set('g', '1.b.json', metadataFile(new Uint8Array(10)));
    cache.set('g', '1.c.json', metadataFile(new Uint8Array(10)));
    expect(cache.get('g', '1.a.json')).toBeDefined(); // a is now the newest use
    cache.set('g', '1.d.json', metadataFile(new Uint8Array(10)));
    cache.set('g', '1.e.json', metadataFile(new Uint8Array(10)));
    expect(cache.get('g', '1.b.json')).toBeUndefined();
    expect(cache.get('g', '1.a.json')).toBeDefined();
    expect(cache.size).toBe(40);
  });

  it('keeps no file larger than a quarter of its bound, and nothing with a bound of 0', () => {
    const cache = new MetadataCache(40);
    cache.set('g', '1.big.json', metadataFile(new Uint8Array(11)));
    expect(cache.get('g', '1.big.json')).toBeUndefined();
    const none = new MetadataCache(0);
    none.set('g', '1.a.json', metadataFile(new Uint8Array(1)));
    expect(none.size).toBe(0);
    expect(() => new MetadataCache(-1)).toThrow(RangeError);
  });

  it('forgets one GUN and not another', () => {
    const cache = new MetadataCache(100);
    cache.set('a/b', '1.x.json', metadataFile(new Uint8Array(1)));
    cache.set('a/bc', '1.x.json', metadataFile(new Uint8Array(1)));
    cache.deleteGun('a/b');
    expect(cache.get('a/b', '1.x.json')).toBeUndefined();
    expect(cache.get('a/bc', '1.x.json')).toBeDefined();
  });

  it('precomputes the sha256 and the ETag', () => {
    const f = metadataFile(bytesOf('abc'));
    expect(f.sha256).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(f.etag).toBe(`"${f.sha256}"`);
  });

  it('tells versioned names from entry points', () => {
    expect(versionedName('12.targets.json')).toEqual({ version: 12, role: 'targets' });
    expect(versionedName('3.team.a.json')).toEqual({ version: 3, role: 'team.a' });
    for (const n of ['timestamp.json', 'root.json', '01.root.json', '0.root.json', '1..json'])
      expect(versionedName(n)).toBeUndefined();
  });
});

describe('the directory store answers from memory only what is committed', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  async function started(dir?: string): Promise<{ server: TestServer; client: ServerClient }> {
    server = await startTestServer(dir ? { store: dir } : {});
    return { server, client: new ServerClient({ url: server.url }) };
  }

  async function created(client: ServerClient): Promise<void> {
    await client.create(GUN, {
      keys: { root: [ROOT.key], targets: [TARGETS.key] },
      signers: [ROOT, TARGETS],
      expiry: LONG,
    });
  }

  const get = async (s: TestServer, file: string) => (await call(`${s.url}${GUN}/metadata/${file}`)).body;
  const cacheControl = async (s: TestServer, file: string) =>
    (await call(`${s.url}${GUN}/metadata/${file}`)).headers.get('cache-control');

  it("never keeps a crashed upload's leftover, which the next upload of that version replaces", async () => {
    const { server: s, client } = await started();
    await created(client);
    // What a crash between the versioned files and timestamp.json leaves: 2.targets.json that
    // no timestamp references.
    const leftover = bytesOf('{"left": "by a crash"}');
    await writeFile(join(s.dir, GUN, 'metadata', '2.targets.json'), leftover);
    expect(await get(s, '2.targets.json')).toEqual(leftover);
    // Nor lets an HTTP cache on the way keep it for a year.
    expect(await cacheControl(s, '2.targets.json')).toBe(REVALIDATE);
    await client.publish(GUN, { signers: [TARGETS] }, (r) => r.addTargets([target('a:1', 1)]));
    const published = await readFile(join(s.dir, GUN, 'metadata', '2.targets.json'));
    expect(Metadata.fromBytes(published, 'targets').signed.targets.has('a:1')).toBe(true);
    expect(await get(s, '2.targets.json')).toEqual(new Uint8Array(published));
    expect(await cacheControl(s, '2.targets.json')).toBe(IMMUTABLE);
  });

  it('keeps no leftover found after a restart either: committed versions come from timestamp.json', async () => {
    const first = await started();
    await created(first.client);
    const dir = first.server.dir;
    await first.server.close(); // the directory stays (stop would remove it)
    server = undefined;
    const leftover = bytesOf('{"left": "by a crash"}');
    await writeFile(join(dir, GUN, 'metadata', '2.targets.json'), leftover);
    const { server: s, client } = await started(dir);
    try {
      // Committed before the restart: answered (and kept) after it.
      expect(await get(s, '1.targets.json')).toEqual(
        new Uint8Array(await readFile(join(dir, GUN, 'metadata', '1.targets.json'))),
      );
      expect(await get(s, '2.targets.json')).toEqual(leftover);
      await writeFile(join(dir, GUN, 'metadata', '2.root.json'), leftover);
      expect(await get(s, '2.root.json')).toEqual(leftover);
      // Root 2 is not committed (root.json is version 1): a later writer's root 2 is answered.
      const later = bytesOf('{"root": "2, as a later publish wrote it"}');
      await writeFile(join(dir, GUN, 'metadata', '2.root.json'), later);
      expect(await get(s, '2.root.json')).toEqual(later);
      await unlink(join(dir, GUN, 'metadata', '2.root.json')); // the core would take it for root 2
      await client.publish(GUN, { signers: [TARGETS] }, (r) => r.addTargets([target('a:1', 1)]));
      const onDisk = new Uint8Array(await readFile(join(dir, GUN, 'metadata', '2.targets.json')));
      expect(onDisk).not.toEqual(leftover);
      expect(await get(s, '2.targets.json')).toEqual(onDisk);
    } finally {
      const { rm } = await import('node:fs/promises');
      await s.close();
      server = undefined;
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps no root that root.json names before timestamp.json was written (a crash between them)', async () => {
    const first = await started();
    await created(first.client);
    const dir = first.server.dir;
    await first.server.close();
    server = undefined;
    // A publish of root 2 killed after root.json and before timestamp.json.
    const md = join(dir, GUN, 'metadata');
    const root2 = (await readFile(join(md, '1.root.json')))
      .toString()
      .replace('"version": 1', '"version": 2');
    await writeFile(join(md, '2.root.json'), root2);
    await writeFile(join(md, 'root.json'), root2);
    const { server: s } = await started(dir);
    try {
      expect(new TextDecoder().decode(await get(s, '2.root.json'))).toBe(root2);
      // Not committed: the bytes of a later writer are what is answered.
      const later = `${root2}\n`;
      await writeFile(join(md, '2.root.json'), later);
      expect(new TextDecoder().decode(await get(s, '2.root.json'))).toBe(later);
      // Root 1 is committed (below root.json's version) and answered as it is.
      expect(Metadata.fromBytes(await get(s, '1.root.json'), 'root').signed.version).toBe(1);
    } finally {
      const { rm } = await import('node:fs/promises');
      await s.close();
      server = undefined;
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('answers the new timestamp.json and root.json right after an upload and a root change', async () => {
    const { server: s, client } = await started();
    await created(client);
    const version = async (file: string, type: 'timestamp' | 'root') =>
      Metadata.fromBytes(await get(s, file), type).signed.version;
    expect(await version('timestamp.json', 'timestamp')).toBe(1);
    expect(await version('root.json', 'root')).toBe(1);
    await client.publish(GUN, { signers: [TARGETS] }, (r) => r.addTargets([target('a:1', 1)]));
    expect(await version('timestamp.json', 'timestamp')).toBe(2);
    await client.publish(GUN, { signers: [ROOT, NEW_ROOT], expiry: LONG }, async (r) => {
      r.rotateKeys('root', { add: [NEW_ROOT.key], remove: [ROOT.key.keyid()] });
    });
    expect(await version('root.json', 'root')).toBe(2);
    expect(await version('2.root.json', 'root')).toBe(2);
    expect((await call(`${s.url}${GUN}/metadata/3.root.json`)).status).toBe(404);
  });

  it('answers what another writer of the directory published (a CLI holding the publish lock)', async () => {
    const { server: s, client } = await started();
    await created(client);
    expect(Metadata.fromBytes(await get(s, 'timestamp.json'), 'timestamp').signed.version).toBe(1);
    // Another writer replaces timestamp.json (atomically, as every tufa writer does).
    const dir = join(s.dir, GUN, 'metadata');
    const other = (await readFile(join(dir, 'timestamp.json')))
      .toString()
      .replace('"version": 1', '"version": 7');
    await mkdir(join(s.dir, 'elsewhere'), { recursive: true });
    await writeFile(join(s.dir, 'elsewhere', 't'), other);
    const { rename } = await import('node:fs/promises');
    await rename(join(s.dir, 'elsewhere', 't'), join(dir, 'timestamp.json'));
    expect(new TextDecoder().decode(await get(s, 'timestamp.json'))).toBe(other);
  });

  it('keeps no ROLE.json of a repository without consistent snapshots, even one named N.ROLE.json', async () => {
    // Without consistent snapshots every version of a role is written to ROLE.json: the file of
    // a delegated role named "2024.releases" is 2024.releases.json, which only looks like
    // version 2024 of a role "releases". Another writer's next version of it must be answered.
    const { server: s, client } = await started();
    const online = await client.onlineKeys(GUN, { create: true });
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
    await client.upload(
      GUN,
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
    // Read before and after the upload: the store knows the GUN's committed state either way.
    expect(Metadata.fromBytes(await get(s, '1.root.json'), 'root').signed.consistentSnapshot).toBe(false);
    await client.publish(GUN, { signers: [TARGETS, TEAM] }, async (r) => {
      await r.addDelegation('targets', releases, [TEAM.key]);
      await r.addTargets([target('rel/a', 1)], { role: '2024.releases' });
    });
    const file = join(s.dir, GUN, 'metadata', '2024.releases.json');
    expect(await get(s, '2024.releases.json')).toEqual(new Uint8Array(await readFile(file)));
    expect(await cacheControl(s, '2024.releases.json')).toBe(REVALIDATE);
    expect(await cacheControl(s, '1.root.json')).toBe(REVALIDATE); // a role "1.root" could be its file
    // Another writer's version 2 of the role, put in place by rename as every tufa writer does.
    const next = (await readFile(file)).toString().replace('"version": 1', '"version": 2');
    await writeFile(`${file}.new`, next);
    const { rename } = await import('node:fs/promises');
    await rename(`${file}.new`, file);
    expect(new TextDecoder().decode(await get(s, '2024.releases.json'))).toBe(next);
  });

  it('serves from a store opened with no cache at all', async () => {
    const { server: s, client } = await started();
    await created(client);
    await s.close();
    server = undefined;
    const store = await DirectoryStore.open(s.dir, { metadataCacheBytes: 0 });
    try {
      const file = await store.readMetadata(GUN, '1.targets.json');
      expect(file?.bytes).toEqual(
        new Uint8Array(await readFile(join(s.dir, GUN, 'metadata', '1.targets.json'))),
      );
    } finally {
      await store.close();
      const { rm } = await import('node:fs/promises');
      await rm(s.dir, { recursive: true, force: true });
    }
  });
});

describe('PublishStorage (how the directory store publishes)', () => {
  /** A storage whose writes of versioned files finish only when the test says. */
  class Gated extends MemoryRepositoryStorage {
    readonly order: string[] = [];
    readonly gates = new Map<string, { open: () => void; fail: (e: Error) => void }>();
    override async write(path: string, bytes: Uint8Array): Promise<void> {
      this.order.push(`start ${path}`);
      if (/\/[0-9]+\./.test(path)) {
        await new Promise<void>((open, fail) => this.gates.set(path, { open, fail }));
      }
      await super.write(path, bytes);
      this.order.push(`done ${path}`);
    }
  }
  const tick = () => new Promise((r) => setImmediate(r));

  it('writes versioned files together, and timestamp.json only once they are all in place', async () => {
    const inner = new Gated();
    const committed: string[][] = [];
    const s = new PublishStorage(inner, (files) => committed.push(files.map((f) => f.path)));
    const release = await s.lock();
    await s.write('metadata/2.targets.json', bytesOf('t'));
    await s.write('metadata/2.snapshot.json', bytesOf('s'));
    const ts = s.write('metadata/timestamp.json', bytesOf('ts'));
    await tick();
    expect(inner.order).toEqual(['start metadata/2.targets.json', 'start metadata/2.snapshot.json']);
    inner.gates.get('metadata/2.snapshot.json')?.open();
    await tick();
    expect(inner.order).not.toContain('start metadata/timestamp.json');
    inner.gates.get('metadata/2.targets.json')?.open();
    await ts;
    expect(inner.order.at(-1)).toBe('done metadata/timestamp.json');
    expect(committed).toEqual([['metadata/2.targets.json', 'metadata/2.snapshot.json']]);
    await release();
  });

  it('fails the write of timestamp.json, and commits nothing, when a versioned file failed', async () => {
    const inner = new Gated();
    const committed: string[][] = [];
    const s = new PublishStorage(inner, (files) => committed.push(files.map((f) => f.path)));
    const release = await s.lock();
    await s.write('metadata/2.targets.json', bytesOf('t'));
    const ts = s.write('metadata/timestamp.json', bytesOf('ts'));
    await tick();
    inner.gates.get('metadata/2.targets.json')?.fail(new Error('disk full'));
    await expect(ts).rejects.toThrow('disk full');
    expect(inner.files.has('metadata/timestamp.json')).toBe(false);
    expect(committed).toEqual([]);
    await release();
  });

  it('lets no write of a publish go on after its lock is released', async () => {
    const inner = new Gated();
    const s = new PublishStorage(inner, () => {});
    const release = await s.lock();
    await s.write('metadata/2.targets.json', bytesOf('t'));
    let released = false;
    const r = release().then(() => {
      released = true;
    });
    await tick();
    expect(released).toBe(false);
    inner.gates.get('metadata/2.targets.json')?.open();
    await r;
    expect(inner.files.has('metadata/2.targets.json')).toBe(true);
  });
});
