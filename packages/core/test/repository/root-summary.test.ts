/** `summarizeRoot`: what a root signer approves, from the metadata alone, against a trusted root. */
import { describe, expect, it } from 'vitest';
import { Root } from '../../src/metadata/signed.js';
import { summarizeRoot } from '../../src/repository/root-summary.js';
import { fixedSigner } from '../helpers/keys.js';

const [A, B, C, ATTACKER] = [fixedSigner(31), fixedSigner(32), fixedSigner(33), fixedSigner(34)];
const ONLINE = fixedSigner(35);

// biome-ignore lint/suspicious/noExplicitAny: root JSON edited freely in tests
type Json = Record<string, any>;

/** A root as JSON: root keys A and B (threshold 1), the online roles on ONLINE. */
function rootJson(version = 1): Json {
  return {
    _type: 'root',
    spec_version: '1.0.31',
    version,
    expires: '2030-01-01T00:00:00Z',
    consistent_snapshot: true,
    keys: {
      [A.keyid]: A.key.toJSON(),
      [B.keyid]: B.key.toJSON(),
      [ONLINE.keyid]: ONLINE.key.toJSON(),
    },
    roles: {
      root: { keyids: [A.keyid, B.keyid], threshold: 1 },
      targets: { keyids: [ONLINE.keyid], threshold: 1 },
      snapshot: { keyids: [ONLINE.keyid], threshold: 1 },
      timestamp: { keyids: [ONLINE.keyid], threshold: 1 },
    },
  };
}

const root = (j: Json) => Root.fromJSON(j);

describe('summarizeRoot', () => {
  it('lists every key (used or not) with its type and roles, every role, version and expiry', () => {
    const j = rootJson(4);
    j.keys[C.keyid] = C.key.toJSON(); // listed, used by no role
    const s = summarizeRoot(root(j));
    expect(s).toMatchObject({
      version: 4,
      specVersion: '1.0.31',
      expires: '2030-01-01T00:00:00.000Z',
      consistentSnapshot: true,
      comparison: null,
      unrecognizedFields: [],
    });
    expect(s.keys).toEqual([
      { keyid: A.keyid, keytype: 'ed25519', scheme: 'ed25519', roles: ['root'], computedKeyid: A.keyid },
      { keyid: B.keyid, keytype: 'ed25519', scheme: 'ed25519', roles: ['root'], computedKeyid: B.keyid },
      {
        keyid: ONLINE.keyid,
        keytype: 'ed25519',
        scheme: 'ed25519',
        roles: ['targets', 'snapshot', 'timestamp'],
        computedKeyid: ONLINE.keyid,
      },
      { keyid: C.keyid, keytype: 'ed25519', scheme: 'ed25519', roles: [], computedKeyid: C.keyid },
    ]);
    expect(s.roles).toEqual([
      { role: 'root', threshold: 1, keyids: [A.keyid, B.keyid], missingKeys: [] },
      { role: 'targets', threshold: 1, keyids: [ONLINE.keyid], missingKeys: [] },
      { role: 'snapshot', threshold: 1, keyids: [ONLINE.keyid], missingKeys: [] },
      { role: 'timestamp', threshold: 1, keyids: [ONLINE.keyid], missingKeys: [] },
    ]);
  });

  it('names keyids a role lists but the root does not hold, and fields tufa does not interpret', () => {
    const j = rootJson();
    j.roles.root.keyids.push('f'.repeat(64));
    j.x_mirrors = ['https://elsewhere.example'];
    const s = summarizeRoot(root(j));
    expect(s.roles[0]?.missingKeys).toEqual(['f'.repeat(64)]);
    expect(s.unrecognizedFields).toEqual(['x_mirrors']);
  });

  it('against the trusted previous root: keys added and removed per role, thresholds, expiry', () => {
    const previous = root(rootJson(1));
    const j = rootJson(2);
    delete j.keys[A.keyid];
    j.keys[C.keyid] = C.key.toJSON();
    j.roles.root = { keyids: [B.keyid, C.keyid], threshold: 2 };
    j.expires = '2031-01-01T00:00:00Z';
    j.consistent_snapshot = false;
    const c = summarizeRoot(root(j), previous).comparison;
    expect(c).toEqual({
      previousVersion: 1,
      added: [
        { role: 'root', keyid: C.keyid, keytype: 'ed25519', scheme: 'ed25519', computedKeyid: C.keyid },
      ],
      removed: [
        { role: 'root', keyid: A.keyid, keytype: 'ed25519', scheme: 'ed25519', computedKeyid: A.keyid },
      ],
      thresholds: [{ role: 'root', before: 1, after: 2 }],
      expires: { before: '2030-01-01T00:00:00.000Z', after: '2031-01-01T00:00:00.000Z' },
      consistentSnapshot: { before: true, after: false },
    });
  });

  it('a re-sign changes nothing but the version', () => {
    const c = summarizeRoot(root(rootJson(2)), root(rootJson(1))).comparison;
    expect(c).toEqual({
      previousVersion: 1,
      added: [],
      removed: [],
      thresholds: [],
      expires: null,
      consistentSnapshot: null,
    });
  });

  it('a trusted keyid reused for another key is a key swap, not "no change"', () => {
    const previous = root(rootJson(1));
    const j = rootJson(2);
    j.keys[A.keyid] = ATTACKER.key.toJSON(); // same keyid, the attacker's key material
    const s = summarizeRoot(root(j), previous);
    expect(s.comparison?.added).toEqual([
      { role: 'root', keyid: A.keyid, keytype: 'ed25519', scheme: 'ed25519', computedKeyid: ATTACKER.keyid },
    ]);
    expect(s.comparison?.removed).toEqual([
      { role: 'root', keyid: A.keyid, keytype: 'ed25519', scheme: 'ed25519', computedKeyid: A.keyid },
    ]);
    expect(s.keys[0]).toMatchObject({ keyid: A.keyid, computedKeyid: ATTACKER.keyid });
  });

  it('the same key listed under another keyid is no key change', () => {
    const previous = root(rootJson(1));
    const j = rootJson(2);
    const other = 'a'.repeat(64);
    j.keys[other] = A.key.toJSON();
    delete j.keys[A.keyid];
    j.roles.root.keyids = [other, B.keyid];
    const s = summarizeRoot(root(j), previous);
    expect(s.comparison?.added).toEqual([]);
    expect(s.comparison?.removed).toEqual([]);
    expect(s.keys.find((k) => k.keyid === other)?.computedKeyid).toBe(A.keyid);
  });

  it('a key moved from one role to another shows in both', () => {
    const j = rootJson(2);
    j.roles.targets.keyids = [A.keyid];
    const c = summarizeRoot(root(j), root(rootJson(1))).comparison;
    expect(c?.added.map((k) => [k.role, k.keyid])).toEqual([['targets', A.keyid]]);
    expect(c?.removed.map((k) => [k.role, k.keyid])).toEqual([['targets', ONLINE.keyid]]);
  });
});
