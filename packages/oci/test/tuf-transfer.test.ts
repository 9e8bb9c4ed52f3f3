/**
 * Export and import (nobody is locked in): a repository published into a registry is exported to
 * a directory that tuf-js verifies (Ed25519, a few roles); a repository published to a directory
 * is imported into a registry that tufa's Updater verifies through OciFetcher; the round trip is
 * byte for byte. Real registry, htpasswd auth.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DelegatedRole, Repository, withRepository } from '@tufa/core';
import { FsRepositoryStorage } from '@tufa/core/node';
import { Updater as TufJsUpdater } from 'tuf-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTempDir } from '../../core/test/helpers/temp-dir.js';
import { type StaticServer, serveDirectory } from '../../core/test/interop/static-server.js';
import { MEDIA_TYPES } from '../src/manifest.js';
import { exportRepository, importRepository } from '../src/tuf/transfer.js';
import { failure } from './helpers/failure.js';
import { topLevelKeys } from './helpers/keys.js';
import {
  HAVE_REGISTRY_TOOLS,
  type Registry,
  requireRegistryTools,
  startRegistry,
} from './helpers/registry.js';
import {
  allSigners,
  clientFor,
  expiry,
  image,
  initRepository,
  keys,
  now,
  storageFor,
  trustedRoot,
} from './helpers/tuf-repo.js';

requireRegistryTools();

const USER = { username: 'mover', password: 'Mover-pa55-never-shown-1902' };
let registry: Registry;
let work = '';
const storage = (repo: string) => storageFor(registry.host, repo, USER);
const repoOptions = { signers: allSigners, expiry, now };

async function metadataFiles(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const name of (await readdir(join(dir, 'metadata'))).sort())
    out.set(name, await readFile(join(dir, 'metadata', name)));
  return out;
}

describe.skipIf(!HAVE_REGISTRY_TOOLS)('export and import of TUF repositories in a registry', () => {
  useTempDir('all', (d) => {
    work = d;
  });
  beforeAll(async () => {
    registry = await startRegistry({ mode: 'htpasswd', users: [USER] });
  }, 60_000);
  afterAll(async () => {
    await registry?.stop();
  });

  it('exports what the registry holds to a directory that tuf-js verifies', async () => {
    const s = storage('move/out');
    await initRepository(s);
    await withRepository(s, repoOptions, async (repo) => {
      await repo.addDelegation(
        'targets',
        new DelegatedRole({
          name: 'team',
          keyids: [keys.team.keyid],
          threshold: 1,
          terminating: true,
          paths: ['team/*'],
        }),
        [keys.team.key],
      );
      await repo.addTargets([image('team/app:1', 11)], { role: 'team' });
    });
    await withRepository(s, repoOptions, async (repo) => {
      repo.rotateKeys('root', { add: [keys.root2.key] });
      await repo.addTargets([image('app:2', 12)]);
    });
    const dir = join(work, 'exported');
    const result = await exportRepository(s, dir);
    expect(result.copied.at(-1)).toBe('metadata/timestamp.json');
    expect(result.copied).toContain('metadata/root.json');
    expect([...(await metadataFiles(dir)).keys()]).toEqual(
      [
        '1.root.json',
        '2.root.json',
        'root.json',
        '1.snapshot.json',
        '2.snapshot.json',
        '3.snapshot.json',
        '1.targets.json',
        '2.targets.json',
        '3.targets.json',
        '1.team.json',
        'timestamp.json',
      ].sort(),
    );
    expect(await readFile(join(dir, 'metadata', 'root.json'))).toEqual(
      await readFile(join(dir, 'metadata', '2.root.json')),
    );

    const server: StaticServer = await serveDirectory(dir);
    try {
      const metadataDir = join(work, 'tuf-js-cache');
      await mkdir(metadataDir);
      const { writeFile } = await import('node:fs/promises');
      await writeFile(join(metadataDir, 'root.json'), await trustedRoot(s));
      const tufJs = new TufJsUpdater({
        metadataDir,
        metadataBaseUrl: `${server.base}/metadata/`,
        targetBaseUrl: `${server.base}/targets/`,
        config: { fetchRetry: 0 },
      });
      await tufJs.refresh();
      expect((await tufJs.getTargetInfo('app:1.0'))?.hashes).toEqual(
        Object.fromEntries(image('app:1.0', 1).hashes),
      );
      expect((await tufJs.getTargetInfo('app:2'))?.length).toBe(image('app:2', 12).length);
      expect((await tufJs.getTargetInfo('team/app:1'))?.hashes).toEqual(
        Object.fromEntries(image('team/app:1', 11).hashes),
      );
      expect(await tufJs.getTargetInfo('nobody:1')).toBeUndefined();
      // tuf-js walked to root 2 and kept exactly what the registry holds.
      expect(await readFile(join(metadataDir, 'root.json'))).toEqual(
        await readFile(join(dir, 'metadata', '2.root.json')),
      );
      expect(new Uint8Array(await readFile(join(metadataDir, 'timestamp.json')))).toEqual(
        await s.read('metadata/timestamp.json'),
      );
    } finally {
      await server.close();
    }
  });

  it('imports a directory-published repository into the registry; the export of it is byte for byte the same', async () => {
    const src = join(work, 'published');
    const fs = new FsRepositoryStorage(src);
    const repo = await Repository.create(fs, { keys: topLevelKeys(keys), ...repoOptions });
    await repo.addTargets([image('app:1.0', 1)]);
    await repo.publish();
    await fs.write('targets/readme.txt', new TextEncoder().encode('a file target'));
    await withRepository(fs, repoOptions, (r) => r.addTargets([image('app:1.1', 2)]));

    const to = storage('move/in');
    const result = await importRepository(src, to);
    expect(result.copied).toEqual([
      'metadata/1.root.json',
      'metadata/1.snapshot.json',
      'metadata/1.targets.json',
      'metadata/2.snapshot.json',
      'metadata/2.targets.json',
      'metadata/timestamp.json',
    ]);
    expect(result.skipped.map((x) => x.path)).toEqual(['metadata/root.json', 'targets/']);
    const c = await clientFor(
      registry.host,
      'move/in',
      USER,
      (await fs.read('metadata/1.root.json')) as Uint8Array,
    );
    expect((await c.updater.getTargetInfo('app:1.1'))?.role).toBe('targets');

    const back = join(work, 'round-trip');
    await exportRepository(to, back);
    expect(await metadataFiles(back)).toEqual(await metadataFiles(src));

    // Publishing goes on in the registry; importing the older directory again would roll clients back.
    await withRepository(to, repoOptions, (r) => r.addTargets([image('app:1.2', 3)]));
    const e = await failure(importRepository(src, storage('move/in')));
    expect(e.code).toBe('CONFLICT');
    expect(e.message).toContain('would roll its clients back');

    // The same the other way: exporting the registry again refreshes the directory, but the
    // directory of a newer repository is not overwritten with an older one.
    await exportRepository(to, back);
    const older = storage('move/older');
    await importRepository(src, older);
    const e2 = await failure(exportRepository(older, back));
    expect(e2.code).toBe('CONFLICT');
    expect(e2.message).toContain('would roll its clients back');
  });

  it('importing again is a no-op, also where another writer stored the same bytes under another manifest', async () => {
    const src = join(work, 'again');
    const fs = new FsRepositoryStorage(src);
    const repo = await Repository.create(fs, { keys: topLevelKeys(keys), ...repoOptions });
    await repo.addTargets([image('app:1.0', 1)]);
    await repo.publish();
    const to = storage('move/again');
    await importRepository(src, to);
    // Another implementation's manifest for 1.targets.json: the same blob, one annotation more.
    const client = to.tags.client;
    const ref = `${registry.host}/move/again:_tufa.1.targets`;
    const doc = JSON.parse(new TextDecoder().decode((await client.getManifest(ref)).bytes));
    doc.annotations['org.example.written-by'] = 'another tool';
    const variant = await client.putManifest(
      ref,
      new TextEncoder().encode(JSON.stringify(doc)),
      MEDIA_TYPES.ociManifest,
    );
    const result = await importRepository(src, storage('move/again'));
    expect(result.copied).toContain('metadata/1.targets.json');
    expect((await client.resolve(ref)).digest).toBe(variant);
  });

  it('refuses a repository without consistent snapshots, with a typed error, before writing anything', async () => {
    const src = join(work, 'inconsistent');
    const fs = new FsRepositoryStorage(src);
    const repo = await Repository.create(fs, {
      keys: topLevelKeys(keys),
      ...repoOptions,
      consistentSnapshot: false,
    });
    await repo.publish();
    const e = await failure(importRepository(src, storage('move/never')));
    expect(e.code).toBe('USAGE');
    expect(e.message).toContain('consistent snapshots');
    const s = storage('move/never');
    expect(await s.read('metadata/1.root.json')).toBeUndefined();
  });

  it('refuses to export a registry repository that holds no TUF repository', async () => {
    await initRepository(storage('move/other'));
    const e = await failure(exportRepository(storage('move/empty'), join(work, 'nothing')));
    expect(e.code).toBe('NOT_FOUND');
  });
});
