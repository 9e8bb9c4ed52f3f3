/**
 * A hash bin's canonical signed bytes written from compact staged entries (bin-encoding.ts) are
 * byte for byte those of the model path (`canonicalBytes(Targets.toJSON())`) for the same
 * entries merged the way staging always merged them (published entries, then the staged ones
 * in order, a later one replacing an earlier one of the same path).
 */
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../src/errors.js';
import { canonicalBytes } from '../../src/json/canonical.js';
import { TargetFile } from '../../src/metadata/files.js';
import { Metadata } from '../../src/metadata/metadata.js';
import { DelegatedRole, Delegations } from '../../src/metadata/roles.js';
import { Targets } from '../../src/metadata/signed.js';
import { MergedBinTargets, targetsSignedBytes } from '../../src/repository/bin-encoding.js';
import { StagedBin } from '../../src/repository/staged-bin.js';
import { fixedSigner } from '../helpers/keys.js';

const EXPIRES = new Date('2031-01-01T00:00:00Z');
const hex = (n: number) => n.toString(16).padStart(64, '0');
const compact = (path: string, n: number, length = 100 + n) =>
  new TargetFile(path, length, new Map([['sha256', hex(n)]]));

/** Entries of every shape staging meets: compact ones, and each reason one is not compact. */
function staged(): TargetFile[] {
  return [
    compact('app:v1', 1),
    compact('app:v2', 2, 0),
    compact('app:max', 3, Number.MAX_SAFE_INTEGER),
    new TargetFile('with-custom', 5, new Map([['sha256', hex(5)]]), { custom: { b: [1, 'x'], a: null } }),
    new TargetFile(
      'two-hashes',
      6,
      new Map([
        ['sha512', 'ab'.repeat(64)],
        ['sha256', hex(6)],
      ]),
    ),
    new TargetFile('upper-hex', 7, new Map([['sha256', hex(7).toUpperCase().replace(/^0/, 'A')]])),
    new TargetFile('short-hex', 8, new Map([['sha256', 'abc']])),
    new TargetFile('sha512-only', 9, new Map([['sha512', 'cd'.repeat(64)]])),
    // Names whose order or escaping differs between naive and canonical encoders.
    compact('quote"and\\backslash', 10),
    compact('ü-latin', 11),
    compact('\u{1F600}-astral', 12), // a surrogate pair: sorts after U+E000–U+FFFF by code point
    compact('\uE000-private', 13),
    compact('\uFFFD-replacement', 14),
    compact('10', 15),
    compact('2', 16),
    compact('__proto__', 17),
    compact('constructor', 18),
    compact('', 19),
    compact('line\nbreak', 20),
    // Staged twice: the later one wins.
    compact('twice', 21),
    compact('twice', 22),
    // Replaces a published entry.
    compact('published-replaced', 23),
  ];
}

function published(): Map<string, TargetFile> {
  return new Map([
    ['published-kept', compact('published-kept', 30)],
    ['published-replaced', compact('published-replaced', 31)],
    [
      'published-custom',
      new TargetFile('published-custom', 32, new Map([['sha256', hex(32)]]), { custom: { k: 'v' } }),
    ],
  ]);
}

/** The bin as staging always built it: published, then each staged entry set in order. */
function modelBin(base: Targets, pub: ReadonlyMap<string, TargetFile>, add: TargetFile[]): Targets {
  const next = new Map(pub);
  for (const t of add) next.set(t.path, t);
  return withTargets(base, next);
}

function withTargets(base: Targets, targets: ReadonlyMap<string, TargetFile>): Targets {
  return new Targets({
    version: base.version,
    specVersion: base.specVersion,
    expires: base.expires,
    unrecognized: base.unrecognized,
    delegations: base.delegations,
    targets,
  });
}

function stagedBin(add: TargetFile[]): StagedBin {
  const bin = new StagedBin();
  for (const t of add) bin.push(t);
  return bin;
}

const plainBin = new Targets({ version: 3, specVersion: '1.0.31', expires: EXPIRES, targets: new Map() });

describe('a hash bin encoded from compact staged entries', () => {
  it('gives the bytes of the model path, for every kind of entry and name', () => {
    const add = staged();
    const fast = withTargets(plainBin, new MergedBinTargets(published(), stagedBin(add)));
    const model = modelBin(plainBin, published(), add);
    const bytes = targetsSignedBytes(fast);
    expect(Buffer.from(bytes).toString('utf8')).toBe(
      Buffer.from(canonicalBytes(model.toJSON())).toString('utf8'),
    );
    // The merged view reads as the model's map does, entry for entry.
    expect(fast.targets.size).toBe(model.targets.size);
    for (const [path, t] of model.targets) expect(fast.targets.get(path)?.toJSON()).toEqual(t.toJSON());
    expect(fast.targets.get('twice')?.hashes.get('sha256')).toBe(hex(22));
    expect(fast.targets.get('published-replaced')?.length).toBe(123);
    expect(fast.targets.has('published-kept') && !fast.targets.has('nowhere')).toBe(true);
    // And the model's own encoding of the view agrees (what a compact file of it would hold).
    expect(canonicalBytes(fast.toJSON())).toEqual(bytes);
  });

  it('with a parsed published bin (lazy entries), unknown fields and delegations in the bin', async () => {
    const signer = fixedSigner(7);
    const extra = new Targets({
      version: 3,
      specVersion: '1.0.31',
      expires: EXPIRES,
      unrecognized: { 'x-zzz': { nested: ['a'] }, 'a-first': 1 },
      delegations: new Delegations({
        keys: new Map([[signer.key.keyid(), signer.key]]),
        roles: [
          new DelegatedRole({
            name: 'team',
            keyids: [signer.key.keyid()],
            threshold: 1,
            terminating: false,
            paths: ['team/*'],
          }),
        ],
      }),
      targets: published(),
    });
    const parsed = Metadata.fromBytes(new Metadata(extra).toBytes('canonical'), 'targets').signed;
    const add = staged();
    const fast = withTargets(parsed, new MergedBinTargets(parsed.targets, stagedBin(add)));
    const model = modelBin(parsed, parsed.targets, add);
    expect(targetsSignedBytes(fast)).toEqual(canonicalBytes(model.toJSON()));
    // A Targets that is not a merged bin goes the model way.
    expect(targetsSignedBytes(model)).toEqual(canonicalBytes(model.toJSON()));
  });

  it('an empty bin, and a bin of published entries only', () => {
    const none = withTargets(plainBin, new MergedBinTargets(new Map(), new StagedBin()));
    expect(Buffer.from(targetsSignedBytes(none)).toString()).toBe(
      '{"_type":"targets","expires":"2031-01-01T00:00:00Z","spec_version":"1.0.31","targets":{},"version":3}',
    );
    const pubOnly = withTargets(plainBin, new MergedBinTargets(published(), new StagedBin()));
    expect(targetsSignedBytes(pubOnly)).toEqual(canonicalBytes(modelBin(plainBin, published(), []).toJSON()));
  });

  it('refuses what the model path refuses, with the same error', () => {
    for (const bad of [
      compact('lone \uD800 surrogate', 1),
      new TargetFile('minus-zero', -0, new Map([['sha256', hex(1)]])),
    ]) {
      const fast = withTargets(plainBin, new MergedBinTargets(new Map(), stagedBin([bad])));
      const model = modelBin(plainBin, new Map(), [bad]);
      let expected: unknown;
      try {
        canonicalBytes(model.toJSON());
      } catch (e) {
        expected = e;
      }
      expect(expected).toBeInstanceOf(FormatError);
      expect(() => targetsSignedBytes(fast)).toThrow((expected as Error).message);
    }
  });

  it('a view keeps the entries staged before it was taken', () => {
    const bin = stagedBin([compact('a', 1)]);
    const view = new MergedBinTargets(new Map(), bin);
    bin.push(compact('a', 2));
    bin.push(compact('b', 3));
    expect([...view.keys()]).toEqual(['a']);
    expect(view.get('a')?.hashes.get('sha256')).toBe(hex(1));
  });
});

describe('StagedBin', () => {
  it('gives back every entry as it was staged, compact or not, also after append', () => {
    const add = staged();
    const a = stagedBin(add.slice(0, 7));
    a.append(stagedBin(add.slice(7)));
    expect(a.size).toBe(add.length);
    expect([...a.targets()].map((t) => t.toJSON())).toEqual(add.map((t) => t.toJSON()));
    expect([...a.targets()].map((t) => t.path)).toEqual(add.map((t) => t.path));
    // Entries with more than one sha256 of lower-case hex are kept as given.
    expect(a.fullTarget(0)).toBeUndefined();
    expect(a.fullTarget(3)).toBe(add[3]);
    expect(a.fullTarget(5)).toBe(add[5]);
  });

  it('grows past its first allocation', () => {
    const bin = new StagedBin();
    for (let i = 0; i < 1000; i++) bin.push(compact(`t${i}`, i));
    expect(bin.target(999).hashes.get('sha256')).toBe(hex(999));
    expect(bin.target(0).hashes.get('sha256')).toBe(hex(0));
  });
});
