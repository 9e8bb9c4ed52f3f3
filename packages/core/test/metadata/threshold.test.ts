import { createECDH, createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Key } from '../../src/crypto/key.js';
import { PrivateKeySigner } from '../../src/crypto/signer.js';
import { ThresholdError, type TufError, UsageError } from '../../src/errors.js';
import { canonicalBytes } from '../../src/json/canonical.js';
import { Metadata } from '../../src/metadata/metadata.js';
import type { Root } from '../../src/metadata/signed.js';
import {
  bytesOf,
  type Json,
  rejected,
  rootSigned,
  setAt,
  signer,
  succinctTargetsSigned,
  targetsSigned,
  timestampSigned,
} from './fixtures.js';

const A = signer(11);
const B = signer(12);
const C = signer(13);
const D = signer(14); // authorised for snapshot only
const E = signer(15); // in no metadata at all

interface RawSig {
  keyid: string;
  sig: string;
}
type SigSpec = PrivateKeySigner | [PrivateKeySigner, string] | RawSig;

/** A root whose targets role has `keyids` and `threshold`; `keys` defaults to A, B, C (and D for snapshot). */
function rootWith(keyids: string[], threshold: number, keys?: Json): Metadata {
  const s = rootSigned({ root: [signer(1)], timestamp: [signer(2)], snapshot: [D], targets: [A, B, C] });
  if (keys) s['keys'] = keys;
  setAt(s, ['roles', 'targets'], { keyids, threshold });
  return Metadata.fromBytes(bytesOf({ signatures: [], signed: s }), 'root');
}

/** A targets document (optionally varied by `version`) signed as `sigs` say. */
async function delegate(sigs: SigSpec[], version = 1): Promise<Metadata> {
  const signed = targetsSigned();
  signed['version'] = version;
  const data = canonicalBytes(signed);
  const signatures: Json[] = [];
  for (const spec of sigs) {
    if (spec instanceof PrivateKeySigner) signatures.push((await spec.sign(data)).toJSON());
    else if (Array.isArray(spec)) signatures.push({ keyid: spec[1], sig: (await spec[0].sign(data)).sig });
    else signatures.push({ ...spec });
  }
  return Metadata.fromBytes(bytesOf({ signatures, signed }), 'targets');
}

async function expectThresholdError(
  root: Metadata,
  role: string,
  md: Metadata,
  found: number,
  threshold: number,
) {
  const e = await rejected(root.verifyDelegate(role, md));
  expect(e).toBeInstanceOf(ThresholdError);
  expect((e as TufError).code).toBe('THRESHOLD');
  expect((e as TufError).message).toContain(`${role} version ${md.signed.version}`);
  expect((e as TufError).message).toContain(
    `expected ${threshold} valid signature(s) from its keys, found ${found}`,
  );
}

describe('threshold met and not met', () => {
  it('2 of 3: two valid signatures verify; the result lists who signed and who did not', async () => {
    const root = rootWith([A.keyid, B.keyid, C.keyid], 2);
    const md = await delegate([A, C]);
    expect(await root.delegateStatus('targets', md)).toEqual({
      role: 'targets',
      threshold: 2,
      signed: [A.keyid, C.keyid],
      unsigned: [B.keyid],
      verified: true,
    });
    await root.verifyDelegate('targets', md);
  });

  it('2 of 3: one valid signature does not verify', async () => {
    const root = rootWith([A.keyid, B.keyid, C.keyid], 2);
    const md = await delegate([B]);
    expect(await root.delegateStatus('targets', md)).toEqual({
      role: 'targets',
      threshold: 2,
      signed: [B.keyid],
      unsigned: [A.keyid, C.keyid],
      verified: false,
    });
    await expectThresholdError(root, 'targets', md, 1, 2);
  });

  it('no signatures at all', async () => {
    const root = rootWith([A.keyid], 1);
    const md = await delegate([], 7);
    expect(await root.delegateStatus('targets', md)).toMatchObject({
      signed: [],
      unsigned: [A.keyid],
      verified: false,
    });
    await expectThresholdError(root, 'targets', md, 0, 1);
  });

  it('3 of 3 needs all three; signature order does not matter', async () => {
    const root = rootWith([A.keyid, B.keyid, C.keyid], 3);
    await root.verifyDelegate('targets', await delegate([C, A, B]));
    await expectThresholdError(root, 'targets', await delegate([C, A]), 2, 3);
  });

  it('a threshold above the number of keys can never be met', async () => {
    const root = rootWith([A.keyid, B.keyid], 3);
    const md = await delegate([A, B]);
    expect((await root.delegateStatus('targets', md)).verified).toBe(false);
    await expectThresholdError(root, 'targets', md, 2, 3);
  });

  it('stopAtThreshold stops verifying once met; without it every key is checked', async () => {
    const root = rootWith([A.keyid, B.keyid, C.keyid], 1);
    const md = await delegate([A, B, C]);
    expect(await root.delegateStatus('targets', md, { stopAtThreshold: true })).toEqual({
      role: 'targets',
      threshold: 1,
      signed: [A.keyid],
      unsigned: [],
      verified: true,
    });
    expect((await root.delegateStatus('targets', md)).signed).toEqual([A.keyid, B.keyid, C.keyid]);
  });

  it('a signature over other bytes (another version) does not count', async () => {
    const root = rootWith([A.keyid], 1);
    const other = await delegate([A], 2);
    const sig = other.signatures.get(A.keyid)?.sig ?? '';
    const md = await delegate([{ keyid: A.keyid, sig }], 1);
    await expectThresholdError(root, 'targets', md, 0, 1);
  });
});

describe('counting distinct keys', () => {
  it('the same Ed25519 key under two keyids counts once', async () => {
    const keys: Json = { a1: A.key.toJSON(), a2: A.key.toJSON(), [B.keyid]: B.key.toJSON() };
    const two = rootWith(['a1', 'a2'], 2, keys);
    const md = await delegate([
      [A, 'a1'],
      [A, 'a2'],
    ]);
    const status = await two.delegateStatus('targets', md);
    expect(status.signed).toEqual(['a1']);
    expect(status.verified).toBe(false);
    await expectThresholdError(two, 'targets', md, 1, 2);
    // With threshold 1 it verifies; with a distinct second key threshold 2 is met.
    await rootWith(['a1', 'a2'], 1, keys).verifyDelegate('targets', md);
    const withB = rootWith(['a1', 'a2', B.keyid], 2, keys);
    await withB.verifyDelegate('targets', await delegate([[A, 'a1'], [A, 'a2'], B]));
  });

  it('the same ECDSA key under two keyids and two keytype spellings, with two different valid signatures, counts once', async () => {
    // A fixed P-256 key (scalar 0x0707…07).
    const d = Buffer.alloc(32, 7);
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(d);
    const pub = ecdh.getPublicKey();
    const privateKey = createPrivateKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        d: d.toString('base64url'),
        x: pub.subarray(1, 33).toString('base64url'),
        y: pub.subarray(33).toString('base64url'),
      },
      format: 'jwk',
    });
    const key = Key.fromPublicKeyObject(createPublicKey(privateKey));
    expect(key.keytype).toBe('ecdsa');
    const alias = new Key('ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp256', { public: key.keyval.public });
    expect(alias.supported).toBe(true);
    expect(alias.materialId()).toBe(key.materialId());
    const ec = new PrivateKeySigner(privateKey, key);
    const keys: Json = { 'ec-1': key.toJSON(), 'ec-2': alias.toJSON() };
    const root2 = rootWith(['ec-1', 'ec-2'], 2, keys);
    const md = await delegate([
      [ec, 'ec-1'],
      [ec, 'ec-2'],
    ]);
    // ECDSA signatures are randomised: the two are different strings, both valid.
    expect(md.signatures.get('ec-1')?.sig).not.toBe(md.signatures.get('ec-2')?.sig);
    expect(await alias.verify(md.signedBytes(), md.signatures.get('ec-1')?.sig ?? '')).toBe(true);
    expect(await root2.delegateStatus('targets', md)).toMatchObject({ signed: ['ec-1'], verified: false });
    await expectThresholdError(root2, 'targets', md, 1, 2);
    await rootWith(['ec-1', 'ec-2'], 1, keys).verifyDelegate('targets', md);
  });

  it('a keyid listed twice in the role counts once (and is reported once)', async () => {
    const root = rootWith([A.keyid, A.keyid], 2);
    const md = await delegate([A]);
    expect(await root.delegateStatus('targets', md)).toEqual({
      role: 'targets',
      threshold: 2,
      signed: [A.keyid],
      unsigned: [],
      verified: false,
    });
    await expectThresholdError(root, 'targets', md, 1, 2);
    const unsignedTwice = await root.delegateStatus('targets', await delegate([]));
    expect(unsignedTwice.unsigned).toEqual([A.keyid]);
  });

  it('a keyid in the role but missing from keys never counts', async () => {
    const root = rootWith([A.keyid, 'ghost'], 2);
    const md = await delegate([A, [B, 'ghost']]);
    expect(await root.delegateStatus('targets', md)).toEqual({
      role: 'targets',
      threshold: 2,
      signed: [A.keyid],
      unsigned: ['ghost'],
      verified: false,
    });
    await expectThresholdError(root, 'targets', md, 1, 2);
    // Even a signature that is valid under some other listed key does not count for the ghost.
    const ghostOnly = rootWith(['ghost'], 1);
    await expectThresholdError(ghostOnly, 'targets', await delegate([[A, 'ghost']]), 0, 1);
  });

  it('a signature under one keyid never counts for another keyid of a different key', async () => {
    const root = rootWith([A.keyid, B.keyid], 1);
    // B's keyid, A's signature.
    await expectThresholdError(root, 'targets', await delegate([[A, B.keyid]]), 0, 1);
  });
});

describe('bad signatures beside good ones', () => {
  const invalid: [string, (md: string) => string][] = [
    ['empty', () => ''],
    ['not hex', () => 'zz'.repeat(64)],
    ['odd length', (s) => s.slice(1)],
    ['truncated', (s) => s.slice(0, 126)],
    ['one bit flipped', (s) => `${(Number.parseInt(s.slice(0, 1), 16) ^ 1).toString(16)}${s.slice(1)}`],
    ['too long', (s) => `${s}00`],
    ['whitespace', (s) => ` ${s}`],
  ];

  it.each(invalid)(
    'an %s signature from an authorised key is ignored when others meet the threshold',
    async (_n, bad) => {
      const root = rootWith([A.keyid, B.keyid, C.keyid], 2);
      const good = await delegate([B]);
      const bSig = good.signatures.get(B.keyid)?.sig ?? '';
      const md = await delegate([A, { keyid: B.keyid, sig: bad(bSig) }, C]);
      const status = await root.delegateStatus('targets', md);
      expect(status).toEqual({
        role: 'targets',
        threshold: 2,
        signed: [A.keyid, C.keyid],
        unsigned: [B.keyid],
        verified: true,
      });
      await root.verifyDelegate('targets', md);
      // … and it does not count on its own.
      await expectThresholdError(
        rootWith([B.keyid], 1),
        'targets',
        await delegate([{ keyid: B.keyid, sig: bad(bSig) }]),
        0,
        1,
      );
    },
  );

  it('an upper-case hex signature is the same signature (hex is case-insensitive)', async () => {
    const root = rootWith([A.keyid], 1);
    const sig = (await delegate([A])).signatures.get(A.keyid)?.sig ?? '';
    await root.verifyDelegate('targets', await delegate([{ keyid: A.keyid, sig: sig.toUpperCase() }]));
  });

  it('a malleated Ed25519 signature (S + L) is refused', async () => {
    const root = rootWith([A.keyid], 1);
    const sig = Buffer.from((await delegate([A])).signatures.get(A.keyid)?.sig ?? '', 'hex');
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    let s = 0n;
    for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i] ?? 0);
    let t = s + L;
    const out = Buffer.from(sig);
    for (let i = 32; i < 64; i++) {
      out[i] = Number(t & 0xffn);
      t >>= 8n;
    }
    expect(t).toBe(0n); // S + L still fits in 256 bits
    await expectThresholdError(
      root,
      'targets',
      await delegate([{ keyid: A.keyid, sig: out.toString('hex') }]),
      0,
      1,
    );
  });
});

describe('unauthorised keys', () => {
  it('signatures by keys authorised for another role, or by unknown keys, are ignored', async () => {
    const root = rootWith([A.keyid, B.keyid], 2);
    const md = await delegate([D, E, A]);
    expect(await root.delegateStatus('targets', md)).toEqual({
      role: 'targets',
      threshold: 2,
      signed: [A.keyid],
      unsigned: [B.keyid],
      verified: false,
    });
    await expectThresholdError(root, 'targets', md, 1, 2);
    await expectThresholdError(rootWith([A.keyid], 1), 'targets', await delegate([D, E]), 0, 1);
    // D is trusted for snapshot, so the same document verifies as snapshot would.
    await root.verifyDelegate('snapshot', md);
  });
});

describe('which delegator defines the role', () => {
  it('a role the root does not define is a UsageError', async () => {
    const root = rootWith([A.keyid], 1);
    const md = await delegate([A]);
    for (const name of ['mirror', 'Targets', '', '__proto__', 'constructor', 'role-a']) {
      const e = await rejected(root.verifyDelegate(name, md));
      expect(e).toBeInstanceOf(UsageError);
      expect((e as TufError).code).toBe('USAGE');
      expect((e as TufError).message).toContain(JSON.stringify(name));
      await expect(root.delegateStatus(name, md)).rejects.toBeInstanceOf(UsageError);
    }
  });

  it('a role the targets does not delegate to, or a targets without delegations, is a UsageError', async () => {
    const parent = await delegate([]);
    const child = await delegate([signer(5)]);
    await parent.verifyDelegate('role-a', child);
    await parent.verifyDelegate('role-b', child);
    for (const name of ['role-c', 'targets', 'root', '__proto__']) {
      await expect(parent.verifyDelegate(name, child)).rejects.toMatchObject({ code: 'USAGE' });
    }
    const s = targetsSigned();
    delete s['delegations'];
    const leaf = Metadata.fromBytes(bytesOf({ signatures: [], signed: s }), 'targets');
    await expect(leaf.verifyDelegate('role-a', child)).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('timestamp and snapshot delegate to nobody', async () => {
    const ts = Metadata.fromBytes(bytesOf({ signatures: [], signed: timestampSigned() }), 'timestamp');
    await expect(ts.verifyDelegate('snapshot', ts)).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('succinct bins are verified with the shared keys; names outside the bins are a UsageError', async () => {
    const parent = Metadata.fromBytes(
      bytesOf({ signatures: [], signed: succinctTargetsSigned(3) }),
      'targets',
    );
    const child = await delegate([signer(6)]);
    await parent.verifyDelegate('bin-0', child);
    await parent.verifyDelegate('bin-7', child);
    await expect(parent.verifyDelegate('bin-8', child)).rejects.toMatchObject({ code: 'USAGE' });
    await expect(parent.verifyDelegate('bin-00', child)).rejects.toMatchObject({ code: 'USAGE' });
    await expectThresholdError(parent, 'bin-3', await delegate([A]), 0, 1);
  });
});

describe('small-order Ed25519 keys (DESIGN rule 5)', () => {
  const IDENTITY = `01${'00'.repeat(31)}`;
  const SMALL_ORDER = [
    ['identity', IDENTITY],
    ['order 2 (0, -1)', `ec${'ff'.repeat(30)}7f`],
    ['order 4 (y = 0)', '00'.repeat(32)],
    ['order 4 (y = 0, sign bit)', `${'00'.repeat(31)}80`],
    ['order 8', '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05'],
    ['order 8', 'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a'],
  ] as const;

  it('the identity key with R = identity, S = 0, authorised in root, never verifies anything', async () => {
    const forged = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: IDENTITY } };
    const root = rootWith(['forged'], 1, { forged });
    const sig = `01${'00'.repeat(63)}`;
    for (let version = 1; version <= 8; version++) {
      const md = await delegate([{ keyid: 'forged', sig }], version);
      expect(await root.delegateStatus('targets', md)).toEqual({
        role: 'targets',
        threshold: 1,
        signed: [],
        unsigned: ['forged'],
        verified: false,
      });
      await expectThresholdError(root, 'targets', md, 0, 1);
    }
    const key = (root.signed as Root).keys.get('forged');
    expect(key?.supported).toBe(false);
    expect(await key?.verify(new Uint8Array(0), sig)).toBe(false);
    expect(await key?.verify(new TextEncoder().encode('anything'), sig)).toBe(false);
  });

  it.each(SMALL_ORDER)('a %s public key is unusable', async (_n, pub) => {
    const key = new Key('ed25519', 'ed25519', { public: pub });
    expect(key.supported).toBe(false);
    const msgs = ['', 'a', 'tuf', 'x'.repeat(100)].map((m) => new TextEncoder().encode(m));
    for (const m of msgs) {
      for (const sig of [`01${'00'.repeat(63)}`, `${pub}${'00'.repeat(32)}`, '00'.repeat(64)]) {
        expect(await key.verify(m, sig)).toBe(false);
      }
    }
  });
});
