import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import * as ed from '@noble/ed25519';
import { describe, expect, it } from 'vitest';
import { Key, PrivateKeySigner } from '../../src/crypto/index.js';
import { ed25519Pkcs8Pem, fromHex, readJson, utf8 } from './helpers.js';

interface Vector {
  name: string;
  secretKey: string;
  publicKey: string;
  message: string;
  signature: string;
}
const { vectors } = readJson('test-vectors/rfc8032/ed25519.json') as { vectors: Vector[] };

const edKey = (pub: string): Key =>
  Key.fromJSON({ keytype: 'ed25519', scheme: 'ed25519', keyval: { public: pub } }, 'key');

const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const le32 = (n: bigint): string => {
  const b = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) b[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return b.toString('hex');
};
const fromLe = (h: string): bigint => BigInt(`0x${Buffer.from(h, 'hex').reverse().toString('hex')}`);

// The eight points of the torsion subgroup E[8] (orders 1, 2, 4, 4, 8, 8, 8, 8), canonically encoded.
const SMALL_ORDER = [
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000000000000000080',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
];
const IDENTITY = SMALL_ORDER[0] ?? '';
// R = identity, S = 0: with the identity as public key, [S]B = R + [k]A holds for every message.
const FORGERY = `01${'00'.repeat(63)}`;

describe('RFC 8032 section 7.1 vectors (test-vectors/rfc8032/ed25519.json)', () => {
  it('holds the five vectors', () => {
    expect(vectors.map((v) => v.name)).toEqual(['TEST 1', 'TEST 2', 'TEST 3', 'TEST 1024', 'TEST SHA(abc)']);
    expect(fromHex(vectors[3]?.message ?? '').length).toBe(1023);
  });

  it.each(vectors.map((v) => [v.name, v] as const))(
    '%s verifies; a changed message does not',
    async (_n, v) => {
      const k = edKey(v.publicKey);
      expect(k.supported).toBe(true);
      expect(await k.verify(fromHex(v.message), v.signature)).toBe(true);
      expect(await k.verify(fromHex(`${v.message}00`), v.signature)).toBe(false);
    },
  );

  it.each(vectors.map((v) => [v.name, v] as const))('%s: signing gives the same signature', async (_n, v) => {
    // Ed25519 is deterministic, so the signer is checked byte for byte against the RFC.
    const signer = PrivateKeySigner.fromPem(ed25519Pkcs8Pem(v.secretKey));
    expect(signer.key.keyval.public).toBe(v.publicKey);
    expect((await signer.sign(fromHex(v.message))).sig).toBe(v.signature);
  });
});

describe('small-order public keys (DESIGN rule 5)', () => {
  it('the forgery is real: OpenSSL itself accepts it for any message', () => {
    // If this ever fails, OpenSSL changed; the key check below must stay regardless.
    const spki = Buffer.concat([
      Buffer.from('302a300506032b6570032100', 'hex'),
      Buffer.from(IDENTITY, 'hex'),
    ]);
    const pk = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    expect(nodeVerify(null, utf8('any message at all'), pk, Buffer.from(FORGERY, 'hex'))).toBe(true);
  });

  it('tufa rejects the identity key, so the forgery does not verify', async () => {
    const k = edKey(IDENTITY);
    expect(k.supported).toBe(false);
    expect(await k.verify(utf8('any message at all'), FORGERY)).toBe(false);
  });

  it('the list is the whole 8-torsion subgroup', () => {
    const points = SMALL_ORDER.map((h) => ed.Point.fromHex(h, false));
    expect(new Set(points.map((p) => p.toHex())).size).toBe(8);
    for (const p of points) expect(p.multiplyUnsafe(8n).is0()).toBe(true);
  });

  it.each(SMALL_ORDER)('small-order key %s is unsupported and verifies nothing', async (pub) => {
    const k = edKey(pub);
    expect(k.supported).toBe(false);
    expect(await k.verify(new Uint8Array(0), FORGERY)).toBe(false);
    expect(await k.verify(utf8('x'), FORGERY)).toBe(false);
  });

  it('the check is remembered by key bytes: every new Key of a refused key is refused again', async () => {
    // Keys are checked once per public key, not once per Key object (a root parsed again reuses
    // the answer); the answer must stay that key's own, whatever was checked before or after.
    const good = ed.Point.BASE.multiply(987654321n).toHex();
    const order = [...SMALL_ORDER, good, ...[...SMALL_ORDER].reverse(), good];
    for (const pub of order) {
      const k = edKey(pub);
      expect(k.supported, pub).toBe(pub === good);
      expect(await k.verify(new Uint8Array(0), FORGERY)).toBe(false);
    }
  });

  it('a key with a torsion component (A = aB + T) is unsupported; its prime-order part is fine', () => {
    const base = ed.Point.BASE.multiply(123456789n);
    const mixed = base.add(ed.Point.fromHex(SMALL_ORDER[4] ?? ''));
    expect(edKey(base.toHex()).supported).toBe(true);
    expect(edKey(mixed.toHex()).supported).toBe(false);
  });
});

// Every non-canonical encoding (y >= p, or x = 0 with the sign bit set) is of a point that is
// small-order or has a torsion component, so the torsion check alone would also reject these;
// strict RFC 8032 decoding is kept so that the rule does not rest on that observation.
describe('non-canonical public keys', () => {
  it('y >= p: an encoding of a valid, non-small-order point with y + p is unsupported', () => {
    // y = 3 is on the curve; (3 + p) encodes the same point non-canonically.
    const canonical = le32(3n);
    const alias = le32(3n + P);
    const point = ed.Point.fromHex(alias, true); // ZIP-215 decoding accepts it ...
    expect(point.isSmallOrder()).toBe(false);
    expect(point.equals(ed.Point.fromHex(canonical, false))).toBe(true); // ... as the same point
    expect(edKey(alias).supported).toBe(false);
  });

  it.each([
    ['identity with the x sign bit set', `01${'00'.repeat(30)}80`],
    ['identity as y = p + 1', le32(1n + P)],
    ['a y with no point (y = 2)', le32(2n)],
  ])('%s is unsupported', (_name, pub) => {
    expect(edKey(pub).supported).toBe(false);
  });
});

describe('signature checks', () => {
  const v = vectors[1] as Vector; // TEST 2
  const k = edKey(v.publicKey);
  const msg = fromHex(v.message);
  const R = v.signature.slice(0, 64);
  const S = fromLe(v.signature.slice(64));

  it('S + L (non-canonical S, same value mod L) is rejected', async () => {
    expect(S + L < 2n ** 256n).toBe(true);
    expect(await k.verify(msg, R + le32(S))).toBe(true);
    expect(await k.verify(msg, R + le32(S + L))).toBe(false);
  });

  it('an R that does not decode is rejected', async () => {
    const badR = le32(2n);
    expect(() => ed.Point.fromHex(badR, true)).toThrow();
    expect(await k.verify(msg, badR + v.signature.slice(64))).toBe(false);
  });

  it.each([
    ['63 bytes', v.signature.slice(0, 126)],
    ['65 bytes', `${v.signature}00`],
    ['empty', ''],
  ])('a signature of %s is rejected', async (_name, sig) => {
    expect(await k.verify(msg, sig)).toBe(false);
  });
});
