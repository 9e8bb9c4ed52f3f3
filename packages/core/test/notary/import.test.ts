/**
 * Importing a Notary collection into a tufa Repository (notary/import.ts): the role mapping as
 * a table, then the whole edit on an in-memory repository, published and read back by a client.
 */
import { createHash } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import type { PrivateKeySigner } from '../../src/crypto/signer.js';
import { TargetFile } from '../../src/metadata/files.js';
import { DelegatedRole } from '../../src/metadata/roles.js';
import {
  importNotaryCollection,
  type NotaryCollection,
  notaryProvenance,
  notaryRoleMapper,
  readNotaryCollection,
  tagNameProblem,
} from '../../src/notary/index.js';
import { Repository } from '../../src/repository/repository.js';
import { MemoryRepositoryStorage } from '../../src/repository/storage.js';
import { fixedSigner } from '../helpers/keys.js';
import { client } from '../repository/helpers.js';
import { BUILT_AS_OF, BUILT_GUN, buildCollection, builtRoot, type CollectionSpec } from './builder.js';

const NOW = new Date('2030-01-01T00:00:00Z');
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

async function read(spec: CollectionSpec): Promise<NotaryCollection> {
  const source = buildCollection(spec);
  return readNotaryCollection(source, { gun: BUILT_GUN, asOf: BUILT_AS_OF, trustedRoot: builtRoot(source) });
}

/** v1 in targets and, with another digest, in targets/releases; release-1 in releases only. */
const NOTARY: CollectionSpec = {
  roles: {
    targets: { targets: { v1: 'v1 targets', base: 'base' }, delegations: [{ name: 'targets/releases' }] },
    'targets/releases': { targets: { v1: 'v1 releases', 'release-1': 'r1' } },
  },
};

let storage: MemoryRepositoryStorage;
let keys: Record<'root' | 'targets' | 'snapshot' | 'timestamp' | 'delegate', PrivateKeySigner>;

/** A published repository; `delegations`: roles `targets` delegates to; `bins`: hash bins instead. */
async function setUp(layout: { delegations?: string[]; bins?: boolean; targets?: TargetFile[] } = {}) {
  storage = new MemoryRepositoryStorage();
  keys = {
    root: fixedSigner(101),
    targets: fixedSigner(102),
    snapshot: fixedSigner(103),
    timestamp: fixedSigner(104),
    delegate: fixedSigner(105),
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
  for (const name of layout.delegations ?? []) {
    await repo.addDelegation(
      'targets',
      new DelegatedRole({
        name,
        keyids: [keys.delegate.key.keyid()],
        threshold: 1,
        terminating: false,
        paths: ['*'],
      }),
      [keys.delegate.key],
    );
  }
  if (layout.bins) await repo.useHashBins({ keys: [keys.targets.key], bitLength: 2 });
  if (layout.targets) await repo.addTargets(layout.targets);
  await repo.publish();
}

const open = () => Repository.open(storage, { signers: Object.values(keys), now: () => NOW });

describe('notaryRoleMapper', () => {
  const table: {
    name: string;
    delegations?: string[];
    bins?: boolean;
    roleMap?: Record<string, string>;
    notaryRole: string;
    expected: string | RegExp;
  }[] = [
    { name: 'targets goes to targets', notaryRole: 'targets', expected: 'targets' },
    { name: 'a delegation tufa lacks goes to targets', notaryRole: 'targets/releases', expected: 'targets' },
    {
      name: 'a delegation tufa has without the prefix',
      delegations: ['releases'],
      notaryRole: 'targets/releases',
      expected: 'releases',
    },
    {
      name: 'a Notary role named like a tufa delegation but without targets/ is not a delegation',
      delegations: ['releases'],
      notaryRole: 'releases',
      expected: 'targets',
    },
    {
      name: 'the role map wins over a same-named delegation',
      delegations: ['releases', 'ci'],
      roleMap: { 'targets/releases': 'ci' },
      notaryRole: 'targets/releases',
      expected: 'ci',
    },
    {
      name: 'mapping to targets means targets, even where a same-named delegation exists',
      delegations: ['releases'],
      roleMap: { 'targets/releases': 'targets' },
      notaryRole: 'targets/releases',
      expected: 'targets',
    },
    {
      name: 'the role map may name a role the repository lacks (the planner refuses its tags)',
      roleMap: { targets: 'nope' },
      notaryRole: 'targets',
      expected: 'nope',
    },
    {
      name: 'with hash bins, targets means the bin of the tag',
      bins: true,
      notaryRole: 'targets',
      expected: /^bins-/,
    },
    {
      name: 'with hash bins, a role mapped to targets means the bin too',
      bins: true,
      roleMap: { 'targets/releases': 'targets' },
      notaryRole: 'targets/releases',
      expected: /^bins-/,
    },
    {
      name: 'a nested Notary delegation has no tufa role of its name: targets',
      delegations: ['releases'],
      notaryRole: 'targets/releases/qa',
      expected: 'targets',
    },
  ];
  for (const row of table) {
    it(row.name, async () => {
      await setUp({ ...(row.delegations ? { delegations: row.delegations } : {}), bins: row.bins === true });
      const map = await notaryRoleMapper(await open(), new Map(Object.entries(row.roleMap ?? {})));
      const role = await map(row.notaryRole, 'v1');
      if (typeof row.expected === 'string') expect(role).toBe(row.expected);
      else expect(role).toMatch(row.expected);
    });
  }
});

describe('importNotaryCollection', () => {
  beforeEach(() => setUp({ delegations: ['releases'] }));

  it('stages one live copy per tag where Docker resolves it; a client resolves Docker’s digests', async () => {
    const c = await read(NOTARY);
    const repo = await open();
    const plan = await importNotaryCollection(repo, c);
    expect(Object.fromEntries(plan.imports.map((p) => [p.tag, p.tufaRole]))).toEqual({
      base: 'targets',
      'release-1': 'releases',
      v1: 'releases',
    });
    await repo.publish();
    const { updater } = await client(storage, { now: NOW });
    await updater.refresh();
    for (const [tag, content, role] of [
      ['v1', 'v1 releases', 'releases'],
      ['base', 'base', 'targets'],
      ['release-1', 'r1', 'releases'],
    ] as const) {
      const info = await updater.getTargetInfo(tag);
      expect([tag, info?.role, info?.target.hashes.get('sha256')]).toEqual([tag, role, sha(content)]);
    }
    const v1 = await updater.getTargetInfo('v1');
    expect(v1?.target.custom).toMatchObject({
      notary: {
        role: 'targets/releases',
        shadowed: [{ role: 'targets', digest: `sha256:${sha('v1 targets')}` }],
      },
    });
  });

  it('run again, it changes nothing', async () => {
    const c = await read(NOTARY);
    const first = await open();
    await importNotaryCollection(first, c);
    await first.publish();
    const again = await open();
    const plan = await importNotaryCollection(again, c);
    expect(plan.imports).toEqual([]);
    expect(plan.unchanged.map((u) => u.tag)).toEqual(['base', 'release-1', 'v1']);
    expect(again.hasChanges).toBe(false);
  });

  it('a wrong copy tufa signs first is refused, and removed with replace', async () => {
    await setUp({
      delegations: ['releases'],
      targets: [new TargetFile('v1', 3, new Map([['sha256', sha('old')]]))],
    });
    const c = await read(NOTARY);
    const refusing = await open();
    const refused = await importNotaryCollection(refusing, c);
    expect(refused.refused.map((r) => r.tag)).toEqual(['v1']);
    expect((await refusing.getTargets('releases')).targets.has('v1')).toBe(false);

    const replacing = await open();
    const plan = await importNotaryCollection(replacing, c, { replace: true });
    expect(plan.removals).toEqual([{ tag: 'v1', tufaRole: 'targets', digest: `sha256:${sha('old')}` }]);
    expect((await replacing.getTargets('targets')).targets.has('v1')).toBe(false);
    expect((await replacing.getTargets('releases')).targets.get('v1')?.hashes.get('sha256')).toBe(
      sha('v1 releases'),
    );
  });

  it('the tag-name policy applies by default; a caller’s own rule is used instead when given', async () => {
    const c = await read({
      roles: { targets: { targets: { 'bad\u202ename': 'x', 'has space': 'y', ok: 'z' } } },
    });
    const byDefault = await importNotaryCollection(await open(), c);
    expect(byDefault.imports.map((p) => p.tag).sort()).toEqual(['has space', 'ok']);
    expect(byDefault.refused).toEqual([
      { tag: 'bad\u202ename', role: 'targets', reason: expect.stringContaining('\\u202e') },
    ]);
    const strict = await importNotaryCollection(await open(), c, {
      checkName: (n) => tagNameProblem(n) ?? (/\s/.test(n) ? 'white space' : undefined),
    });
    expect(strict.imports.map((p) => p.tag)).toEqual(['ok']);
  });
});

describe('notaryProvenance', () => {
  it('source, time, trust anchor and the root that vouched for it', async () => {
    const c = await read(NOTARY);
    expect(notaryProvenance(c)).toEqual({
      source: c.source,
      asOf: BUILT_AS_OF.toISOString(),
      trustAnchor: 'trusted-root',
      root: { version: 1, keyIds: c.root.keyids, expires: c.root.expires.toISOString() },
    });
  });
});
