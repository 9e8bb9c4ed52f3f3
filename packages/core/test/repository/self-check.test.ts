import { beforeEach, describe, expect, it } from 'vitest';
import { hexDigest } from '../../src/crypto/hash.js';
import type { PrivateKeySigner } from '../../src/crypto/signer.js';
import type { TufError } from '../../src/errors.js';
import { MetaFile, TargetFile } from '../../src/metadata/files.js';
import { metadataPath, roleStoragePath, TIMESTAMP_FILE_NAME } from '../../src/metadata/layout.js';
import { Metadata } from '../../src/metadata/metadata.js';
import { DelegatedRole } from '../../src/metadata/roles.js';
import { Snapshot, SPECIFICATION_VERSION, Timestamp } from '../../src/metadata/signed.js';
import { Repository } from '../../src/repository/repository.js';
import { type SelfCheckInput, selfCheck } from '../../src/repository/self-check.js';
import { MemoryRepositoryStorage } from '../../src/repository/storage.js';
import { fixedSigner } from '../helpers/keys.js';

const NOW = new Date('2030-01-01T00:00:00Z');
const DAY_MS = 86_400_000;
let storage: MemoryRepositoryStorage;
let keys: Record<'root' | 'targets' | 'snapshot' | 'timestamp' | 'team', PrivateKeySigner>;

function target(path: string, n: number): TargetFile {
  return new TargetFile(path, n, new Map([['sha256', n.toString(16).padStart(64, '0')]]));
}

function open(signers: PrivateKeySigner[] = Object.values(keys)): Promise<Repository> {
  return Repository.open(storage, { signers, now: () => NOW });
}

/** What `Repository` hands the self-check for `files`, read back from `storage`. */
function inputFor(files: SelfCheckInput['files'], change: Partial<SelfCheckInput> = {}): SelfCheckInput {
  const read = (path: string) => {
    const b = storage.files.get(path);
    if (!b) throw new Error(`${path} is missing`);
    return b;
  };
  const timestamp = read(metadataPath(TIMESTAMP_FILE_NAME));
  const snapshotVersion = Metadata.fromBytes(timestamp, 'timestamp').signed.snapshotMeta.version;
  const snapshot = read(roleStoragePath('snapshot', snapshotVersion, true));
  return {
    now: NOW,
    files,
    published: { root: read('metadata/root.json'), timestamp, snapshot },
    publishedRole: async (role) => {
      const v = Metadata.fromBytes(snapshot, 'snapshot').signed.roleMeta(role)?.version ?? 0;
      return read(roleStoragePath(role, v, true));
    },
    delegatorsOf: async (role) => (role === 'team' ? ['targets'] : role === 'sub' ? ['team'] : []),
    ...change,
  };
}

const metaOf = (bytes: Uint8Array, version: number) =>
  new MetaFile(version, bytes.length, new Map([['sha256', hexDigest('sha256', bytes)]]));

/** The `meta` of the published snapshot. */
function publishedMeta(): ReadonlyMap<string, MetaFile> {
  const snapshot = inputFor([]).published?.snapshot;
  if (!snapshot) throw new Error('nothing published');
  return Metadata.fromBytes(snapshot, 'snapshot').signed.meta;
}

/** A snapshot listing `meta` and a timestamp naming it, signed with the repository's keys. */
async function online(
  meta: ReadonlyMap<string, MetaFile>,
  snapshotVersion: number,
  timestampVersion: number,
) {
  const common = { specVersion: SPECIFICATION_VERSION, expires: new Date(NOW.getTime() + DAY_MS) };
  const sn = new Metadata<Snapshot | Timestamp>(new Snapshot({ ...common, version: snapshotVersion, meta }));
  await sn.sign(keys.snapshot);
  const snapshot = sn.toBytes();
  const snapshotMeta = metaOf(snapshot, snapshotVersion);
  const ts = new Metadata<Snapshot | Timestamp>(
    new Timestamp({ ...common, version: timestampVersion, snapshotMeta }),
  );
  await ts.sign(keys.timestamp);
  return [
    { role: 'snapshot', bytes: snapshot },
    { role: 'timestamp', bytes: ts.toBytes() },
  ];
}

async function failure(input: SelfCheckInput): Promise<TufError | undefined> {
  try {
    await selfCheck(input);
    return undefined;
  } catch (e) {
    return e as TufError;
  }
}

beforeEach(async () => {
  storage = new MemoryRepositoryStorage();
  keys = {
    root: fixedSigner(141),
    targets: fixedSigner(142),
    snapshot: fixedSigner(143),
    timestamp: fixedSigner(144),
    team: fixedSigner(145),
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
  await repo.addDelegation(
    'targets',
    new DelegatedRole({
      name: 'team',
      keyids: [keys.team.keyid],
      threshold: 1,
      terminating: true,
      paths: ['*'],
    }),
    [keys.team.key],
  );
  await repo.addTargets([target('a', 1)], { role: 'team' });
  await repo.publish();
});

/** The files a publish of one more target in `team` would write, signed by `signers`. */
async function teamEdit(n: number, signers?: PrivateKeySigner[]) {
  const repo = await open(signers);
  await repo.addTargets([target(`t${n}`, n)], { role: 'team' });
  return (await repo.prepare({ allowPending: true })).files;
}

describe('selfCheck: what a client would refuse is never published', () => {
  it('accepts a publish a client accepts', async () => {
    await expect(selfCheck(inputFor(await teamEdit(2)))).resolves.toBeUndefined();
  });

  it.each<[string, () => Promise<SelfCheckInput>, string, RegExp]>([
    [
      'a new timestamp that has expired when checked (5.4.4)',
      async () => inputFor(await teamEdit(2), { now: new Date(NOW.getTime() + 2 * DAY_MS) }),
      'EXPIRED',
      /timestamp/,
    ],
    [
      'an expired root (5.3.10)',
      async () => inputFor(await teamEdit(2), { now: new Date(NOW.getTime() + 400 * DAY_MS) }),
      'EXPIRED',
      /root/,
    ],
    [
      'a new snapshot that rolls a role back from the published snapshot (5.5.5)',
      async () => {
        const stale = await teamEdit(2); // team version 2
        for (const n of [3, 4]) {
          const repo = await open();
          await repo.addTargets([target(`t${n}`, n)], { role: 'team' });
          await repo.publish(); // team version 3 in snapshot version 3
        }
        // A snapshot newer than the published one, listing the stale team, and a timestamp naming it.
        const teamFile = stale.find((f) => f.role === 'team');
        if (!teamFile) throw new Error('no team file');
        const meta = new Map(publishedMeta());
        meta.set('team.json', metaOf(teamFile.bytes, 2));
        return inputFor([teamFile, ...(await online(meta, 4, 9))]);
      },
      'ROLLBACK',
      /team\.json version 2 is below the trusted 3/,
    ],
    [
      'a new root the published root keys did not sign (5.3.4)',
      async () => {
        const newRootKey = fixedSigner(146);
        const repo = await open([keys.targets, keys.snapshot, keys.timestamp, newRootKey]);
        repo.rotateKeys('root', { add: [newRootKey.key], remove: [keys.root.keyid] });
        return inputFor((await repo.prepare({ allowPending: true })).files);
      },
      'THRESHOLD',
      /root/,
    ],
    [
      'a delegated role its delegator’s keys did not sign (5.6.3)',
      async () => inputFor(await teamEdit(2, [keys.targets, keys.snapshot, keys.timestamp])),
      'THRESHOLD',
      /team/,
    ],
    [
      'a role delegated by a delegated role, not signed by its delegator’s keys',
      async () => {
        const sub = fixedSigner(147);
        const repo = await open([...Object.values(keys), sub]);
        await repo.addDelegation(
          'team',
          new DelegatedRole({
            name: 'sub',
            keyids: [sub.keyid],
            threshold: 1,
            terminating: false,
            paths: ['s*'],
          }),
          [sub.key],
        );
        await repo.publish();
        const again = await open();
        await again.addTargets([target('s1', 9)], { role: 'sub' });
        return inputFor((await again.prepare({ allowPending: true })).files);
      },
      'THRESHOLD',
      /sub/,
    ],
    [
      'a delegator that lists new keys for a role still signed by the old ones',
      async () => {
        // Repository re-signs such a role itself; this is the publish it would check otherwise.
        const newTeam = fixedSigner(148);
        const repo = await open([...Object.values(keys), newTeam]);
        await repo.rotateDelegatedKeys('targets', 'team', { add: [newTeam.key], remove: [keys.team.keyid] });
        const targetsFile = (await repo.prepare()).files.find((f) => f.role === 'targets');
        if (!targetsFile) throw new Error('no targets file');
        const meta = new Map(publishedMeta());
        meta.set('targets.json', metaOf(targetsFile.bytes, 2));
        return inputFor([targetsFile, ...(await online(meta, 2, 2))]);
      },
      'THRESHOLD',
      /team/,
    ],
    [
      'a role that a second delegator delegates to with other keys (checked against every delegator)',
      async () => {
        const ops = fixedSigner(149);
        const other = fixedSigner(150);
        const repo = await open([...Object.values(keys), ops]);
        await repo.addDelegation(
          'targets',
          new DelegatedRole({
            name: 'ops',
            keyids: [ops.keyid],
            threshold: 1,
            terminating: false,
            paths: ['o*'],
          }),
          [ops.key],
        );
        await repo.publish();
        const again = await open([...Object.values(keys), ops]);
        await again.addDelegation(
          'ops',
          new DelegatedRole({
            name: 'team',
            keyids: [other.keyid],
            threshold: 1,
            terminating: false,
            paths: ['*'],
          }),
          [other.key],
        );
        return inputFor((await again.prepare()).files, {
          delegatorsOf: async (role) =>
            role === 'team' ? ['targets', 'ops'] : role === 'ops' ? ['targets'] : [],
        });
      },
      'THRESHOLD',
      /team/,
    ],
    [
      'a snapshot other than the one the new timestamp names (5.5.2)',
      async () => {
        const [a, b] = [await teamEdit(2), await teamEdit(3)];
        return inputFor(
          a.map((f) => (f.role === 'snapshot' ? (b.find((g) => g.role === 'snapshot') ?? f) : f)),
        );
      },
      'LENGTH_OR_HASH',
      /snapshot/,
    ],
    [
      'a new timestamp older than the published one (5.4.3)',
      async () => {
        const stale = await teamEdit(2);
        const repo = await open();
        await repo.addTargets([target('t3', 3)], { role: 'team' });
        await repo.publish();
        const timestamp = await repo.refreshTimestamp();
        expect(timestamp.written).toEqual(['metadata/timestamp.json']);
        return inputFor(stale);
      },
      'ROLLBACK',
      /timestamp/,
    ],
    [
      'a changed role no role delegates to',
      async () => inputFor(await teamEdit(2), { delegatorsOf: async () => [] }),
      'STATE',
      /no role delegates to "team"/,
    ],
  ])('refuses %s', async (_name, make, code, message) => {
    const e = await failure(await make());
    expect(e?.code).toBe(code);
    expect(e?.message).toMatch(message);
  });

  it.each<[string, string[], RegExp]>([
    ['no root to start from', ['root'], /no root/],
    ['no timestamp', ['timestamp'], /no timestamp/],
    ['no snapshot', ['snapshot'], /no snapshot/],
  ])('a first publish with %s is refused (StateError)', async (_name, without, message) => {
    const fresh = new MemoryRepositoryStorage();
    const repo = await Repository.create(fresh, {
      keys: {
        root: [keys.root.key],
        targets: [keys.targets.key],
        snapshot: [keys.snapshot.key],
        timestamp: [keys.timestamp.key],
      },
      signers: Object.values(keys),
      now: () => NOW,
    });
    const { files } = await repo.prepare();
    await expect(selfCheck({ ...inputFor(files), published: undefined })).resolves.toBeUndefined();
    const e = await failure({
      ...inputFor(files.filter((f) => !without.includes(f.role))),
      published: undefined,
    });
    expect(e?.code).toBe('STATE');
    expect(e?.message).toMatch(message);
  });
});
