/** When tags move into TAP 15 hash bins: the decision as a table, then on a repository. */
import { beforeEach, describe, expect, it } from 'vitest';
import type { PrivateKeySigner } from '../../src/crypto/signer.js';
import { TargetFile } from '../../src/metadata/files.js';
import { DelegatedRole } from '../../src/metadata/roles.js';
import {
  applyHashBinPolicy,
  DEFAULT_HASH_BIN_THRESHOLD,
  decideHashBins,
  defaultBitLength,
  type HashBinInput,
  targetsDelegation,
} from '../../src/repository/hash-bins.js';
import { Repository } from '../../src/repository/repository.js';
import { MemoryRepositoryStorage } from '../../src/repository/storage.js';
import { fixedSigner } from '../helpers/keys.js';
import { client } from './helpers.js';

const NOW = new Date('2030-01-01T00:00:00Z');

describe('decideHashBins', () => {
  const table: [HashBinInput, 'move' | 'stay' | 'cannot-move', RegExp][] = [
    [{ targets: 0, delegation: 'none', threshold: 10 }, 'stay', /signs 0 tag\(s\), no more than 10/],
    [{ targets: 10, delegation: 'none', threshold: 10 }, 'stay', /no more than 10/],
    [{ targets: 11, delegation: 'none', threshold: 10 }, 'move', /signs 11 tags, more than 10/],
    [{ targets: 1, delegation: 'none', threshold: 1 }, 'stay', /no more than 1/],
    [{ targets: 2, delegation: 'none', threshold: 1 }, 'move', /more than 1/],
    [
      { targets: 11, delegation: 'roles', threshold: 10 },
      'move',
      /bins go under role bins listed after them/,
    ],
    [{ targets: 10, delegation: 'roles', threshold: 10 }, 'stay', /no more than 10/],
    [{ targets: 0, delegation: 'hash-bins', threshold: 10 }, 'stay', /already uses hash bins/],
    // Bins in use: whatever targets itself still signs, there is nothing more to move into.
    [{ targets: 50, delegation: 'hash-bins', threshold: 10 }, 'stay', /already uses hash bins/],
    [
      { targets: DEFAULT_HASH_BIN_THRESHOLD + 1, delegation: 'none', threshold: DEFAULT_HASH_BIN_THRESHOLD },
      'move',
      /more than 2000/,
    ],
  ];
  for (const [input, action, reason] of table) {
    it(`${input.targets} tags, delegation ${input.delegation}, threshold ${input.threshold}: ${action}`, () => {
      const d = decideHashBins(input);
      expect(d.action).toBe(action);
      expect(d.reason).toMatch(reason);
    });
  }

  for (const threshold of [0, -1, 2.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    it(`refuses threshold ${threshold}`, () => {
      expect(() => decideHashBins({ targets: 5, delegation: 'none', threshold })).toThrow(
        expect.objectContaining({ code: 'USAGE', message: expect.stringContaining(`found ${threshold}`) }),
      );
    });
  }
  for (const targets of [-1, 0.5, Number.NaN]) {
    it(`refuses a count of ${targets}`, () => {
      expect(() => decideHashBins({ targets, delegation: 'none', threshold: 5 })).toThrow(
        expect.objectContaining({ code: 'USAGE' }),
      );
    });
  }
});

describe('defaultBitLength', () => {
  // About √N bins of about √N targets (ADR 0025): 2^round(log2(N) / 2), from 2 to 2^16 bins.
  const table: [number, number][] = [
    [0, 1],
    [1, 1],
    [10, 2],
    [1000, 5],
    [3001, 6],
    [10_000, 7],
    [100_000, 8],
    [1_000_000, 10],
    [6_000_000, 11],
    [2 ** 40, 16],
  ];
  for (const [count, bits] of table) {
    it(`${count} targets: ${2 ** bits} bins`, () => expect(defaultBitLength(count)).toBe(bits));
  }
});

describe('applyHashBinPolicy', () => {
  let storage: MemoryRepositoryStorage;
  let keys: Record<'root' | 'targets' | 'snapshot' | 'timestamp' | 'other', PrivateKeySigner>;
  const tag = (n: number) =>
    new TargetFile(`example.com/app:${n}`, n + 1, new Map([['sha256', n.toString(16).padStart(64, '0')]]));

  beforeEach(async () => {
    storage = new MemoryRepositoryStorage();
    keys = {
      root: fixedSigner(101),
      targets: fixedSigner(102),
      snapshot: fixedSigner(103),
      timestamp: fixedSigner(104),
      other: fixedSigner(105),
    };
    const repo = await Repository.create(storage, {
      keys: {
        root: [keys.root.key],
        targets: [keys.targets.key],
        snapshot: [keys.snapshot.key],
        timestamp: [keys.timestamp.key],
      },
      signers: Object.values(keys),
      now: () => NOW,
    });
    await repo.publish();
  });

  const open = () => Repository.open(storage, { signers: Object.values(keys), now: () => NOW });

  it('above the threshold, moves every tag into bins signed by the targets key; clients find them', async () => {
    const repo = await open();
    await repo.addTargets([1, 2, 3].map(tag));
    const d = await applyHashBinPolicy(repo, 2);
    expect(d.action).toBe('move');
    expect(d.bins.length).toBeGreaterThan(0);
    const top = await repo.getTargets('targets');
    expect(targetsDelegation(top)).toBe('hash-bins');
    expect(top.targets.size).toBe(0);
    expect(top.delegations?.succinctRoles?.keyids).toEqual([keys.targets.key.keyid()]);
    await repo.publish();
    const { updater } = await client(storage, { now: NOW });
    await updater.refresh();
    const info = await updater.getTargetInfo('example.com/app:2');
    expect(info?.role).toMatch(/^bins-/);
    expect(info?.target.length).toBe(3);
  });

  it('at the threshold, leaves targets as it is', async () => {
    const repo = await open();
    await repo.addTargets([1, 2].map(tag));
    const d = await applyHashBinPolicy(repo, 2);
    expect(d).toMatchObject({ action: 'stay', bins: [] });
    const top = await repo.getTargets('targets');
    expect(targetsDelegation(top)).toBe('none');
    expect(top.targets.size).toBe(2);
  });

  // The layout with delegations present, and when it cannot move: hash-bins-delegations.test.ts.
  it('above the threshold with a delegation: moves under role bins, listed after it', async () => {
    const repo = await open();
    await repo.addDelegation(
      'targets',
      new DelegatedRole({
        name: 'team',
        keyids: [keys.other.key.keyid()],
        threshold: 1,
        terminating: false,
        paths: ['team/*'],
      }),
      [keys.other.key],
    );
    await repo.addTargets([1, 2, 3].map(tag));
    const d = await applyHashBinPolicy(repo, 2);
    expect(d.action).toBe('move');
    const top = await repo.getTargets('targets');
    expect(targetsDelegation(top)).toBe('roles');
    expect(top.delegations?.roles?.map((r) => r.name)).toEqual(['team', 'bins']);
    expect(top.targets.size).toBe(0);
  });

  it('once in bins, stays there', async () => {
    const repo = await open();
    await repo.addTargets([1, 2, 3].map(tag));
    expect((await applyHashBinPolicy(repo, 2)).action).toBe('move');
    await repo.addTargets([4, 5, 6].map(tag));
    expect(await applyHashBinPolicy(repo, 2)).toMatchObject({ action: 'stay', bins: [] });
  });
});
