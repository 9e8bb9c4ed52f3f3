/**
 * The migration planner (notary/migrate.ts) as a table: a Notary collection signed to order,
 * a tufa repository as it stands, and what must be imported, removed or refused so that every
 * TUF client resolves each tag to the digest Docker Content Trust resolves. Each row's result is
 * also checked by running the client's search over the repository with the plan applied.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { NotFoundError } from '../../src/errors.js';
import type { TargetFile } from '../../src/metadata/files.js';
import { Metadata } from '../../src/metadata/metadata.js';
import { searchTargets, type TargetsGraph } from '../../src/metadata/search.js';
import type { Targets } from '../../src/metadata/signed.js';
import {
  dctLookup,
  type NotaryCollection,
  type NotaryMigrationPlan,
  planNotaryMigration,
  readNotaryCollection,
} from '../../src/notary/index.js';
import { fixedSigner } from '../helpers/keys.js';
import { BUILT_AS_OF, BUILT_GUN, buildCollection, builtRoot, type CollectionSpec } from './builder.js';

async function read(spec: CollectionSpec): Promise<NotaryCollection> {
  const source = buildCollection(spec);
  return readNotaryCollection(source, { gun: BUILT_GUN, asOf: BUILT_AS_OF, trustedRoot: builtRoot(source) });
}

/** A tufa repository: per role, tags (tag → content) and delegations. */
type TufaSpec = Record<
  string,
  {
    targets?: Record<string, string>;
    delegations?: { name: string; paths?: string[]; terminating?: boolean }[];
  }
>;

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

function tufaRepository(spec: TufaSpec): TargetsGraph & { roles: Map<string, Targets> } {
  const key = fixedSigner(1);
  const roles = new Map<string, Targets>();
  for (const [name, r] of Object.entries(spec)) {
    const signed = {
      _type: 'targets',
      spec_version: '1.0.31',
      version: 1,
      expires: '2100-01-01T00:00:00Z',
      targets: Object.fromEntries(
        Object.entries(r.targets ?? {}).map(([tag, content]) => [
          tag,
          { length: Buffer.byteLength(content), hashes: { sha256: sha(content) } },
        ]),
      ),
      ...(r.delegations
        ? {
            delegations: {
              keys: { [key.keyid]: key.key.toJSON() },
              roles: r.delegations.map((d) => ({
                name: d.name,
                keyids: [key.keyid],
                threshold: 1,
                terminating: d.terminating ?? false,
                paths: d.paths ?? ['*'],
              })),
            },
          }
        : {}),
    };
    const bytes = new TextEncoder().encode(JSON.stringify({ signed, signatures: [] }));
    roles.set(name, Metadata.fromBytes(bytes, 'targets').signed);
  }
  const get = (role: string) => {
    const t = roles.get(role);
    if (!t) throw new NotFoundError(`the repository has no targets role ${JSON.stringify(role)}`);
    return t;
  };
  return {
    roles,
    target: async (role, path) => get(role).targets.get(path),
    delegations: async (role) => get(role).delegations,
  };
}

/** The repository with the plan applied, as a client would search it. */
function applied(repo: ReturnType<typeof tufaRepository>, plan: NotaryMigrationPlan): TargetsGraph {
  const added = new Map<string, TargetFile>(plan.imports.map((p) => [`${p.tufaRole}\0${p.tag}`, p.target]));
  const removed = new Set(plan.removals.map((r) => `${r.tufaRole}\0${r.tag}`));
  return {
    target: async (role, path) => {
      const k = `${role}\0${path}`;
      if (added.has(k)) return added.get(k);
      if (removed.has(k)) return undefined;
      return repo.target(role, path);
    },
    delegations: (role) => repo.delegations(role),
  };
}

/** v1 in targets and, with another digest, in targets/releases; release-1 in releases only. */
const NOTARY: CollectionSpec = {
  roles: {
    targets: { targets: { v1: 'v1 targets', base: 'base' }, delegations: [{ name: 'targets/releases' }] },
    'targets/releases': { targets: { v1: 'v1 releases', 'release-1': 'r1' } },
  },
};
const WITH_RELEASES: TufaSpec = { targets: { delegations: [{ name: 'releases' }] }, releases: {} };

const rows: {
  name: string;
  notary?: CollectionSpec;
  tufa: TufaSpec;
  roleMap?: Record<string, string>;
  allRoles?: boolean;
  replace?: boolean;
  /** tag → tufa role it is imported to. */
  imports: Record<string, string>;
  removals?: string[];
  unchanged?: string[];
  refused?: Record<string, RegExp>;
}[] = [
  {
    name: 'no role map: every tag in targets, the targets copy of v1 only recorded',
    tufa: { targets: {} },
    imports: { base: 'targets', 'release-1': 'targets', v1: 'targets' },
  },
  {
    name: '--role-map targets/releases=releases: v1 only in releases, not also in targets',
    tufa: WITH_RELEASES,
    roleMap: { 'targets/releases': 'releases' },
    imports: { base: 'targets', 'release-1': 'releases', v1: 'releases' },
  },
  {
    name: 'a tufa delegation named like the Notary role is used without a map',
    tufa: WITH_RELEASES,
    imports: { base: 'targets', 'release-1': 'releases', v1: 'releases' },
  },
  {
    name: 'a wrong copy tufa already signs in targets (an earlier migration) is refused without --replace',
    tufa: { ...WITH_RELEASES, targets: { ...WITH_RELEASES['targets'], targets: { v1: 'v1 targets' } } },
    roleMap: { 'targets/releases': 'releases' },
    imports: { base: 'targets', 'release-1': 'releases' },
    refused: {
      v1: /would resolve it to sha256:\w+ in targets, which it searches before releases \(use --replace/,
    },
  },
  {
    name: '… and removed from targets with --replace',
    tufa: { ...WITH_RELEASES, targets: { ...WITH_RELEASES['targets'], targets: { v1: 'v1 targets' } } },
    roleMap: { 'targets/releases': 'releases' },
    replace: true,
    imports: { base: 'targets', 'release-1': 'releases', v1: 'releases' },
    removals: ['v1 targets'],
  },
  {
    name: 'both copies already imported live (the old behaviour): --replace leaves one',
    tufa: {
      targets: { targets: { v1: 'v1 targets' }, delegations: [{ name: 'releases' }] },
      releases: { targets: { v1: 'v1 releases' } },
    },
    roleMap: { 'targets/releases': 'releases' },
    replace: true,
    imports: { base: 'targets', 'release-1': 'releases' },
    removals: ['v1 targets'],
    unchanged: ['v1'],
  },
  {
    name: 'a tufa delegation whose paths do not cover the tag: refused, clients would not find it',
    tufa: { targets: { delegations: [{ name: 'releases', paths: ['release-*'] }] }, releases: {} },
    roleMap: { 'targets/releases': 'releases' },
    imports: { base: 'targets', 'release-1': 'releases' },
    refused: { v1: /tufa clients would not find it in releases/ },
  },
  {
    name: 'a terminating delegation listed first ends the search before the destination',
    tufa: {
      targets: { delegations: [{ name: 'ci', paths: ['v*'], terminating: true }, { name: 'releases' }] },
      ci: {},
      releases: {},
    },
    roleMap: { 'targets/releases': 'releases' },
    imports: { base: 'targets', 'release-1': 'releases' },
    refused: { v1: /would not find it in releases/ },
  },
  {
    name: 'another role searched first already signs the same digest: it resolves already',
    tufa: {
      targets: { delegations: [{ name: 'ci' }, { name: 'releases' }] },
      ci: { targets: { v1: 'v1 releases' } },
      releases: {},
    },
    roleMap: { 'targets/releases': 'releases' },
    imports: { base: 'targets', 'release-1': 'releases' },
    unchanged: ['v1'],
  },
  {
    name: 'the destination signs another digest: refused without --replace',
    tufa: { targets: { targets: { base: 'other' } } },
    imports: { 'release-1': 'targets', v1: 'targets' },
    refused: { base: /tufa already signs it in targets with sha256:\w+ \(use --replace\)/ },
  },
  {
    name: 'a destination role the repository does not have',
    tufa: { targets: {} },
    roleMap: { 'targets/releases': 'nope' },
    imports: { base: 'targets' },
    refused: { v1: /no targets role "nope"/, 'release-1': /no targets role "nope"/ },
  },
  {
    name: 'tags Docker refuses are not imported, and say why',
    notary: {
      roles: {
        targets: {
          targets: { v1: 'top' },
          delegations: [{ name: 'targets/team' }, { name: 'targets/releases' }],
        },
        'targets/team': { targets: { team: 'x' } },
        'targets/releases': { delegations: [{ name: 'targets/releases/qa' }] },
        'targets/releases/qa': { targets: { v1: 'qa' } },
      },
    },
    tufa: { targets: {} },
    imports: {},
    refused: {
      team: /only targets\/team signs it.*--all-roles/,
      v1: /targets\/releases\/qa signs it first/,
    },
  },
  {
    name: '--all-roles imports them as notary lookup resolves them',
    notary: {
      roles: {
        targets: {
          targets: { v1: 'top' },
          delegations: [{ name: 'targets/team' }, { name: 'targets/releases' }],
        },
        'targets/team': { targets: { team: 'x', v1: 'team' } },
        'targets/releases': { delegations: [{ name: 'targets/releases/qa' }] },
        'targets/releases/qa': { targets: { v1: 'qa' } },
      },
    },
    tufa: { targets: {} },
    allRoles: true,
    imports: { team: 'targets', v1: 'targets' },
  },
];

describe('planNotaryMigration', () => {
  for (const row of rows) {
    it(row.name, async () => {
      const c = await read(row.notary ?? NOTARY);
      const repo = tufaRepository(row.tufa);
      const roleMap = new Map(Object.entries(row.roleMap ?? {}));
      const delegated = new Set(
        [...(repo.roles.get('targets')?.delegations?.roles ?? [])].map((r) => r.name),
      );
      const plan = await planNotaryMigration(c, {
        allRoles: row.allRoles === true,
        replace: row.replace === true,
        tufaRoleFor: async (role) => {
          const mapped = roleMap.get(role);
          if (mapped !== undefined) return mapped;
          const short = role.replace(/^targets\//, '');
          return role !== 'targets' && delegated.has(short) ? short : 'targets';
        },
        checkName: (name) => (name.includes('\u202e') ? 'a bidi override' : undefined),
        repository: repo,
      });
      expect(Object.fromEntries(plan.imports.map((p) => [p.tag, p.tufaRole]))).toEqual(row.imports);
      expect(plan.removals.map((r) => `${r.tag} ${r.tufaRole}`)).toEqual(row.removals ?? []);
      expect(plan.unchanged.map((u) => u.tag)).toEqual(row.unchanged ?? []);
      const refused = Object.fromEntries(plan.refused.map((r) => [r.tag, r.reason]));
      expect(Object.keys(refused).sort()).toEqual(Object.keys(row.refused ?? {}).sort());
      for (const [tag, re] of Object.entries(row.refused ?? {})) expect(refused[tag]).toMatch(re);

      // The point of it all: after the plan, a client resolves every imported or unchanged tag
      // to the digest Docker resolves (or, with --all-roles, notary lookup for the others).
      const after = applied(repo, plan);
      for (const tag of [...plan.imports.map((p) => p.tag), ...plan.unchanged.map((u) => u.tag)]) {
        const want = dctLookup(c, tag) ?? plan.imports.find((p) => p.tag === tag)?.source;
        const got = await searchTargets(after, tag, 32);
        expect([tag, got?.target.hashes.get('sha256')]).toEqual([tag, want?.hashes.get('sha256')]);
      }
    });
  }

  it('records the copies Docker does not resolve in the provenance, never as targets', async () => {
    const c = await read(NOTARY);
    const plan = await planNotaryMigration(c, {
      allRoles: false,
      replace: false,
      tufaRoleFor: async () => 'targets',
      checkName: () => undefined,
      repository: tufaRepository({ targets: {} }),
    });
    const v1 = plan.imports.find((p) => p.tag === 'v1');
    expect(v1?.target.hashes.get('sha256')).toBe(sha('v1 releases'));
    expect(v1?.target.custom).toEqual({
      notary: {
        rootKeyIds: c.root.keyids,
        source: c.source,
        asOf: c.asOf.toISOString(),
        role: 'targets/releases',
        shadowed: [{ role: 'targets', digest: `sha256:${sha('v1 targets')}`, length: 10 }],
      },
    });
    expect(plan.imports.filter((p) => p.tag === 'v1')).toHaveLength(1);
  });

  it('refuses names tufa cannot sign', async () => {
    const c = await read({ roles: { targets: { targets: { 'bad\u202ename': 'x', ok: 'y' } } } });
    const plan = await planNotaryMigration(c, {
      allRoles: false,
      replace: false,
      tufaRoleFor: async () => 'targets',
      checkName: (name) => (name.includes('\u202e') ? 'a bidi override' : undefined),
      repository: tufaRepository({ targets: {} }),
    });
    expect(plan.imports.map((p) => p.tag)).toEqual(['ok']);
    expect(plan.refused).toEqual([{ tag: 'bad\u202ename', role: 'targets', reason: 'a bidi override' }]);
  });

  it('fails when targets/releases did not verify: Docker fails then too, nothing is planned', async () => {
    const c = await read({
      roles: {
        targets: { targets: { v1: 'top' }, delegations: [{ name: 'targets/releases' }] },
        'targets/releases': { signWith: 'someone else', targets: { v1: 'rel' } },
      },
    });
    await expect(
      planNotaryMigration(c, {
        allRoles: false,
        replace: false,
        tufaRoleFor: async () => 'targets',
        checkName: () => undefined,
        repository: tufaRepository({ targets: {} }),
      }),
    ).rejects.toMatchObject({ code: 'THRESHOLD' });
  });
});
