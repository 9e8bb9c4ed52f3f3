/**
 * Rollback protection across runs (notary/state.ts): a collection is read once, its records kept,
 * then a second collection from the same source is read against them. Each row is one thing a
 * server could send the second time.
 */
import { describe, expect, it } from 'vitest';
import { TufError } from '../../src/errors.js';
import {
  type NotaryCollection,
  type NotaryRecords,
  parseNotaryRecords,
  readNotaryCollection,
  serializeNotaryRecords,
} from '../../src/notary/index.js';
import { BUILT_AS_OF, BUILT_GUN, buildCollection, builtRoot, type CollectionSpec } from './builder.js';

function read(spec: CollectionSpec, recorded?: NotaryRecords): Promise<NotaryCollection> {
  const source = buildCollection(spec);
  return readNotaryCollection(source, {
    gun: BUILT_GUN,
    asOf: BUILT_AS_OF,
    trustedRoot: builtRoot(source),
    ...(recorded ? { recorded } : {}),
  });
}

/** What was verified first: root 2, timestamp 5, snapshot 5, targets 3, targets/releases 4. */
const BEFORE: CollectionSpec = {
  rootVersion: 2,
  timestamp: { version: 5 },
  snapshot: { version: 5 },
  roles: {
    targets: { version: 3, targets: { v1: 'v1 from targets' }, delegations: [{ name: 'targets/releases' }] },
    'targets/releases': { version: 4, targets: { v1: 'v1 from releases' } },
  },
};

/** BEFORE with changes (a deep enough copy for the rows below). */
function after(change: (s: CollectionSpec) => void): CollectionSpec {
  const s: CollectionSpec = JSON.parse(JSON.stringify(BEFORE));
  change(s);
  return s;
}

/** Everything moves forward by one, as a publish does. */
function newer(s: CollectionSpec): void {
  s.timestamp = { ...s.timestamp, version: 6 };
  s.snapshot = { ...s.snapshot, version: 6 };
  (s.roles['targets'] as { version: number }).version = 4;
}

const refused: { name: string; spec: CollectionSpec; message: RegExp }[] = [
  {
    name: 'an older root',
    spec: after((s) => {
      s.rootVersion = 1;
    }),
    message: /^root version 1 is older than version 2 verified from memory before/,
  },
  {
    name: 'an older timestamp (the whole older collection, still valid)',
    spec: after((s) => {
      s.timestamp = { version: 4 };
    }),
    message: /^timestamp version 4 is older than version 5/,
  },
  {
    name: 'an older snapshot under a newer timestamp',
    spec: after((s) => {
      s.timestamp = { version: 6 };
      s.snapshot = { version: 4 };
    }),
    message: /^snapshot version 4 is older than version 5/,
  },
  {
    name: 'an older targets under a newer snapshot',
    spec: after((s) => {
      newer(s);
      (s.roles['targets'] as { version: number }).version = 2;
    }),
    message: /^targets version 2 is older than version 3/,
  },
  {
    name: 'the same timestamp version with other content',
    spec: after((s) => {
      s.timestamp = { version: 5, note: 'forked' };
    }),
    message: /^timestamp version 5 is not the version 5 verified .*same version, other content/,
  },
  {
    name: 'the same targets version with other content',
    spec: after((s) => {
      newer(s);
      const t = s.roles['targets'] as { version: number; targets: Record<string, string> };
      t.version = 3;
      t.targets['v1'] = 'something else';
    }),
    message: /^targets version 3 is not the version 3 verified/,
  },
];

describe('Notary records: what a server may not send after a newer collection was verified', () => {
  it('records every verified role: version, content hash and keys', async () => {
    const c = await read(BEFORE);
    expect([...c.records.values()].map((r) => [r.role, r.version])).toEqual([
      ['root', 2],
      ['timestamp', 5],
      ['snapshot', 5],
      ['targets', 3],
      ['targets/releases', 4],
    ]);
    for (const r of c.records.values()) {
      expect(r.signedSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(r.keyids).toHaveLength(1);
      expect(r.threshold).toBe(1);
    }
  });

  it('accepts the same collection again, and a newer one', async () => {
    const first = await read(BEFORE);
    const same = await read(BEFORE, first.records);
    expect(same.records).toEqual(first.records);
    const next = await read(after(newer), first.records);
    expect(next.records.get('timestamp')?.version).toBe(6);
    expect(next.failedRoles).toEqual([]);
  });

  for (const row of refused) {
    it(`refuses ${row.name}`, async () => {
      const first = await read(BEFORE);
      const e = await read(row.spec, first.records).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(TufError);
      expect((e as TufError).code).toBe('ROLLBACK');
      expect((e as TufError).message).toMatch(row.message);
      // Without the record the same data verifies: it is signed and unexpired.
      await expect(read(row.spec)).resolves.toBeDefined();
    });
  }

  it('an older delegation is left out (its tags with it), and its record is kept', async () => {
    const first = await read(BEFORE);
    const c = await read(
      after((s) => {
        newer(s);
        (s.roles['targets/releases'] as { version: number }).version = 3;
      }),
      first.records,
    );
    expect(c.failedRoles.map((f) => [f.role, f.error.code])).toEqual([['targets/releases', 'ROLLBACK']]);
    expect(c.targets.map((t) => t.role)).toEqual(['targets']);
    expect(c.records.get('targets/releases')).toEqual(first.records.get('targets/releases'));
    expect(c.records.get('targets')?.version).toBe(4);
  });

  it('refuses a delegation hidden from the snapshot while targets still delegates to it', async () => {
    const first = await read(BEFORE);
    const hidden = after((s) => {
      newer(s);
      s.snapshot = { version: 6, omit: ['targets/releases'] };
    });
    const c = await read(hidden, first.records);
    expect(c.failedRoles.map((f) => [f.role, f.error.code])).toEqual([['targets/releases', 'ROLLBACK']]);
    expect(c.failedRoles[0]?.error.message).toMatch(
      /still delegated by targets but no longer listed in snapshot/,
    );
    expect(c.records.get('targets/releases')).toEqual(first.records.get('targets/releases'));
    // Without the record it is only "unpublished", and Docker would fall back to targets' v1.
    expect((await read(hidden)).unpublishedRoles).toEqual(['targets/releases']);
  });

  it('forgets a delegation its delegator removed, so it can be created again from version 1', async () => {
    const first = await read(BEFORE);
    const removed = await read(
      after((s) => {
        newer(s);
        (s.roles['targets'] as { delegations: unknown[] }).delegations = [];
        delete s.roles['targets/releases'];
      }),
      first.records,
    );
    expect(removed.failedRoles).toEqual([]);
    expect(removed.records.has('targets/releases')).toBe(false);
    const again = await read(
      after((s) => {
        s.timestamp = { version: 7 };
        s.snapshot = { version: 7 };
        (s.roles['targets'] as { version: number }).version = 5;
        (s.roles['targets/releases'] as { version: number }).version = 1;
      }),
      removed.records,
    );
    expect(again.failedRoles).toEqual([]);
    expect(again.records.get('targets/releases')?.version).toBe(1);
  });

  it('a delegation given new keys starts afresh (Notary restarts it at version 1)', async () => {
    const first = await read(BEFORE);
    const c = await read(
      after((s) => {
        newer(s);
        (s.roles['targets'] as { delegations: { name: string; key?: string }[] }).delegations = [
          { name: 'targets/releases', key: 'new releases key' },
        ];
        (s.roles['targets/releases'] as { version: number }).version = 1;
      }),
      first.records,
    );
    expect(c.failedRoles).toEqual([]);
    expect(c.records.get('targets/releases')?.version).toBe(1);
  });

  it('spec 5.3.11: after the timestamp or snapshot key is rotated, both start afresh', async () => {
    // An attacker with the old timestamp key pushed the version far up; the repository recovers
    // by rotating the key in a new root, and signs from version 1 again.
    const pushed = await read(after((s) => (s.timestamp = { version: 1_000_000 })));
    const recovered = await read(
      after((s) => {
        s.rootVersion = 3;
        s.timestamp = { version: 1, key: 'timestamp 2' };
      }),
      pushed.records,
    );
    expect(recovered.records.get('timestamp')?.version).toBe(1);
    // Without the rotation the pushed-up version holds.
    await expect(read(BEFORE, pushed.records)).rejects.toMatchObject({ code: 'ROLLBACK' });
    const snap = await read(after((s) => (s.snapshot = { version: 1_000_000 })));
    const snapRecovered = await read(
      after((s) => {
        s.rootVersion = 3;
        s.timestamp = { version: 6 };
        s.snapshot = { version: 1, key: 'snapshot 2' };
      }),
      snap.records,
    );
    expect(snapRecovered.records.get('snapshot')?.version).toBe(1);
  });

  it('a delegation that fails for another reason keeps its record (never lowered)', async () => {
    const first = await read(BEFORE);
    const c = await read(
      after((s) => {
        newer(s);
        Object.assign(s.roles['targets/releases'] as object, { version: 9, signWith: 'someone else' });
      }),
      first.records,
    );
    expect(c.failedRoles.map((f) => f.error.code)).toEqual(['THRESHOLD']);
    expect(c.records.get('targets/releases')?.version).toBe(4);
  });
});

describe('Notary records: stored form', () => {
  it('round-trips, and is read only for the source and GUN it was written for', async () => {
    const { records } = await read(BEFORE);
    const bytes = serializeNotaryRecords('https://notary.example', BUILT_GUN, records);
    expect(parseNotaryRecords(bytes, 'https://notary.example', BUILT_GUN)).toEqual(records);
    expect(() => parseNotaryRecords(bytes, 'https://other.example', BUILT_GUN)).toThrow(/expected/);
    expect(() => parseNotaryRecords(bytes, 'https://notary.example', 'example.com/other')).toThrow(
      /expected/,
    );
  });

  const doc = (roles: unknown) =>
    new TextEncoder().encode(
      JSON.stringify({ format: 'tufa-notary-versions/1', source: 's', gun: 'g', roles }),
    );
  const good = { role: 'targets', version: 1, signedSha256: 'a'.repeat(64), keyids: ['k'], threshold: 1 };
  const bad: [string, Uint8Array][] = [
    ['not JSON', new TextEncoder().encode('{')],
    ['duplicate keys', new TextEncoder().encode('{"format":"x","format":"y"}')],
    ['another format', new TextEncoder().encode('{"format":"v0","source":"s","gun":"g","roles":[]}')],
    ['roles as an object', doc({ targets: good })],
    ['a prototype name as role', doc([{ ...good, role: '__proto__' }])],
    ['a path as role', doc([{ ...good, role: 'targets/../x' }])],
    ['a role twice', doc([good, good])],
    ['version 0', doc([{ ...good, version: 0 }])],
    ['a version as a string', doc([{ ...good, version: '7' }])],
    ['a short hash', doc([{ ...good, signedSha256: 'abc' }])],
    ['threshold 0', doc([{ ...good, threshold: 0 }])],
    ['keyids not strings', doc([{ ...good, keyids: [1] }])],
  ];
  for (const [name, bytes] of bad) {
    it(`refuses ${name}`, () => {
      expect(() => parseNotaryRecords(bytes, 's', 'g')).toThrow(TufError);
    });
  }
});
