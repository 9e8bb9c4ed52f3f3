/**
 * A hash-binned repository with delegations present (ADR 0025), published by tufa to a directory
 * in python-tuf's layout (consistent snapshots, `N.ROLE.json`), served over HTTP and read by
 * tuf-js's Updater and by tufa's: every tag of the bins resolves, and so does each tag of the
 * delegated role, through it; a tag added afterwards is found after one more refresh.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Updater as TufJsUpdater } from 'tuf-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DelegatedRole, type ExpiryPolicy, Repository, TargetFile, Updater } from '../../src/index.js';
import { FsMetadataStore, FsRepositoryStorage, HttpFetcher } from '../../src/node/index.js';
import { applyHashBinPolicy } from '../../src/repository/hash-bins.js';
import { fixedSigner } from '../helpers/keys.js';
import { useTempDir } from '../helpers/temp-dir.js';
import { type StaticServer, serveDirectory } from './static-server.js';

/** tuf-js reads the system clock: every role is valid for 30 years from NOW. */
const NOW = new Date('2026-01-01T00:00:00Z');
const YEARS_30 = 30 * 365 * 86_400;
const expiry: ExpiryPolicy = {
  root: YEARS_30,
  targets: YEARS_30,
  snapshot: YEARS_30,
  timestamp: YEARS_30,
  delegated: YEARS_30,
};
const keys = {
  root: fixedSigner(301),
  targets: fixedSigner(302),
  snapshot: fixedSigner(303),
  timestamp: fixedSigner(304),
  team: fixedSigner(305),
};
const N = 200;

const tag = (path: string, n: number) =>
  new TargetFile(path, 100 + n, new Map([['sha256', (n + 1).toString(16).padStart(64, 'a')]]));
const appTags = Array.from({ length: N }, (_, i) => tag(`registry.example.com/app:v${i}`, i));
const teamTags = [tag('registry.example.com/team/api:1', 1000), tag('registry.example.com/team/api:2', 1001)];

let tmp = '';
let storage: FsRepositoryStorage;
let server: StaticServer;
let bins: string[] = [];

useTempDir('all', (d) => {
  tmp = d;
});

beforeAll(async () => {
  storage = new FsRepositoryStorage(join(tmp, 'repo'));
  const repo = await Repository.create(storage, {
    keys: {
      root: [keys.root.key],
      targets: [keys.targets.key],
      snapshot: [keys.snapshot.key],
      timestamp: [keys.timestamp.key],
    },
    signers: Object.values(keys),
    expiry,
    now: () => NOW,
  });
  await repo.addDelegation(
    'targets',
    new DelegatedRole({
      name: 'team',
      keyids: [keys.team.key.keyid()],
      threshold: 1,
      terminating: false,
      paths: ['registry.example.com/team/*'],
    }),
    [keys.team.key],
  );
  await repo.addTargets(teamTags, { role: 'team' });
  await repo.addTargets(appTags);
  // Past a threshold of 10 tags: the CLI's path (applyHashBinPolicy), default bin count.
  const d = await applyHashBinPolicy(repo, 10);
  expect(d.action).toBe('move');
  bins = d.bins;
  await repo.publish();
  server = await serveDirectory(storage.dir);
});

afterAll(async () => {
  await server?.close();
});

function tufJs(dir: string): TufJsUpdater {
  return new TufJsUpdater({
    metadataDir: dir,
    metadataBaseUrl: `${server.base}/metadata/`,
    targetDir: join(dir, 'targets'),
    targetBaseUrl: `${server.base}/targets/`,
    config: { fetchRetry: 0 },
  });
}

async function tufJsClient(name: string): Promise<TufJsUpdater> {
  const dir = join(tmp, name);
  await mkdir(join(dir, 'targets'), { recursive: true });
  await writeFile(join(dir, 'root.json'), (await storage.read('metadata/1.root.json')) as Uint8Array);
  return tufJs(dir);
}

async function tufaClient(name: string): Promise<Updater> {
  const store = new FsMetadataStore(join(tmp, name));
  await store.write('root', (await storage.read('metadata/1.root.json')) as Uint8Array);
  return new Updater({
    metadataBaseUrl: `${server.base}/metadata/`,
    targetBaseUrl: `${server.base}/targets/`,
    fetcher: new HttpFetcher({ env: {} }),
    store,
    now: () => NOW,
  });
}

describe('hash bins with delegations present, read by tuf-js and tufa', () => {
  it('is published in python-tuf layout, targets -> [team, bins] -> bins-…', async () => {
    const files = (await readdir(join(storage.dir, 'metadata'))).sort();
    expect(bins.length).toBeGreaterThan(1);
    for (const role of ['root', 'targets', 'snapshot', 'team', 'bins', ...bins]) {
      expect(files, role).toContain(`1.${role}.json`);
    }
    expect(files).toContain('timestamp.json');
  });

  it('tuf-js finds every tag: the bins through role bins, the team tags through team', async () => {
    const client = await tufJsClient('tuf-js');
    await client.refresh();
    for (const t of [...appTags, ...teamTags]) {
      const info = await client.getTargetInfo(t.path);
      expect(info?.length, t.path).toBe(t.length);
      expect(info?.hashes, t.path).toEqual(Object.fromEntries(t.hashes));
    }
    expect(await client.getTargetInfo('registry.example.com/app:missing')).toBeUndefined();
  });

  it("tufa's client finds every tag in the role that signs it", async () => {
    const client = await tufaClient('tufa');
    await client.refresh();
    for (const t of appTags) {
      const info = await client.getTargetInfo(t.path);
      expect(bins, t.path).toContain(info?.role);
      expect(info?.target.length, t.path).toBe(t.length);
    }
    for (const t of teamTags) expect((await client.getTargetInfo(t.path))?.role).toBe('team');
  });

  it('a tag added later without a role is found by both after a refresh', async () => {
    const tufJsC = await tufJsClient('tuf-js-2');
    await tufJsC.refresh();
    const tufaC = await tufaClient('tufa-2');
    await tufaC.refresh();
    const repo = await Repository.open(storage, { signers: Object.values(keys), expiry, now: () => NOW });
    const added = tag('registry.example.com/app:new', 5000);
    await repo.addTargets([added]);
    const bin = await repo.roleForTarget(added.path);
    const { written } = await repo.publish();
    expect([...written].sort()).toEqual(
      [`metadata/2.${bin}.json`, 'metadata/2.snapshot.json', 'metadata/timestamp.json'].sort(),
    );
    const again = tufJs(join(tmp, 'tuf-js-2'));
    await again.refresh();
    expect((await again.getTargetInfo(added.path))?.length).toBe(added.length);
    await tufaC.refresh();
    expect((await tufaC.getTargetInfo(added.path))?.role).toBe(bin);
  });
});

describe('re-binned into more bins (ADR 0031)', () => {
  it('tuf-js and tufa holding the old state update cleanly and find every tag in its new bin', async () => {
    const tufJsC = await tufJsClient('tuf-js-rebin');
    await tufJsC.refresh();
    expect(await tufJsC.getTargetInfo(appTags[7]?.path as string)).toBeDefined(); // an old bin cached
    const tufaC = await tufaClient('tufa-rebin');
    await tufaC.refresh();
    expect(bins).toContain((await tufaC.getTargetInfo(appTags[7]?.path as string))?.role);

    const repo = await Repository.open(storage, { signers: Object.values(keys), expiry, now: () => NOW });
    const before = bins.length;
    const d = await applyHashBinPolicy(repo, 10, { expected: before * before * 16 });
    expect(d.action).toBe('rebin');
    expect(d.bins.length).toBe(before * 4);
    expect(d.bins.some((b) => bins.includes(b))).toBe(false); // one more hex digit: all new names
    await repo.publish();

    const again = tufJs(join(tmp, 'tuf-js-rebin'));
    await again.refresh();
    await tufaC.refresh();
    for (const t of appTags) {
      expect((await again.getTargetInfo(t.path))?.length, t.path).toBe(t.length);
      expect(d.bins, t.path).toContain((await tufaC.getTargetInfo(t.path))?.role);
    }
    for (const t of teamTags) expect((await tufaC.getTargetInfo(t.path))?.role).toBe('team');
    const fresh = await tufJsClient('tuf-js-rebin-fresh');
    await fresh.refresh();
    expect((await fresh.getTargetInfo(appTags[199]?.path as string))?.length).toBe(appTags[199]?.length);
  });
});
