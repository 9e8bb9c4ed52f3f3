/**
 * What docs/publishing.md promises about an interrupted publish, checked on a repository in a
 * directory (FsRepositoryStorage) read by a client through FileFetcher:
 *  - a publish that stops at any write leaves clients on the previous version, releases the
 *    lock, and running the same change again completes it;
 *  - a lock held by a running publisher blocks the next publish (a lock left by a killed one is
 *    taken over: test/node/publish-lock.test.ts);
 *  - a key rotation done in two phases (add the new key, publish; remove the old key, publish)
 *    keeps clients working even when a publish stops just before `timestamp.json`;
 *  - without consistent snapshots, a client that sees a new snapshot.json with an old
 *    targets.json (or the reverse) fails verification, and succeeds once the set is complete.
 *  - after a one-step targets key rotation that stops before `timestamp.json`, reopening the
 *    repository and publishing repairs it.
 */
import { copyFile, cp, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MemoryMetadataStore, Repository, type Signer, TargetFile, Updater } from '../../src/index.js';
import { FileFetcher, FsRepositoryStorage, fileBaseUrl, LOCK_FILE } from '../../src/node/index.js';
import { fixedSigner, topLevelKeys } from '../helpers/keys.js';
import { useTempDir } from '../helpers/temp-dir.js';

const NOW = new Date('2030-01-01T00:00:00Z');
const keys = {
  root: fixedSigner(211),
  targets: fixedSigner(212),
  targets2: fixedSigner(213),
  snapshot: fixedSigner(214),
  timestamp: fixedSigner(215),
  timestamp2: fixedSigner(216),
  snapshot2: fixedSigner(217),
};
const all = Object.values(keys);

/** A repository directory whose writes can be made to fail, as if the publisher died there. */
class CrashingStorage extends FsRepositoryStorage {
  crashAt: ((path: string) => boolean) | undefined;
  readonly writes: string[] = [];
  override async write(path: string, bytes: Uint8Array): Promise<void> {
    if (this.crashAt?.(path)) throw new Error(`simulated crash before writing ${path}`);
    this.writes.push(path);
    await super.write(path, bytes);
  }
}

const image = (path: string, n: number) =>
  new TargetFile(path, 1000 + n, new Map([['sha256', n.toString(16).padStart(64, '0')]]));

let tmp: string;
/** A published repository (root 1, one target) that each test copies. */
let baseline: string;

useTempDir('all', (d) => {
  tmp = d;
});
beforeAll(async () => {
  baseline = join(tmp, 'baseline');
  const repo = await Repository.create(new FsRepositoryStorage(baseline), {
    keys: topLevelKeys(keys),
    signers: all,
    now: () => NOW,
  });
  await repo.addTargets([image('registry.example.com/team/app:1.0', 1)]);
  await repo.publish();
});

let copies = 0;
async function copyOfBaseline(): Promise<CrashingStorage> {
  const dir = join(tmp, `copy-${copies++}`);
  await cp(baseline, dir, { recursive: true });
  return new CrashingStorage(dir);
}

/** A new client trusting root 1, refreshing against `storage` from disk. */
async function freshClient(storage: FsRepositoryStorage): Promise<Updater> {
  const store = new MemoryMetadataStore();
  await store.write('root', (await storage.read('metadata/1.root.json')) as Uint8Array);
  return new Updater({
    metadataBaseUrl: `${fileBaseUrl(storage.dir)}metadata/`,
    fetcher: new FileFetcher(),
    store,
    now: () => NOW,
  });
}

async function open(storage: FsRepositoryStorage, signers: Signer[] = all): Promise<Repository> {
  return Repository.open(storage, { signers, now: () => NOW });
}

describe('an interrupted publish', () => {
  it('leaves clients on the previous version at every write, and a rerun completes it', async () => {
    const change = async (repo: Repository) => {
      await repo.addTargets([image('registry.example.com/team/app:2.0', 2)]);
    };
    // How many writes a complete publish makes.
    const probe = await copyOfBaseline();
    const probeRepo = await open(probe);
    await change(probeRepo);
    const { written } = await probeRepo.publish();
    expect(written.at(-1)).toBe('metadata/timestamp.json');
    expect(written.length).toBeGreaterThanOrEqual(3);

    for (let i = 0; i < written.length; i++) {
      const storage = await copyOfBaseline();
      const repo = await open(storage);
      await change(repo);
      let n = 0;
      storage.crashAt = () => n++ === i;
      await expect(repo.publish()).rejects.toThrow('simulated crash');
      storage.crashAt = undefined;
      // The lock is released even though the publish failed.
      expect(await readdir(storage.dir)).not.toContain(LOCK_FILE);
      const before = await freshClient(storage);
      await before.refresh();
      expect(await before.getTargetInfo('registry.example.com/team/app:1.0')).toBeDefined();
      expect(await before.getTargetInfo('registry.example.com/team/app:2.0')).toBeUndefined();
      // Staged edits lived in the crashed process: stage them again and publish.
      const again = await open(storage);
      await change(again);
      expect((await again.publish()).written.at(-1)).toBe('metadata/timestamp.json');
      const after = await freshClient(storage);
      await after.refresh();
      expect((await after.getTargetInfo('registry.example.com/team/app:2.0'))?.role).toBe('targets');
    }
  });

  it('a lock held by a running publisher blocks the next publish with CONFLICT until released', async () => {
    const storage = await copyOfBaseline();
    const release = await storage.lock(); // held by this (running) process
    const repo = await open(storage);
    await repo.addTargets([image('registry.example.com/team/app:3.0', 3)]);
    await expect(repo.publish()).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining(LOCK_FILE),
    });
    await release();
    await repo.publish();
    const client = await freshClient(storage);
    await client.refresh();
    expect(await client.getTargetInfo('registry.example.com/team/app:3.0')).toBeDefined();
  });
});

describe('two-phase key rotation', () => {
  it.each([
    ['targets', keys.targets, keys.targets2],
    ['timestamp', keys.timestamp, keys.timestamp2],
  ] as const)(
    'of %s keeps clients working when each publish stops before timestamp.json',
    async (role, oldKey, newKey) => {
      const storage = await copyOfBaseline();
      const crashBeforeTimestamp = async (repo: Repository) => {
        storage.crashAt = (p) => p === 'metadata/timestamp.json';
        await expect(repo.publish()).rejects.toThrow('simulated crash');
        storage.crashAt = undefined;
      };
      // Phase 1: both keys authorised; everything re-signed by both.
      const phase1 = await open(storage);
      phase1.rotateKeys(role, { add: [newKey.key] });
      await crashBeforeTimestamp(phase1);
      // The new root is already visible (clients probe N+1.root.json), and still verifies the old files.
      const during1 = await freshClient(storage);
      await during1.refresh();
      expect(during1.trustedSet?.root.signed.version).toBe(2);
      // Rerun phase 1 to completion.
      const rerun1 = await open(storage);
      // Re-adding a target re-signs targets (now by both keys); forceTimestamp re-signs timestamp.
      if (role === 'targets') await rerun1.addTargets([image('registry.example.com/team/app:1.0', 1)]);
      await rerun1.publish({ forceTimestamp: true });
      // Phase 2: the old key goes; the live files carry a signature by the new key already.
      const phase2 = await open(
        storage,
        all.filter((s) => s !== oldKey),
      );
      phase2.rotateKeys(role, { remove: [oldKey.keyid] });
      await crashBeforeTimestamp(phase2);
      const during2 = await freshClient(storage);
      await during2.refresh();
      expect(during2.trustedSet?.root.signed.version).toBe(3);
      expect(await during2.getTargetInfo('registry.example.com/team/app:1.0')).toBeDefined();
    },
  );
});

describe('a one-step key rotation interrupted before timestamp.json', () => {
  // Clients fail meanwhile: 2.root.json is found by probing, and names only the new targets key,
  // while the live targets.json is still signed by the old one. That window is inherent to a
  // one-step rotation (docs/publishing.md recommends two phases).
  it('makes clients fail until the publish completes', async () => {
    const storage = await copyOfBaseline();
    const repo = await open(storage);
    repo.rotateKeys('targets', { add: [keys.targets2.key], remove: [keys.targets.keyid] });
    storage.crashAt = (p) => p === 'metadata/timestamp.json';
    await expect(repo.publish()).rejects.toThrow('simulated crash');
    storage.crashAt = undefined;
    const client = await freshClient(storage);
    await expect(client.refresh()).rejects.toMatchObject({ code: 'THRESHOLD' });
  });

  // The recovery docs/publishing.md gives until the gap below is closed: sign the affected role
  // again explicitly.
  it.each([
    ['timestamp', keys.timestamp, keys.timestamp2, (r: Repository) => r.refreshTimestamp()],
    ['snapshot', keys.snapshot, keys.snapshot2, (r: Repository) => r.publish({ forceSnapshot: true })],
    [
      'targets',
      keys.targets,
      keys.targets2,
      async (r: Repository) => {
        await r.addTargets(await r.listTargets()); // unchanged content, signed again
        return r.publish();
      },
    ],
  ] as const)('of %s is completed by signing that role again', async (role, oldKey, newKey, recover) => {
    const storage = await copyOfBaseline();
    const repo = await open(storage);
    repo.rotateKeys(role, { add: [newKey.key], remove: [oldKey.keyid] });
    storage.crashAt = (p) => p === 'metadata/timestamp.json';
    await expect(repo.publish()).rejects.toThrow('simulated crash');
    storage.crashAt = undefined;
    await expect((await freshClient(storage)).refresh()).rejects.toMatchObject({ code: 'THRESHOLD' });
    const again = await open(
      storage,
      all.filter((s) => s !== oldKey),
    );
    expect((await recover(again)).written.at(-1)).toBe('metadata/timestamp.json');
    const client = await freshClient(storage);
    await client.refresh();
    expect(client.trustedSet?.root.signed.version).toBe(2);
    expect(await client.getTargetInfo('registry.example.com/team/app:1.0')).toBeDefined();
  });

  // Repository.open picks up the newest versioned root (2.root.json, targets key = targets2);
  // publish notices that the live targets no longer verify under it and signs them again.
  it('is repaired by opening the repository again and publishing', async () => {
    const storage = await copyOfBaseline();
    const repo = await open(storage);
    repo.rotateKeys('targets', { add: [keys.targets2.key], remove: [keys.targets.keyid] });
    storage.crashAt = (p) => p === 'metadata/timestamp.json';
    await expect(repo.publish()).rejects.toThrow('simulated crash');
    storage.crashAt = undefined;
    const again = await open(
      storage,
      all.filter((s) => s !== keys.targets),
    );
    await again.publish();
    const client = await freshClient(storage);
    await client.refresh();
    expect(await client.getTargetInfo('registry.example.com/team/app:1.0')).toBeDefined();
  });
});

describe('without consistent snapshots', () => {
  it('a half-uploaded set fails verification in either order, and a retry succeeds', async () => {
    const live = new FsRepositoryStorage(join(tmp, 'plain-live'));
    const created = await Repository.create(live, {
      keys: topLevelKeys(keys),
      signers: all,
      now: () => NOW,
      consistentSnapshot: false,
    });
    await created.addTargets([image('registry.example.com/team/app:1.0', 1)]);
    expect((await created.publish()).written).toEqual([
      'metadata/1.root.json',
      'metadata/targets.json',
      'metadata/snapshot.json',
      'metadata/root.json',
      'metadata/timestamp.json',
    ]);
    // Keep version 1 as the host still serves it, then publish version 2 locally.
    const v1 = join(tmp, 'plain-v1');
    await cp(live.dir, v1, { recursive: true });
    const repo = await open(live);
    await repo.addTargets([image('registry.example.com/team/app:2.0', 2)]);
    await repo.publish();

    const mix = async (name: string, fromV2: string[]) => {
      const dir = join(tmp, name);
      await cp(v1, dir, { recursive: true });
      for (const f of fromV2) await copyFile(join(live.dir, 'metadata', f), join(dir, 'metadata', f));
      return new FsRepositoryStorage(dir);
    };
    // Snapshot and timestamp uploaded, targets.json not yet (or a cache still serves the old one).
    const newSnapshotOldTargets = await mix('plain-mix-a', ['snapshot.json', 'timestamp.json']);
    await expect((await freshClient(newSnapshotOldTargets)).refresh()).rejects.toMatchObject({
      code: 'LENGTH_OR_HASH',
    });
    // targets.json uploaded first, but the client read the old snapshot through the old timestamp.
    const oldSnapshotNewTargets = await mix('plain-mix-b', ['targets.json']);
    // (A longer new file fails on the length limit before its hash is checked.)
    await expect((await freshClient(oldSnapshotNewTargets)).refresh()).rejects.toMatchObject({
      code: expect.stringMatching(/^(LENGTH_OR_HASH|DOWNLOAD_LIMIT)$/),
    });
    // Once the whole set is there, the same client simply retries.
    await copyFile(
      join(live.dir, 'metadata', 'targets.json'),
      join(newSnapshotOldTargets.dir, 'metadata', 'targets.json'),
    );
    const retry = await freshClient(newSnapshotOldTargets);
    await retry.refresh();
    expect(await retry.getTargetInfo('registry.example.com/team/app:2.0')).toBeDefined();
  });
});
