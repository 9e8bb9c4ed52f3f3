/**
 * Which copy of a tag Docker Content Trust resolves, and which `notary lookup` resolves, when
 * several roles sign it (notary/dct.ts). Each row is a collection signed to order and what
 * Docker's `GetTargetByName(tag, "targets/releases", "targets")` plus its role filter gives.
 */
import { describe, expect, it } from 'vitest';
import {
  dctList,
  dctLookup,
  dctResolve,
  type NotaryCollection,
  notaryCopies,
  notaryLookup,
  readNotaryCollection,
} from '../../src/notary/index.js';
import { BUILT_AS_OF, BUILT_GUN, buildCollection, builtRoot, type CollectionSpec } from './builder.js';

async function read(spec: CollectionSpec): Promise<NotaryCollection> {
  const source = buildCollection(spec);
  return readNotaryCollection(source, { gun: BUILT_GUN, asOf: BUILT_AS_OF, trustedRoot: builtRoot(source) });
}

const all = (...names: string[]) => names.map((name) => ({ name }));

const rows: {
  name: string;
  spec: CollectionSpec;
  /** The role whose copy DCT resolves, or null when Docker refuses / finds nothing. */
  dct: string | null;
  refusal?: RegExp;
  /** The role whose copy `notary lookup` resolves. */
  lookup: string | null;
}[] = [
  {
    name: 'targets/releases wins over targets',
    spec: {
      roles: {
        targets: { targets: { t: 'top' }, delegations: all('targets/releases') },
        'targets/releases': { targets: { t: 'rel' } },
      },
    },
    dct: 'targets/releases',
    lookup: 'targets',
  },
  {
    name: 'targets when targets/releases does not sign it',
    spec: {
      roles: {
        targets: { targets: { t: 'top' }, delegations: all('targets/releases') },
        'targets/releases': { targets: { other: 'x' } },
      },
    },
    dct: 'targets',
    lookup: 'targets',
  },
  {
    name: 'targets over another delegation',
    spec: {
      roles: {
        targets: { targets: { t: 'top' }, delegations: all('targets/team') },
        'targets/team': { targets: { t: 'team' } },
      },
    },
    dct: 'targets',
    lookup: 'targets',
  },
  {
    name: 'refused when only another delegation signs it',
    spec: {
      roles: {
        targets: { delegations: all('targets/team', 'targets/releases') },
        'targets/team': { targets: { t: 'team' } },
        'targets/releases': {},
      },
    },
    dct: null,
    refusal: /only targets\/team signs it/,
    lookup: 'targets/team',
  },
  {
    name: 'refused when a delegation below targets/releases signs it first, even if targets signs it',
    spec: {
      roles: {
        targets: { targets: { t: 'top' }, delegations: all('targets/releases') },
        'targets/releases': { delegations: all('targets/releases/qa') },
        'targets/releases/qa': { targets: { t: 'qa' } },
      },
    },
    dct: null,
    refusal: /targets\/releases\/qa signs it first/,
    lookup: 'targets',
  },
  {
    name: 'targets/releases when it and a delegation below it sign it',
    spec: {
      roles: {
        targets: { delegations: all('targets/releases') },
        'targets/releases': { targets: { t: 'rel' }, delegations: all('targets/releases/qa') },
        'targets/releases/qa': { targets: { t: 'qa' } },
      },
    },
    dct: 'targets/releases',
    lookup: 'targets/releases',
  },
  {
    name: 'a delegation whose paths do not allow the tag is not consulted',
    spec: {
      roles: {
        targets: {
          targets: { t: 'top' },
          delegations: [{ name: 'targets/releases', paths: ['release-'] }],
        },
        'targets/releases': { targets: { t: 'rel' } },
      },
    },
    dct: 'targets',
    lookup: 'targets',
  },
  {
    // Pre-order would visit targets/a/b before targets/c; Notary's look-up is breadth-first.
    name: 'notary lookup walks breadth-first',
    spec: {
      roles: {
        targets: { delegations: all('targets/a', 'targets/c') },
        'targets/a': { delegations: all('targets/a/b') },
        'targets/a/b': { targets: { t: 'deep' } },
        'targets/c': { targets: { t: 'shallow' } },
      },
    },
    dct: null,
    refusal: /only targets\/c, targets\/a\/b sign it/,
    lookup: 'targets/c',
  },
];

describe('Docker Content Trust resolution', () => {
  for (const row of rows) {
    it(row.name, async () => {
      const c = await read(row.spec);
      const r = dctResolve(c, 't');
      expect(r.target?.role ?? null).toBe(row.dct);
      expect(dctLookup(c, 't')?.role ?? null).toBe(row.dct);
      expect(dctList(c).find((x) => x.name === 't')?.role ?? null).toBe(row.dct);
      if (row.refusal) expect(r.refusal).toMatch(row.refusal);
      else expect(r.refusal).toBeUndefined();
      const copies = notaryCopies(c).get('t') ?? [];
      expect(notaryLookup(c, copies).target?.role ?? null).toBe(row.lookup);
    });
  }

  it('a tag no role signs: nothing, and no refusal', async () => {
    const c = await read({ roles: { targets: { targets: { other: 'x' } } } });
    expect(dctResolve(c, 't')).toMatchObject({ target: undefined, refusal: undefined, copies: [] });
  });

  it('refuses to answer when targets/releases, or a delegation below it, did not verify', async () => {
    for (const bad of ['targets/releases', 'targets/releases/qa']) {
      const c = await read({
        roles: {
          targets: { targets: { t: 'top' }, delegations: all('targets/releases') },
          'targets/releases': { delegations: all('targets/releases/qa') },
          'targets/releases/qa': {},
          [bad]: {
            signWith: 'not the delegated key',
            delegations: bad === 'targets/releases' ? all('targets/releases/qa') : [],
          },
        },
      });
      expect(c.failedRoles.map((f) => f.role)).toEqual([bad]);
      expect(() => dctResolve(c, 't')).toThrow(/valid signature/);
      expect(() => dctList(c)).toThrow(/valid signature/);
      // notary lookup cannot tell either.
      expect(notaryLookup(c, notaryCopies(c).get('t') ?? []).refusal).toMatch(/did not verify/);
    }
  });

  it('another delegation that did not verify does not change what DCT resolves', async () => {
    const c = await read({
      roles: {
        targets: { targets: { t: 'top' }, delegations: all('targets/team') },
        'targets/team': { signWith: 'not the delegated key', targets: { t: 'team' } },
      },
    });
    expect(c.failedRoles.map((f) => f.role)).toEqual(['targets/team']);
    expect(dctLookup(c, 't')?.role).toBe('targets');
  });
});
