/**
 * A TUF repository stored in a real registry (docker-registry 2.8, htpasswd auth) through
 * OciRepositoryStorage, read by core's Updater through OciFetcher; a counting proxy in front of
 * the registry sees every request. One registry for the file, one repository per scenario.
 */
import { DelegatedRole, MemoryMetadataStore, Updater, withRepository } from '@tufa/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTempDir } from '../../core/test/helpers/temp-dir.js';
import { RegistryClient } from '../src/client.js';
import { computeDigest } from '../src/digest.js';
import { MEDIA_TYPES } from '../src/manifest.js';
import { OciFetcher } from '../src/tuf/fetcher.js';
import { MetadataTags } from '../src/tuf/files.js';
import { buildMetadataManifest } from '../src/tuf/manifest.js';
import { failure } from './helpers/failure.js';
import { type CountingProxy, startCountingProxy } from './helpers/proxy.js';
import {
  HAVE_REGISTRY_TOOLS,
  pushImage,
  type Registry,
  requireRegistryTools,
  startRegistry,
  writeImageLayout,
} from './helpers/registry.js';
import {
  allSigners,
  clientFor,
  clientOptions,
  expiry,
  image,
  initRepository,
  keys,
  now,
  storageFor,
  trustedRoot,
} from './helpers/tuf-repo.js';

requireRegistryTools();

const USER = { username: 'publisher', password: 'Pub-pa55-never-shown-8812' };
let registry: Registry;
let proxy: CountingProxy;
let work = '';

const storage = (repo: string) => storageFor(proxy.host, repo, USER);
const rawClient = () => new RegistryClient({ ...clientOptions(USER), actions: ['pull', 'push'] });

describe.skipIf(!HAVE_REGISTRY_TOOLS)('TUF metadata in a registry (htpasswd)', () => {
  useTempDir('all', (d) => {
    work = d;
  });
  beforeAll(async () => {
    registry = await startRegistry({ mode: 'htpasswd', users: [USER] });
    proxy = await startCountingProxy(registry.url);
  }, 60_000);
  afterAll(async () => {
    await proxy?.stop();
    await registry?.stop();
  });

  it('init, sign, verify: the Updater finds what was signed, and each tag holds the TUF file byte for byte', async () => {
    const s = storage('team/app');
    await initRepository(s);
    await withRepository(s, { signers: allSigners, expiry, now }, (repo) =>
      repo.addTargets([image('app:2.0', 2)]),
    );
    const c = await clientFor(proxy.host, 'team/app', USER, await trustedRoot(s));
    await c.updater.refresh();
    expect((await c.updater.getTargetInfo('app:1.0'))?.target.hashes).toEqual(image('app:1.0', 1).hashes);
    expect((await c.updater.getTargetInfo('app:2.0'))?.role).toBe('targets');
    const tags = (await rawClient().listTags(`${proxy.host}/team/app`)).sort();
    expect(tags).toEqual(
      [
        '_tufa.1.root',
        '_tufa.1.snapshot',
        '_tufa.1.targets',
        '_tufa.2.snapshot',
        '_tufa.2.targets',
        '_tufa.lease',
        '_tufa.timestamp',
      ].sort(),
    );
    // The layer blob is exactly the file the store verified and kept.
    const ts = await s.tags.read({ role: 'timestamp', version: undefined }, 1 << 20);
    expect(ts?.bytes).toEqual(await c.store.read('timestamp'));
    expect(ts?.manifestDigest).toBe(
      computeDigest(
        buildMetadataManifest({ role: 'timestamp', version: undefined }, ts?.bytes as Uint8Array),
      ),
    );
  });

  it('a refresh that finds nothing new costs two requests: the next-root probe and a HEAD of the timestamp tag', async () => {
    const s = storage('team/budget');
    await initRepository(s);
    const root = await trustedRoot(s);
    const c = await clientFor(proxy.host, 'team/budget', USER, root);
    // A first refresh, with no timestamp to compare: every file by tag, no HEAD.
    proxy.seen.length = 0;
    await c.updater.refresh();
    expect(
      proxy.seen.map((r) => `${r.method} ${r.path.replace(/sha256:[0-9a-f]{64}/, 'DIGEST')} ${r.status}`),
    ).toEqual([
      'GET /v2/team/budget/manifests/_tufa.2.root 401',
      'GET /v2/team/budget/manifests/_tufa.2.root 404',
      'GET /v2/team/budget/manifests/_tufa.timestamp 200',
      'GET /v2/team/budget/blobs/DIGEST 200',
      'GET /v2/team/budget/manifests/_tufa.1.snapshot 200',
      'GET /v2/team/budget/blobs/DIGEST 200',
      'GET /v2/team/budget/manifests/_tufa.1.targets 200',
      'GET /v2/team/budget/blobs/DIGEST 200',
    ]);
    proxy.seen.length = 0;
    // Same process, same client: the Basic credentials earned by the first 401 are kept.
    const again = await clientFor(proxy.host, 'team/budget', USER, root, c.store);
    await c.updater.refresh();
    expect(proxy.seen.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'GET /v2/team/budget/manifests/_tufa.2.root 404',
      'HEAD /v2/team/budget/manifests/_tufa.timestamp 200',
    ]);
    // A new client (a new process): one 401 challenge more, answered with Basic credentials.
    proxy.seen.length = 0;
    await again.updater.refresh();
    expect(proxy.seen.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'GET /v2/team/budget/manifests/_tufa.2.root 401',
      'GET /v2/team/budget/manifests/_tufa.2.root 404',
      'HEAD /v2/team/budget/manifests/_tufa.timestamp 200',
    ]);
    // Something new: the timestamp's manifest by digest and its blob, then snapshot and targets.
    await withRepository(s, { signers: allSigners, expiry, now }, (repo) =>
      repo.addTargets([image('app:3', 3)]),
    );
    proxy.seen.length = 0;
    await c.updater.refresh();
    expect(proxy.seen.map((r) => `${r.method} ${r.path.replace(/sha256:[0-9a-f]{64}/, 'DIGEST')}`)).toEqual([
      'GET /v2/team/budget/manifests/_tufa.2.root',
      'HEAD /v2/team/budget/manifests/_tufa.timestamp',
      'GET /v2/team/budget/manifests/DIGEST',
      'GET /v2/team/budget/blobs/DIGEST',
      'GET /v2/team/budget/manifests/_tufa.2.snapshot',
      'GET /v2/team/budget/blobs/DIGEST',
      'GET /v2/team/budget/manifests/_tufa.2.targets',
      'GET /v2/team/budget/blobs/DIGEST',
    ]);
    expect((await c.updater.getTargetInfo('app:3'))?.role).toBe('targets');
  });

  it('root rotation: a client holding root 1 walks to root 2 and trusts only the new key', async () => {
    const s = storage('team/rotate');
    await initRepository(s);
    const c = await clientFor(proxy.host, 'team/rotate', USER, await trustedRoot(s));
    await c.updater.refresh();
    await withRepository(s, { signers: allSigners, expiry, now }, async (repo) => {
      repo.rotateKeys('root', { add: [keys.root2.key], remove: [keys.root.keyid] });
    });
    expect(await s.latestRootVersion()).toBe(2);
    expect(await s.read('metadata/root.json')).toEqual(await s.read('metadata/2.root.json'));
    await c.updater.refresh();
    expect(c.updater.trustedSet?.root.signed.version).toBe(2);
    expect(c.updater.trustedSet?.root.signed.role('root').keyids).toEqual([keys.root2.keyid]);
    // Publishing goes on under the new root.
    await withRepository(s, { signers: allSigners, expiry, now }, (repo) =>
      repo.addTargets([image('app:4', 4)]),
    );
    await c.updater.refresh();
    expect((await c.updater.getTargetInfo('app:4'))?.role).toBe('targets');
  });

  it('delegations: a delegated role (a name that needs encoding) signs its paths', async () => {
    const s = storage('team/deleg');
    await initRepository(s);
    const role = 'Team Ops α';
    await withRepository(s, { signers: allSigners, expiry, now }, async (repo) => {
      await repo.addDelegation(
        'targets',
        new DelegatedRole({
          name: role,
          keyids: [keys.team.keyid],
          threshold: 1,
          terminating: true,
          paths: ['team/*'],
        }),
        [keys.team.key],
      );
      await repo.addTargets([image('team/app:1', 5)], { role });
    });
    const tags = await rawClient().listTags(`${proxy.host}/team/deleg`);
    expect(tags).toContain('_tufa.1._54eam_20_4fps_20_ce_b1');
    const c = await clientFor(proxy.host, 'team/deleg', USER, await trustedRoot(s));
    expect(await c.updater.getTargetInfo('team/app:1')).toMatchObject({ role });
    expect(await c.updater.getTargetInfo('other:1')).toBeUndefined();
  });

  it("a manifest declaring more bytes than the Updater's limit: refused before the blob is fetched", async () => {
    const s = storage('team/limit');
    await initRepository(s);
    const root = await trustedRoot(s);
    // 20 000 bytes under the timestamp tag; the Updater takes at most 16 384 for timestamp.json.
    await new MetadataTags(rawClient(), s.tags.repository).write(
      { role: 'timestamp', version: undefined },
      new Uint8Array(20_000).fill(0x20),
    );
    const c = await clientFor(proxy.host, 'team/limit', USER, root);
    proxy.seen.length = 0;
    const e = await failure(c.updater.refresh());
    expect(e.code).toBe('DOWNLOAD_LIMIT');
    expect(e.message).toContain('the file is 20000 bytes, expected at most 16384');
    expect(proxy.seen.filter((r) => r.path.includes('/blobs/'))).toEqual([]);
  });

  it('a manifest of more than 64 KiB under a metadata tag: the default client stops reading it', async () => {
    const s = storage('team/big');
    await initRepository(s);
    const root = await trustedRoot(s);
    const ts = (await s.read('metadata/timestamp.json')) as Uint8Array;
    const doc = JSON.parse(
      new TextDecoder().decode(buildMetadataManifest({ role: 'timestamp', version: undefined }, ts)),
    );
    doc.annotations.padding = 'x'.repeat(100 * 1024);
    await rawClient().putManifest(
      `${proxy.host}/team/big:_tufa.timestamp`,
      new TextEncoder().encode(JSON.stringify(doc)),
      MEDIA_TYPES.ociManifest,
    );
    const store = new MemoryMetadataStore();
    await store.write('root', root);
    const fetcher = new OciFetcher(`${proxy.host}/team/big`, { clientOptions: clientOptions(USER) });
    const updater = new Updater({ metadataBaseUrl: fetcher.metadataBaseUrl, fetcher, store, now });
    const e = await failure(updater.refresh());
    expect(e.code).toBe('DOWNLOAD_LIMIT');
    expect(e.message).toContain('65536');
  });

  it('a blob longer or shorter than its manifest says: refused on the bytes read', async () => {
    const s = storage('team/length');
    await initRepository(s);
    const root = await trustedRoot(s);
    const m = await rawClient().getManifest(`${proxy.host}/team/length:_tufa.1.snapshot`);
    const layer = JSON.parse(new TextDecoder().decode(m.bytes)).layers[0].digest as string;
    const cases: [string, (b: Buffer) => Buffer, string, string][] = [
      ['longer', (b) => Buffer.concat([b, Buffer.alloc(4096, 0x20)]), 'DOWNLOAD_LIMIT', 'expected at most'],
      ['shorter', (b) => b.subarray(0, b.length - 1), 'LENGTH_OR_HASH', 'the registry sent a blob of'],
    ];
    for (const [what, change, code, message] of cases) {
      proxy.rewrite = (_m, path, body) => (path.endsWith(`/blobs/${layer}`) ? change(body) : body);
      try {
        const e = await failure((await clientFor(proxy.host, 'team/length', USER, root)).updater.refresh());
        expect(e.code, what).toBe(code);
        expect(e.message, what).toContain(message);
      } finally {
        proxy.rewrite = undefined;
      }
    }
  });

  it('a registry that moves the timestamp tag back to an older manifest: refused as a rollback', async () => {
    const s = storage('team/rollback');
    await initRepository(s);
    const old = await rawClient().getManifest(`${proxy.host}/team/rollback:_tufa.timestamp`);
    await withRepository(s, { signers: allSigners, expiry, now }, (repo) =>
      repo.addTargets([image('app:9', 9)]),
    );
    const c = await clientFor(proxy.host, 'team/rollback', USER, await trustedRoot(s));
    await c.updater.refresh();
    await rawClient().putManifest(
      `${proxy.host}/team/rollback:_tufa.timestamp`,
      old.bytes,
      MEDIA_TYPES.ociManifest,
    );
    const e = await failure(c.updater.refresh());
    expect(e.code).toBe('ROLLBACK');
    expect(e.message).toMatch(/timestamp/);
  });

  it('a registry that serves other bytes under a versioned name: refused (manifest check, hashes, digest)', async () => {
    const s = storage('team/bytes');
    await initRepository(s);
    await withRepository(s, { signers: allSigners, expiry, now }, (repo) =>
      repo.addTargets([image('app:8', 8)]),
    );
    const root = await trustedRoot(s);
    const client = rawClient();
    const ref = `${proxy.host}/team/bytes:_tufa.2.targets`;
    const good = await client.getManifest(ref);
    const v1 = (await s.read('metadata/1.targets.json')) as Uint8Array;
    const tags = new MetadataTags(client, s.tags.repository);
    const fresh = async () => (await clientFor(proxy.host, 'team/bytes', USER, root)).updater;

    // (a) version 1's manifest re-tagged as version 2: its annotations name another file.
    await client.putManifest(
      ref,
      (await client.getManifest(`${proxy.host}/team/bytes:_tufa.1.targets`)).bytes,
      MEDIA_TYPES.ociManifest,
    );
    let e = await failure((await fresh()).refresh());
    expect(e).toMatchObject({ code: 'FORMAT' });
    expect(e.message).toContain('expected role "targets" version "2"');

    // (b) a well-formed manifest for 2.targets.json whose blob is other (validly signed) bytes: snapshot's hashes refuse it.
    await tags.write({ role: 'targets', version: 2 }, v1);
    e = await failure((await fresh()).refresh());
    expect(e.code).toBe('LENGTH_OR_HASH');

    // (c) the right manifest, but the registry sends other bytes for its blob: the digest check refuses them.
    await client.putManifest(ref, good.bytes, MEDIA_TYPES.ociManifest);
    const [layerDigest] = JSON.parse(new TextDecoder().decode(good.bytes)).layers.map(
      (l: { digest: string }) => l.digest,
    );
    // Same length, one byte different.
    proxy.rewrite = (_m, path, body) => {
      if (!path.endsWith(`/blobs/${layerDigest}`)) return body;
      const changed = Buffer.from(body);
      changed[changed.length - 2] = (changed[changed.length - 2] as number) ^ 1;
      return changed;
    };
    try {
      e = await failure((await fresh()).refresh());
      expect(e.code).toBe('LENGTH_OR_HASH');
      expect(e.message).toContain('digest');
    } finally {
      proxy.rewrite = undefined;
    }

    // (d) an image under the timestamp tag: not a tufa metadata manifest.
    const img = writeImageLayout(work, { seed: 'not-metadata' });
    await pushImage(img, `${proxy.host}/team/bytes:_tufa.timestamp`, { credentials: USER });
    e = await failure((await fresh()).refresh());
    expect(e.code).toBe('FORMAT');
    expect(e.message).toContain('artifactType');
  });
});
