/**
 * interruptPublishing(), as a SIGINT/SIGTERM handler calls it: the write in progress finishes
 * (atomically), no later write starts, the publish lock is released, and what clients read is
 * the previous version, whole. The interruption is per process and final, so this file runs
 * one publish (vitest runs each test file in its own process).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Repository, TargetFile } from '../../src/index.js';
import { TEMP_PREFIX } from '../../src/node/atomic.js';
import { FsRepositoryStorage, interruptPublishing, LOCK_FILE } from '../../src/node/index.js';
import { fixedSigner, topLevelKeys } from '../helpers/keys.js';
import { useTempDir } from '../helpers/temp-dir.js';
import { rejection } from './helpers.js';

const NOW = new Date('2030-01-01T00:00:00Z');
const keys = {
  root: fixedSigner(231),
  targets: fixedSigner(232),
  snapshot: fixedSigner(233),
  timestamp: fixedSigner(234),
};

/** Records the order of writes and of the interruption. */
class RecordingStorage extends FsRepositoryStorage {
  readonly order: string[] = [];
  override async write(path: string, bytes: Uint8Array): Promise<void> {
    this.order.push(`write ${path}`);
    await super.write(path, bytes);
    this.order.push(`written ${path}`);
  }
}
let dir: string;
useTempDir('all', (d) => {
  dir = d;
});

describe('interruptPublishing', () => {
  it('lets the write in progress finish, starts no other, releases the lock', async () => {
    const created = await Repository.create(new FsRepositoryStorage(dir), {
      keys: topLevelKeys(keys),
      signers: Object.values(keys),
      now: () => NOW,
    });
    await created.publish();
    const timestamp = await readFile(join(dir, 'metadata', 'timestamp.json'));

    // SIGTERM arrives while the second write's bytes are in its temporary file (the test-only
    // kill point); the handler interrupts as the CLI's does.
    const storage = new RecordingStorage(dir);
    let interruption: Promise<number> | undefined;
    process.once('SIGTERM', () => {
      storage.order.push('signal');
      interruption = interruptPublishing().then((n) => {
        storage.order.push('interrupted');
        return n;
      });
    });
    process.env.TUFA_TEST_ONLY_KILL_AT = 'SIGTERM@write-temp#2';
    const repo = await Repository.open(storage, { signers: Object.values(keys), now: () => NOW });
    await repo.addTargets([new TargetFile('app:1', 1, new Map([['sha256', 'ab'.repeat(32)]]))]);
    const e = await rejection(repo.publish());
    delete process.env.TUFA_TEST_ONLY_KILL_AT;
    expect(e.code).toBe('STORAGE');
    expect(e.message).toContain('interrupted');
    expect(await interruption).toBe(1);
    // The write in progress completed before the lock went; the next one never started.
    expect(storage.order.slice(0, 5)).toEqual([
      'write metadata/2.targets.json',
      'written metadata/2.targets.json',
      'write metadata/2.snapshot.json',
      'signal',
      'written metadata/2.snapshot.json',
    ]);
    expect(storage.order.indexOf('interrupted')).toBeGreaterThan(
      storage.order.indexOf('written metadata/2.snapshot.json'),
    );
    expect(storage.order.filter((o) => o.startsWith('written '))).toHaveLength(2);
    // Lock released, no temporary file, timestamp.json untouched: clients see the old version.
    expect(await readdir(dir)).toEqual(['metadata']);
    expect((await readdir(join(dir, 'metadata'))).filter((f) => f.startsWith(TEMP_PREFIX))).toEqual([]);
    expect(await readFile(join(dir, 'metadata', 'timestamp.json'))).toEqual(timestamp);
    expect(await readdir(dir)).not.toContain(LOCK_FILE);
    // Nothing starts afterwards: no lock, no write.
    expect((await rejection(storage.lock())).message).toContain('interrupted');
    expect((await rejection(storage.write('metadata/x.json', new Uint8Array(1)))).message).toContain(
      'interrupted',
    );
  });
});
