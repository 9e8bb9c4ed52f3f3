/**
 * Repository.publish with an AbortSignal: cancellation stops between two files, never writes
 * timestamp.json after it, releases the lock, and leaves the published repository as it was.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { TargetFile } from '../../src/metadata/files.js';
import { Repository } from '../../src/repository/repository.js';
import { MemoryRepositoryStorage } from '../../src/repository/storage.js';
import { fixedSigner } from '../helpers/keys.js';
import { client } from './helpers.js';

const NOW = new Date('2030-01-01T00:00:00Z');
const [root, targets, snapshot, timestamp] = [121, 122, 123, 124].map((n) => fixedSigner(n)) as [
  ReturnType<typeof fixedSigner>,
  ReturnType<typeof fixedSigner>,
  ReturnType<typeof fixedSigner>,
  ReturnType<typeof fixedSigner>,
];
const signers = [root, targets, snapshot, timestamp];
let storage: MemoryRepositoryStorage;

const target = (path: string, n: number) => new TargetFile(path, n, new Map([['sha256', 'ab'.repeat(32)]]));
const open = () => Repository.open(storage, { signers, now: () => NOW });

beforeEach(async () => {
  storage = new MemoryRepositoryStorage();
  const repo = await Repository.create(storage, {
    keys: { root: [root.key], targets: [targets.key], snapshot: [snapshot.key], timestamp: [timestamp.key] },
    signers,
    now: () => NOW,
  });
  await repo.addTargets([target('app:1.0', 1)]);
  await repo.publish();
});

describe('publish({ signal })', () => {
  it('an already aborted signal writes nothing and takes no lock', async () => {
    const before = new Map(storage.files);
    const repo = await open();
    await repo.addTargets([target('app:2.0', 2)]);
    const controller = new AbortController();
    controller.abort();
    await expect(repo.publish({ signal: controller.signal })).rejects.toMatchObject({ code: 'ABORTED' });
    expect(storage.files).toEqual(before);
    await expect(repo.publish()).resolves.toMatchObject({ written: expect.any(Array) });
  });

  it('aborted between two files: timestamp.json is not written, the lock is released, clients see the old version', async () => {
    const timestamp = storage.files.get('metadata/timestamp.json');
    const repo = await open();
    await repo.addTargets([target('app:2.0', 2)]);
    const controller = new AbortController();
    const written: string[] = [];
    storage.beforeWrite = (path) => {
      written.push(path);
      controller.abort(); // after the first file of this publish
    };
    await expect(repo.publish({ signal: controller.signal })).rejects.toMatchObject({ code: 'ABORTED' });
    storage.beforeWrite = undefined;
    expect(written).toHaveLength(1);
    expect(written[0]).not.toBe('metadata/timestamp.json');
    expect(storage.files.get('metadata/timestamp.json')).toBe(timestamp);
    const c = await client(storage);
    await c.updater.refresh();
    expect(await c.updater.getTargetInfo('app:2.0')).toBeUndefined();
    // The lock was released: publishing again completes the change.
    const again = await open();
    await again.addTargets([target('app:2.0', 2)]);
    await again.publish();
    const c2 = await client(storage);
    expect(await c2.updater.getTargetInfo('app:2.0')).toBeDefined();
  });
});
