/**
 * A repository that tufa's Repository creates and publishes (FsRepositoryStorage in a temporary
 * directory), served by a local static HTTP server, read by tuf-js's Updater and by tufa's own.
 *
 * The history: (1) a first publish with container-image targets (`registry.example.com/...:TAG`,
 * sha256 and length only), two real files stored as `targets/DIR/HASH.NAME`, and two delegated
 * roles for `registry.example.com/team/*`, the first terminating; (2) more targets in both
 * roles; (3) a root key rotation; (4) a targets key rotation. After each publish both clients,
 * keeping their metadata caches from the step before, refresh cleanly and find every target in
 * the role that signs it, and download a stored file. A client new at the end walks root 1 -> 3.
 *
 * tuf-js is known wrong on UTF-16 key order, integer-like role names, P-384 and minimatch paths
 * (see tuf-js.test.ts); this repository stays clear of them: ASCII names, Ed25519 keys, and
 * `paths` patterns where fnmatch and minimatch agree.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Updater as TufJsUpdater } from 'tuf-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DelegatedRole,
  type ExpiryPolicy,
  MemoryMetadataStore,
  Metadata,
  Repository,
  TargetFile,
  Updater,
} from '../../src/index.js';
import {
  downloadTargetToFile,
  FsMetadataStore,
  FsRepositoryStorage,
  HttpFetcher,
  LOCK_FILE,
  localTargetPath,
} from '../../src/node/index.js';
import { fixedSigner } from '../helpers/keys.js';
import { useTempDir } from '../helpers/temp-dir.js';
import { type StaticServer, serveDirectory } from './static-server.js';

const DAY = 86_400_000;
/** The repository's clock: fixed, moving one day per publish. */
const START = new Date('2026-01-01T00:00:00Z');
/**
 * tuf-js reads the system clock, so every role is valid for 30 years from START; tufa's client
 * is given the repository's clock instead.
 */
const YEARS_30 = 30 * 365 * 86_400;
const expiry: ExpiryPolicy = {
  root: YEARS_30,
  targets: YEARS_30,
  snapshot: YEARS_30,
  timestamp: YEARS_30,
  delegated: YEARS_30,
};

const keys = {
  root1: fixedSigner(201),
  root2: fixedSigner(202),
  targets1: fixedSigner(203),
  targets2: fixedSigner(204),
  snapshot: fixedSigner(205),
  timestamp: fixedSigner(206),
  team: fixedSigner(207),
  late: fixedSigner(208),
};

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');
const enc = new TextEncoder();

const IMAGE_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';

/** An image-digest target: only a digest and a length, like a registry manifest. */
function image(path: string): TargetFile {
  const length = 500 + (sha256(path).charCodeAt(0) % 64);
  const digest = sha256(`manifest of ${path}`);
  return new TargetFile(path, length, new Map([['sha256', digest]]), {
    custom: { mediaType: IMAGE_MEDIA_TYPE },
  });
}

/** Real files, stored under targets/ as DIR/HASH.NAME. */
const FILES: Record<string, Uint8Array> = {
  'docs/README.md': enc.encode('# tufa interop\n\nsigned by tufa, read by tuf-js\n'),
  'downloads/tool-1.0.tar.gz': new Uint8Array(4096).map((_, i) => (i * 7 + 3) & 0xff),
  'registry.example.com/team/app.sbom.json': enc.encode('{"spdxVersion":"SPDX-2.3","name":"app"}\n'),
};

let clock = START;
let storage: FsRepositoryStorage;
let server: StaticServer;
let tmp: string;
/** Which role must answer for each target path (undefined: nobody may). */
const expected = new Map<string, string | undefined>();

async function open(signers: (keyof typeof keys)[]): Promise<Repository> {
  clock = new Date(clock.getTime() + DAY);
  return Repository.open(storage, {
    signers: signers.map((k) => keys[k]),
    expiry,
    now: () => clock,
  });
}

/** Stores a real file's bytes at the path a consistent-snapshot client asks for. */
async function storeTargetFile(path: string): Promise<TargetFile> {
  const bytes = FILES[path] as Uint8Array;
  const target = await TargetFile.fromData(path, bytes);
  const slash = path.lastIndexOf('/');
  const stored = `targets/${path.slice(0, slash + 1)}${target.hashes.get('sha256')}.${path.slice(slash + 1)}`;
  await storage.write(stored, bytes);
  return target;
}

function rootVersionOf(bytes: Uint8Array): number {
  return Metadata.fromBytes(bytes, 'root').signed.version;
}

useTempDir('all', (d) => {
  tmp = d;
});
beforeAll(async () => {
  storage = new FsRepositoryStorage(join(tmp, 'repo'));
  server = await serveDirectory(storage.dir);
});

afterAll(async () => {
  await server?.close();
});

/** Long-lived clients: their caches carry over from one publish to the next. */
let tufJsMetadataDir = '';
let tufJsTargetDir = '';
let tufaStore: FsMetadataStore;
let tufaTargetDir = '';

function tufJsClient(metadataDir = tufJsMetadataDir, targetDir = tufJsTargetDir): TufJsUpdater {
  return new TufJsUpdater({
    metadataDir,
    metadataBaseUrl: `${server.base}/metadata/`,
    targetDir,
    targetBaseUrl: `${server.base}/targets/`,
    config: { fetchRetry: 0 },
  });
}

function tufaClient(store = tufaStore): Updater {
  return new Updater({
    metadataBaseUrl: `${server.base}/metadata/`,
    targetBaseUrl: `${server.base}/targets/`,
    fetcher: new HttpFetcher({ env: {} }),
    store,
    now: () => clock,
  });
}

async function rootV1(): Promise<Uint8Array> {
  return (await storage.read('metadata/1.root.json')) as Uint8Array;
}

/** tuf-js refreshes and finds every expected target (and nothing where nothing is expected). */
async function checkTufJs(client: TufJsUpdater, metadataDir: string, rootVersion: number): Promise<void> {
  await client.refresh();
  expect(rootVersionOf(new Uint8Array(await readFile(join(metadataDir, 'root.json'))))).toBe(rootVersion);
  for (const [path, role] of expected) {
    const info = await client.getTargetInfo(path);
    if (role === undefined) {
      expect(info, path).toBeUndefined();
      continue;
    }
    expect(info?.path, path).toBe(path);
    const want = await signedTarget(path, role);
    expect(info?.length, path).toBe(want.length);
    expect(info?.hashes, path).toEqual(Object.fromEntries(want.hashes));
    expect(info?.custom, path).toEqual(want.custom ?? {});
  }
  // What tuf-js cached is what the repository serves now.
  for (const role of ['timestamp', 'snapshot', 'targets', 'team']) {
    expect(new Uint8Array(await readFile(join(metadataDir, `${role}.json`))), role).toEqual(
      await servedBytes(role),
    );
  }
}

/** The bytes a client must end up with for `role` after refreshing against the repository now. */
async function servedBytes(role: string): Promise<Uint8Array> {
  const ts = (await storage.read('metadata/timestamp.json')) as Uint8Array;
  if (role === 'timestamp') return ts;
  const snVersion = Metadata.fromBytes(ts, 'timestamp').signed.snapshotMeta.version;
  const sn = (await storage.read(`metadata/${snVersion}.snapshot.json`)) as Uint8Array;
  if (role === 'snapshot') return sn;
  const meta = Metadata.fromBytes(sn, 'snapshot').signed.roleMeta(role);
  return (await storage.read(`metadata/${meta?.version}.${role}.json`)) as Uint8Array;
}

/** tufa refreshes and finds every expected target in the expected role. */
async function checkTufa(client: Updater, store: FsMetadataStore, rootVersion: number): Promise<void> {
  await client.refresh();
  expect(client.trustedSet?.root.signed.version).toBe(rootVersion);
  for (const [path, role] of expected) {
    const info = await client.getTargetInfo(path);
    if (role === undefined) {
      expect(info, path).toBeUndefined();
      continue;
    }
    expect(info?.role, path).toBe(role);
    const want = await signedTarget(path, role);
    expect(info?.target.length, path).toBe(want.length);
    expect(info?.target.hashes, path).toEqual(want.hashes);
    expect(info?.target.custom, path).toEqual(want.custom);
  }
  // What tufa cached is what the repository serves now.
  for (const role of ['timestamp', 'snapshot', 'targets', 'team']) {
    expect(await store.read(role), role).toEqual(await servedBytes(role));
  }
}

/** The target as the published metadata of `role` lists it. */
async function signedTarget(path: string, role: string): Promise<TargetFile> {
  const repo = await Repository.open(storage, { expiry, now: () => clock });
  const t = (await repo.listTargets(role)).find((x) => x.path === path);
  if (!t) throw new Error(`${role} does not list ${path}`);
  return t;
}

async function downloadWithTufJs(client: TufJsUpdater, path: string): Promise<void> {
  const info = await client.getTargetInfo(path);
  if (!info) throw new Error(`tuf-js did not find ${path}`);
  const file = await client.downloadTarget(info);
  expect(new Uint8Array(await readFile(file))).toEqual(FILES[path]);
}

async function downloadWithTufa(client: Updater, path: string): Promise<void> {
  const info = await client.getTargetInfo(path);
  if (!info) throw new Error(`tufa did not find ${path}`);
  const dest = localTargetPath(tufaTargetDir, path);
  await rm(dest, { force: true });
  const result = await downloadTargetToFile(client, info.target, dest);
  expect(result.cached).toBe(false);
  expect(new Uint8Array(await readFile(dest))).toEqual(FILES[path]);
}

describe('1: tufa creates and publishes a repository', () => {
  beforeAll(async () => {
    const repo = await Repository.create(storage, {
      keys: {
        root: [keys.root1.key],
        targets: [keys.targets1.key],
        snapshot: [keys.snapshot.key],
        timestamp: [keys.timestamp.key],
      },
      signers: [keys.root1, keys.targets1, keys.snapshot, keys.timestamp, keys.team, keys.late],
      expiry,
      now: () => clock,
    });
    const base = ['1.0', '1.1', '2.0', '2.1', 'latest'].map((t) =>
      image(`registry.example.com/base/runtime:${t}`),
    );
    await repo.addTargets([
      ...base,
      await storeTargetFile('docs/README.md'),
      await storeTargetFile('downloads/tool-1.0.tar.gz'),
    ]);
    // `team` answers for everything under registry.example.com/team/ and is terminating, so
    // `late`, listed after it for the same paths, is never consulted.
    const teamPaths = ['registry.example.com/team/*'];
    await repo.addDelegation(
      'targets',
      new DelegatedRole({
        name: 'team',
        keyids: [keys.team.keyid],
        threshold: 1,
        terminating: true,
        paths: teamPaths,
      }),
      [keys.team.key],
    );
    await repo.addDelegation(
      'targets',
      new DelegatedRole({
        name: 'late',
        keyids: [keys.late.keyid],
        threshold: 1,
        terminating: false,
        paths: teamPaths,
      }),
      [keys.late.key],
    );
    const teamTags = ['1.0', '1.1', '1.2', '2.0', '2.1', '2.2', '3.0-rc1', 'stable', 'latest', 'sha-4f2a9c1'];
    await repo.addTargets(
      [
        ...teamTags.map((t) => image(`registry.example.com/team/app:${t}`)),
        image('registry.example.com/team/worker:1.0'),
        image('registry.example.com/team/worker:1.1'),
        await storeTargetFile('registry.example.com/team/app.sbom.json'),
      ],
      { role: 'team' },
    );
    await repo.addTargets([image('registry.example.com/team/shadow:1.0')], { role: 'late' });
    const result = await repo.publish();
    expect(result.written.at(-1)).toBe('metadata/timestamp.json');
    expect(result.written).toContain('metadata/1.root.json');
    expect(result.written).toContain('metadata/1.team.json');
    // The lock is released (it is not a repository file: storage.read refuses its name).
    expect(await readdir(storage.dir)).not.toContain(LOCK_FILE);

    for (const t of base) expected.set(t.path, 'targets');
    expected.set('docs/README.md', 'targets');
    expected.set('downloads/tool-1.0.tar.gz', 'targets');
    for (const t of teamTags) expected.set(`registry.example.com/team/app:${t}`, 'team');
    expected.set('registry.example.com/team/worker:1.0', 'team');
    expected.set('registry.example.com/team/worker:1.1', 'team');
    expected.set('registry.example.com/team/app.sbom.json', 'team');
    // Signed by `late`, but unreachable behind the terminating `team`.
    expected.set('registry.example.com/team/shadow:1.0', undefined);
    expected.set('registry.example.com/team/app:9.9', undefined);
    expected.set('registry.example.com/other/app:1.0', undefined);

    tufJsMetadataDir = join(tmp, 'tuf-js', 'metadata');
    tufJsTargetDir = join(tmp, 'tuf-js', 'targets');
    await mkdir(tufJsMetadataDir, { recursive: true });
    await mkdir(tufJsTargetDir, { recursive: true });
    await writeFile(join(tufJsMetadataDir, 'root.json'), await rootV1());
    tufaStore = await FsMetadataStore.initialize(join(tmp, 'tufa', 'metadata'), await rootV1());
    tufaTargetDir = join(tmp, 'tufa', 'targets');
  });

  it('publishes about twenty image targets, in targets and in delegated roles', () => {
    const images = [...expected.keys()].filter((p) => p.includes(':'));
    expect(images.length).toBeGreaterThanOrEqual(20);
  });

  it('tuf-js refreshes, finds every target and downloads stored files', async () => {
    const client = tufJsClient();
    await checkTufJs(client, tufJsMetadataDir, 1);
    await downloadWithTufJs(client, 'docs/README.md');
    await downloadWithTufJs(client, 'registry.example.com/team/app.sbom.json');
  });

  it('tufa refreshes, finds every target in its role and downloads stored files', async () => {
    const client = tufaClient();
    await checkTufa(client, tufaStore, 1);
    await downloadWithTufa(client, 'docs/README.md');
    await downloadWithTufa(client, 'downloads/tool-1.0.tar.gz');
    await downloadWithTufa(client, 'registry.example.com/team/app.sbom.json');
  });
});

describe('2: new targets in targets and in the delegated role', () => {
  beforeAll(async () => {
    const repo = await open(['targets1', 'snapshot', 'timestamp', 'team']);
    await repo.addTargets([image('registry.example.com/base/runtime:3.0')]);
    await repo.addTargets(
      [image('registry.example.com/team/app:4.0'), image('registry.example.com/team/worker:2.0')],
      { role: 'team' },
    );
    await repo.removeTarget('registry.example.com/team/app:3.0-rc1', { role: 'team' });
    const result = await repo.publish();
    expect(result.written).toEqual([
      'metadata/2.targets.json',
      'metadata/2.team.json',
      'metadata/2.snapshot.json',
      'metadata/timestamp.json',
    ]);
    expected.set('registry.example.com/base/runtime:3.0', 'targets');
    expected.set('registry.example.com/team/app:4.0', 'team');
    expected.set('registry.example.com/team/worker:2.0', 'team');
    expected.set('registry.example.com/team/app:3.0-rc1', undefined);
  });

  it('tuf-js refreshes from its cache and sees the change', async () => {
    await checkTufJs(tufJsClient(), tufJsMetadataDir, 1);
  });

  it('tufa refreshes from its cache and sees the change', async () => {
    await checkTufa(tufaClient(), tufaStore, 1);
  });
});

describe('3: root key rotation', () => {
  beforeAll(async () => {
    // The new root is signed by the old root key (the client's trust) and by the new one.
    const repo = await open(['root1', 'root2', 'snapshot', 'timestamp']);
    repo.rotateKeys('root', { add: [keys.root2.key], remove: [keys.root1.keyid] });
    const result = await repo.publish();
    expect(result.written).toEqual([
      'metadata/2.root.json',
      'metadata/3.snapshot.json',
      'metadata/root.json',
      'metadata/timestamp.json',
    ]);
    const root2 = Metadata.fromBytes((await storage.read('metadata/2.root.json')) as Uint8Array, 'root');
    expect([...root2.signatures.keys()].sort()).toEqual([keys.root1.keyid, keys.root2.keyid].sort());
  });

  it('tuf-js follows the rotation', async () => {
    const client = tufJsClient();
    await checkTufJs(client, tufJsMetadataDir, 2);
    await downloadWithTufJs(client, 'downloads/tool-1.0.tar.gz');
  });

  it('tufa follows the rotation', async () => {
    await checkTufa(tufaClient(), tufaStore, 2);
  });
});

describe('4: targets key rotation', () => {
  beforeAll(async () => {
    // The old root key and the old targets key are gone: neither is needed any more.
    const repo = await open(['root2', 'targets2', 'snapshot', 'timestamp']);
    repo.rotateKeys('targets', { add: [keys.targets2.key], remove: [keys.targets1.keyid] });
    const result = await repo.publish();
    expect(result.written).toEqual([
      'metadata/3.root.json',
      'metadata/3.targets.json',
      'metadata/4.snapshot.json',
      'metadata/root.json',
      'metadata/timestamp.json',
    ]);
    const targets = Metadata.fromBytes((await storage.read('metadata/3.targets.json')) as Uint8Array);
    expect([...targets.signatures.keys()]).toEqual([keys.targets2.keyid]);
  });

  it('tuf-js refreshes: the cached targets no longer verify, the new ones do', async () => {
    const client = tufJsClient();
    await checkTufJs(client, tufJsMetadataDir, 3);
    await downloadWithTufJs(client, 'registry.example.com/team/app.sbom.json');
  });

  it('tufa refreshes: the cached targets no longer verify, the new ones do', async () => {
    const client = tufaClient();
    await checkTufa(client, tufaStore, 3);
    await downloadWithTufa(client, 'registry.example.com/team/app.sbom.json');
  });

  it('a new tuf-js client trusting root 1 walks 1 -> 2 -> 3 and downloads', async () => {
    const metadataDir = join(tmp, 'tuf-js-fresh', 'metadata');
    const targetDir = join(tmp, 'tuf-js-fresh', 'targets');
    await mkdir(metadataDir, { recursive: true });
    await mkdir(targetDir, { recursive: true });
    await writeFile(join(metadataDir, 'root.json'), await rootV1());
    const client = tufJsClient(metadataDir, targetDir);
    await checkTufJs(client, metadataDir, 3);
    await downloadWithTufJs(client, 'downloads/tool-1.0.tar.gz');
  });

  it('a new tufa client trusting root 1 walks 1 -> 2 -> 3 and downloads', async () => {
    const store = await FsMetadataStore.initialize(join(tmp, 'tufa-fresh', 'metadata'), await rootV1());
    const client = tufaClient(store);
    await checkTufa(client, store, 3);
    await downloadWithTufa(client, 'docs/README.md');
  });
});

// A delegated role whose name needs percent-encoding in URLs (`team images`) is stored under
// its plain name (`metadata/1.team images.json`): clients request `1.team%20images.json` and
// static servers decode the request to that file.
describe('a delegated role whose name needs percent-encoding in URLs', () => {
  let encStorage: FsRepositoryStorage;
  let encServer: StaticServer;
  const path = 'registry.example.com/images/app:1.0';

  beforeAll(async () => {
    encStorage = new FsRepositoryStorage(join(tmp, 'encoded-role'));
    const repo = await Repository.create(encStorage, {
      keys: {
        root: [keys.root1.key],
        targets: [keys.targets1.key],
        snapshot: [keys.snapshot.key],
        timestamp: [keys.timestamp.key],
      },
      signers: [keys.root1, keys.targets1, keys.snapshot, keys.timestamp, keys.team],
      expiry,
      now: () => clock,
    });
    await repo.addDelegation(
      'targets',
      new DelegatedRole({
        name: 'team images',
        keyids: [keys.team.keyid],
        threshold: 1,
        terminating: false,
        paths: ['registry.example.com/images/*'],
      }),
      [keys.team.key],
    );
    await repo.addTargets([image(path)], { role: 'team images' });
    await repo.publish();
    encServer = await serveDirectory(encStorage.dir);
  });

  afterAll(async () => {
    await encServer?.close();
  });

  it('tufa finds the target over HTTP', async () => {
    const store = new MemoryMetadataStore();
    await store.write('root', (await encStorage.read('metadata/1.root.json')) as Uint8Array);
    const client = new Updater({
      metadataBaseUrl: `${encServer.base}/metadata/`,
      fetcher: new HttpFetcher({ env: {} }),
      store,
      now: () => clock,
    });
    expect((await client.getTargetInfo(path))?.role).toBe('team images');
  });

  it('tuf-js finds the target over HTTP', async () => {
    const metadataDir = join(tmp, 'encoded-role-tuf-js');
    await mkdir(metadataDir, { recursive: true });
    await writeFile(
      join(metadataDir, 'root.json'),
      (await encStorage.read('metadata/1.root.json')) as Uint8Array,
    );
    const client = new TufJsUpdater({
      metadataDir,
      metadataBaseUrl: `${encServer.base}/metadata/`,
      config: { fetchRetry: 0 },
    });
    expect((await client.getTargetInfo(path))?.path).toBe(path);
  });
});
