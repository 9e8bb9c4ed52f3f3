import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import {
  DEFAULT_EXPIRY,
  type ExpiryPolicy,
  expiresAfter,
  type OnlineOrTargets,
  type PlanInput,
  type PublishPlan,
  planPublish,
} from '../../src/repository/publish-plan.js';

// The time is not on a whole second: every expiry must come out on one.
const NOW = new Date('2030-01-01T00:00:00.750Z');
const DAY = 86_400;
const POLICY: ExpiryPolicy = {
  root: 300 * DAY,
  targets: 60 * DAY,
  snapshot: 5 * DAY,
  timestamp: DAY,
  delegated: 30 * DAY,
};
const at = (seconds: number) => new Date(Date.UTC(2030, 0, 1) + seconds * 1000);
const SNAPSHOT_KEYS = { keyids: ['s1'], threshold: 1 };

/** Root 3, snapshot 7 (expiring in 5 days), timestamp 9; snapshot lists targets at 5, `team` at 2. */
function input(change: Partial<PlanInput> = {}): PlanInput {
  const listed = new Map([
    ['targets', 5],
    ['team', 2],
  ]);
  return {
    published: {
      root: { version: 3, snapshot: SNAPSHOT_KEYS },
      snapshot: { version: 7, expires: at(5 * DAY) },
      timestamp: { version: 9 },
      listedVersion: (role) => listed.get(role),
    },
    stagedRoot: undefined,
    changed: new Map(),
    notAccepted: new Set(),
    presigned: new Map(),
    expiry: POLICY,
    now: NOW,
    ...change,
  };
}

/** A plan as `role: version` pairs, in signing order. */
function versions(plan: PublishPlan): Record<string, number> {
  const out: Record<string, number> = {};
  if (plan.root) out['root'] = plan.root.version;
  for (const [role, p] of plan.targets) out[role] = p.version;
  if (plan.snapshot) out['snapshot'] = plan.snapshot.version;
  if (plan.timestamp) out['timestamp'] = plan.timestamp.version;
  return out;
}

const published = input().published;
const notAccepted = (...roles: OnlineOrTargets[]) => new Set(roles);

describe('planPublish: which roles are due, and their versions', () => {
  it.each<[string, Partial<PlanInput>, Record<string, number>]>([
    ['nothing changed: nothing is due', {}, {}],
    [
      'targets changed: the version snapshot lists + 1, then snapshot and timestamp',
      { changed: new Map([['targets', 5]]) },
      { targets: 6, snapshot: 8, timestamp: 10 },
    ],
    [
      'the version comes from the published snapshot, not from the staged role',
      { changed: new Map([['team', 40]]) },
      { team: 3, snapshot: 8, timestamp: 10 },
    ],
    [
      'a role never published keeps its staged version',
      { changed: new Map([['new-role', 1]]) },
      { 'new-role': 1, snapshot: 8, timestamp: 10 },
    ],
    [
      'several roles: in the order edited',
      {
        changed: new Map([
          ['team', 2],
          ['new-role', 1],
          ['targets', 5],
        ]),
      },
      { team: 3, 'new-role': 1, targets: 6, snapshot: 8, timestamp: 10 },
    ],
    ['forced snapshot: snapshot and timestamp', { forceSnapshot: true }, { snapshot: 8, timestamp: 10 }],
    ['forced timestamp: timestamp only', { forceTimestamp: true }, { timestamp: 10 }],
    ['forced, but false: nothing', { forceSnapshot: false, forceTimestamp: false }, {}],
    [
      'snapshot expiring exactly when the next timestamp would: re-signed',
      { published: published && { ...published, snapshot: { version: 7, expires: at(DAY) } } },
      { snapshot: 8, timestamp: 10 },
    ],
    [
      'snapshot expiring before the next timestamp would: re-signed',
      { published: published && { ...published, snapshot: { version: 7, expires: at(DAY - 1) } } },
      { snapshot: 8, timestamp: 10 },
    ],
    [
      'snapshot outliving the next timestamp by a second: not re-signed',
      { published: published && { ...published, snapshot: { version: 7, expires: at(DAY + 1) } } },
      {},
    ],
    [
      'the new root no longer accepts the published timestamp: timestamp only',
      { notAccepted: notAccepted('timestamp') },
      { timestamp: 10 },
    ],
    [
      'the new root no longer accepts the published snapshot: snapshot and timestamp',
      { notAccepted: notAccepted('snapshot') },
      { snapshot: 8, timestamp: 10 },
    ],
    [
      'the new root no longer accepts the published targets: targets re-signed, then snapshot and timestamp',
      { notAccepted: notAccepted('targets') },
      { targets: 6, snapshot: 8, timestamp: 10 },
    ],
    [
      'targets not accepted and edited: signed once, in the order edited',
      {
        changed: new Map([
          ['targets', 5],
          ['team', 2],
        ]),
        notAccepted: notAccepted('targets'),
      },
      { targets: 6, team: 3, snapshot: 8, timestamp: 10 },
    ],
    [
      'targets not accepted after other edits: re-signed last',
      { changed: new Map([['team', 2]]), notAccepted: notAccepted('targets', 'timestamp') },
      { team: 3, targets: 6, snapshot: 8, timestamp: 10 },
    ],
    [
      'targets not accepted and not listed by the snapshot: a first version',
      {
        published: published && { ...published, listedVersion: () => undefined },
        notAccepted: notAccepted('targets'),
      },
      { targets: 1, snapshot: 8, timestamp: 10 },
    ],
    [
      'a new root: root N+1 and timestamp, snapshot kept',
      { stagedRoot: { version: 3, snapshot: SNAPSHOT_KEYS } },
      { root: 4, timestamp: 10 },
    ],
    [
      'a new root counts from the published root, whatever version is staged',
      { stagedRoot: { version: 1, snapshot: SNAPSHOT_KEYS } },
      { root: 4, timestamp: 10 },
    ],
    [
      'a new root with other snapshot keys: snapshot re-signed too',
      { stagedRoot: { version: 3, snapshot: { keyids: ['s2'], threshold: 1 } } },
      { root: 4, snapshot: 8, timestamp: 10 },
    ],
    [
      'a new root with another snapshot threshold: snapshot re-signed too',
      { stagedRoot: { version: 3, snapshot: { keyids: ['s1'], threshold: 2 } } },
      { root: 4, snapshot: 8, timestamp: 10 },
    ],
    [
      'a new root with the snapshot keys reordered: re-signed (compared as listed)',
      {
        published: published && {
          ...published,
          root: { version: 3, snapshot: { keyids: ['a', 'b'], threshold: 1 } },
        },
        stagedRoot: { version: 3, snapshot: { keyids: ['b', 'a'], threshold: 1 } },
      },
      { root: 4, snapshot: 8, timestamp: 10 },
    ],
    [
      'a new root with keyids that only join to the same string: re-signed',
      {
        published: published && {
          ...published,
          root: { version: 3, snapshot: { keyids: ['a', 'b'], threshold: 1 } },
        },
        stagedRoot: { version: 3, snapshot: { keyids: ['a,b'], threshold: 1 } },
      },
      { root: 4, snapshot: 8, timestamp: 10 },
    ],
    [
      'the first publish: every role, root and targets at their staged versions',
      {
        published: undefined,
        stagedRoot: { version: 1, snapshot: SNAPSHOT_KEYS },
        changed: new Map([['targets', 1]]),
      },
      { root: 1, targets: 1, snapshot: 1, timestamp: 1 },
    ],
    [
      'the first publish with nothing staged still writes snapshot and timestamp',
      { published: undefined },
      { snapshot: 1, timestamp: 1 },
    ],
    [
      'the first publish of a root created at version 5',
      { published: undefined, stagedRoot: { version: 5, snapshot: SNAPSHOT_KEYS } },
      { root: 5, snapshot: 1, timestamp: 1 },
    ],
    [
      'signed elsewhere at the planned version: planned as usual',
      {
        stagedRoot: { version: 4, snapshot: SNAPSHOT_KEYS },
        changed: new Map([['team', 3]]),
        presigned: new Map([
          ['root', { version: 4, expires: at(1000) }],
          ['team', { version: 3, expires: at(2000) }],
        ]),
      },
      { root: 4, team: 3, snapshot: 8, timestamp: 10 },
    ],
  ])('%s', (_name, change, expected) => {
    expect(versions(planPublish(input(change)))).toEqual(expected);
  });
});

describe('planPublish: expiry dates', () => {
  it('each role from its policy, counted from now in whole seconds', () => {
    const plan = planPublish(
      input({
        stagedRoot: { version: 3, snapshot: SNAPSHOT_KEYS },
        changed: new Map([
          ['targets', 5],
          ['team', 2],
        ]),
      }),
    );
    expect(plan.root?.expires).toEqual(at(300 * DAY));
    expect(plan.targets.get('targets')?.expires).toEqual(at(60 * DAY));
    expect(plan.targets.get('team')?.expires).toEqual(at(30 * DAY));
    expect(plan.snapshot?.expires).toEqual(at(5 * DAY));
    expect(plan.timestamp?.expires).toEqual(at(DAY));
    expect(expiresAfter(NOW, 0)).toEqual(at(0));
  });

  it('the default policy: root a year, targets and delegated roles 90 days, snapshot 7, timestamp 1', () => {
    expect(DEFAULT_EXPIRY).toEqual({
      root: 365 * DAY,
      targets: 90 * DAY,
      snapshot: 7 * DAY,
      timestamp: DAY,
      delegated: 90 * DAY,
    });
  });

  it('metadata signed elsewhere keeps the expiry it was signed with', () => {
    const plan = planPublish(
      input({
        stagedRoot: { version: 4, snapshot: SNAPSHOT_KEYS },
        changed: new Map([['team', 3]]),
        presigned: new Map([
          ['root', { version: 4, expires: at(1000) }],
          ['team', { version: 3, expires: at(2000) }],
        ]),
      }),
    );
    expect(plan.root?.expires).toEqual(at(1000));
    expect(plan.targets.get('team')?.expires).toEqual(at(2000));
    expect(plan.snapshot?.expires).toEqual(at(5 * DAY));
  });
});

describe('planPublish: metadata signed for another version', () => {
  it.each<[string, Partial<PlanInput>, RegExp]>([
    [
      'a root signed as version 5 when the repository needs 4',
      {
        stagedRoot: { version: 5, snapshot: SNAPSHOT_KEYS },
        presigned: new Map([['root', { version: 5, expires: at(1000) }]]),
      },
      /^the signed root is version 5, but the repository now needs version 4: create a new signing request$/,
    ],
    [
      'a delegated role signed as version 3 after someone published version 3',
      {
        published: published && {
          ...published,
          listedVersion: (role: string) => (role === 'team' ? 3 : 5),
        },
        changed: new Map([['team', 3]]),
        presigned: new Map([['team', { version: 3, expires: at(1000) }]]),
      },
      /^the signed team is version 3, but the repository now needs version 4/,
    ],
  ])('%s is refused (UsageError: signing again, not retrying, helps)', (_name, change, message) => {
    let e: unknown;
    try {
      planPublish(input(change));
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).code).toBe('USAGE');
    expect((e as UsageError).message).toMatch(message);
  });
});
