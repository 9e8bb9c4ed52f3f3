/**
 * The open → edit → publish transaction (`withRepository`): what it retries and what it does
 * not, as a table over an in-memory repository, with a delay that records instead of waiting.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { PrivateKeySigner } from '../../src/crypto/signer.js';
import { ConflictError, PublishLockedError, StorageError, type TufError } from '../../src/errors.js';
import { TargetFile } from '../../src/metadata/files.js';
import { Repository } from '../../src/repository/repository.js';
import { MemoryRepositoryStorage } from '../../src/repository/storage.js';
import { isRetryableConflict, transactionBackoff, withRepository } from '../../src/repository/transaction.js';
import { fixedSigner } from '../helpers/keys.js';

const NOW = new Date('2030-01-01T00:00:00Z');
const GUN = 'registry.example.com/team/app';

function target(tag: string, n: number): TargetFile {
  return new TargetFile(`${GUN}:${tag}`, 100 + n, new Map([['sha256', n.toString(16).padStart(64, '0')]]));
}

/** A memory storage whose lock fails with the given errors first (one per call), then works. */
class LockFailingStorage extends MemoryRepositoryStorage {
  constructor(readonly lockErrors: Error[] = []) {
    super();
  }
  override async lock(): Promise<() => Promise<void>> {
    const e = this.lockErrors.shift();
    if (e) throw e;
    return super.lock();
  }
}

let storage: LockFailingStorage;
let signers: PrivateKeySigner[];

beforeEach(async () => {
  storage = new LockFailingStorage();
  const [root, targets, snapshot, timestamp] = [101, 102, 103, 104].map((n) => fixedSigner(n)) as [
    PrivateKeySigner,
    PrivateKeySigner,
    PrivateKeySigner,
    PrivateKeySigner,
  ];
  signers = [root, targets, snapshot, timestamp];
  const repo = await Repository.create(storage, {
    keys: { root: [root.key], targets: [targets.key], snapshot: [snapshot.key], timestamp: [timestamp.key] },
    signers,
    now: () => NOW,
  });
  await repo.addTargets([target('base', 1)]);
  await repo.publish();
});

/** Another publisher: adds `tag` and publishes, between our open and our publish. */
async function concurrentWriter(tag: string, n: number): Promise<void> {
  const other = await Repository.open(storage, { signers, now: () => NOW });
  await other.addTargets([target(tag, n)]);
  await other.publish();
}

async function publishedTags(): Promise<string[]> {
  const repo = await Repository.open(storage, { now: () => NOW });
  return [...(await repo.getTargets('targets')).targets.keys()].sort();
}

interface Row {
  name: string;
  attempts?: number;
  /** Errors the storage lock throws, one per publish, before it works. */
  lockErrors?: () => Error[];
  /** Runs inside the edit, on attempt `attempt`, after our change is staged. */
  during?: (attempt: number, repo: Repository) => Promise<void>;
  /** How many times the edit runs. */
  edits: number;
  /** The delays asked for (attempt numbers). */
  delays: number[];
  /** The error thrown (class and code), or the attempt that was published. */
  expect: { published: number; tags: string[] } | { error: new (...a: never[]) => Error; code: string };
}

const rows: Row[] = [
  {
    name: 'no conflict: published at once, no delay',
    edits: 1,
    delays: [],
    expect: { published: 1, tags: ['base', 'mine'] },
  },
  {
    name: 'a concurrent writer between open and publish: the edit is re-applied and both changes land',
    during: async (attempt) => {
      if (attempt === 1) await concurrentWriter('theirs', 7);
    },
    edits: 2,
    delays: [1],
    expect: { published: 2, tags: ['base', 'mine', 'theirs'] },
  },
  {
    name: 'writers keep winning: after the attempts, the ConflictError',
    attempts: 3,
    during: async (attempt) => concurrentWriter(`theirs-${attempt}`, 10 + attempt),
    edits: 3,
    delays: [1, 2],
    expect: { error: ConflictError, code: 'CONFLICT' },
  },
  {
    name: 'attempts: 1 means no retry',
    attempts: 1,
    during: async () => concurrentWriter('theirs', 7),
    edits: 1,
    delays: [],
    expect: { error: ConflictError, code: 'CONFLICT' },
  },
  {
    name: 'the lock is held by a publisher that runs: retried',
    lockErrors: () => [new PublishLockedError('held by process 42', '/r/.tufa-publish.lock', 'running')],
    edits: 2,
    delays: [1],
    expect: { published: 2, tags: ['base', 'mine'] },
  },
  {
    name: 'the lock is held in memory by another publish: retried',
    lockErrors: () => [new ConflictError('another publish holds the repository lock')],
    edits: 2,
    delays: [1],
    expect: { published: 2, tags: ['base', 'mine'] },
  },
  {
    name: 'a lock whose holder cannot be checked: not retried (a person must remove it)',
    lockErrors: () => [new PublishLockedError('held on host b', '/r/.tufa-publish.lock', 'unknown')],
    edits: 1,
    delays: [],
    expect: { error: PublishLockedError, code: 'CONFLICT' },
  },
  {
    name: 'a ConflictError from the edit itself: not retried',
    during: async (_attempt, repo) => {
      // Signing the same tag with another digest is a verdict on the edit, not a race.
      await repo.addTargets([target('base', 99)], { replace: false });
    },
    edits: 1,
    delays: [],
    expect: { error: ConflictError, code: 'CONFLICT' },
  },
  {
    name: 'an error that is not a conflict: not retried',
    lockErrors: () => [new StorageError('disk full')],
    edits: 1,
    delays: [],
    expect: { error: StorageError, code: 'STORAGE' },
  },
];

describe('withRepository', () => {
  for (const row of rows) {
    it(row.name, async () => {
      storage.lockErrors.push(...(row.lockErrors?.() ?? []));
      const delays: number[] = [];
      let edits = 0;
      const run = withRepository(
        storage,
        { signers, now: () => NOW },
        async (repo, attempt) => {
          edits++;
          expect(attempt).toBe(edits);
          await repo.addTargets([target('mine', 2)]);
          await row.during?.(attempt, repo);
          return `result of attempt ${attempt}`;
        },
        {
          ...(row.attempts !== undefined ? { attempts: row.attempts } : {}),
          delay: async (attempt) => {
            delays.push(attempt);
          },
        },
      );
      if ('error' in row.expect) {
        const e = await run.then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(e).toBeInstanceOf(row.expect.error);
        expect((e as TufError).code).toBe(row.expect.code);
      } else {
        const r = await run;
        expect(r.result).toBe(`result of attempt ${row.expect.published}`);
        expect(r.attempts).toBe(row.expect.published);
        expect(r.written.at(-1)).toBe('metadata/timestamp.json');
        expect(await publishedTags()).toEqual(row.expect.tags.map((t) => `${GUN}:${t}`));
      }
      expect(edits).toBe(row.edits);
      expect(delays).toEqual(row.delays);
    });
  }

  it('an edit that fails leaves the repository as it was', async () => {
    const before = new Map(storage.files);
    await expect(
      withRepository(storage, { signers, now: () => NOW }, async (repo) => {
        await repo.addTargets([target('mine', 2)]);
        throw new Error('edit failed');
      }),
    ).rejects.toThrow('edit failed');
    expect(storage.files).toEqual(before);
  });

  it('a one-shot iterable of signers still signs the re-applied edit', async () => {
    function* once() {
      yield* signers;
    }
    const r = await withRepository(
      storage,
      { signers: once(), now: () => NOW },
      async (repo, attempt) => {
        await repo.addTargets([target('mine', 2)]);
        if (attempt === 1) await concurrentWriter('theirs', 7);
      },
      { delay: async () => {} },
    );
    expect(r.attempts).toBe(2);
    expect(await publishedTags()).toEqual([`${GUN}:base`, `${GUN}:mine`, `${GUN}:theirs`]);
  });

  for (const attempts of [0, -1, 1.5, Number.NaN]) {
    it(`refuses attempts: ${attempts}`, async () => {
      await expect(withRepository(storage, {}, async () => {}, { attempts })).rejects.toMatchObject({
        code: 'USAGE',
        message: expect.stringContaining(`found ${attempts}`),
      });
    });
  }
});

describe('transactionBackoff', () => {
  it('grows with each attempt and adds less than 50 ms of jitter', () => {
    expect([1, 2, 3].map((a) => transactionBackoff(a, () => 0))).toEqual([50, 100, 150]);
    expect(transactionBackoff(1, () => 0.999_999)).toBe(99);
    expect(transactionBackoff(2, () => 0.5)).toBe(125);
  });
});

describe('isRetryableConflict', () => {
  const table: [string, unknown, boolean][] = [
    ['ConflictError', new ConflictError('moved'), true],
    ['lock held by a running publisher', new PublishLockedError('x', '/l', 'running'), true],
    ['lock whose holder cannot be checked', new PublishLockedError('x', '/l', 'unknown'), false],
    ['another TufError', new StorageError('x'), false],
    ['a plain Error', new Error('CONFLICT'), false],
    ['an object with code CONFLICT', { code: 'CONFLICT' }, false],
  ];
  for (const [what, e, retry] of table) {
    it(`${what}: ${retry ? 'retried' : 'not retried'}`, () => expect(isRetryableConflict(e)).toBe(retry));
  }
});
