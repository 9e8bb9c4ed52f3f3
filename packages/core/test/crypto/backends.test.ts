/**
 * The crypto backends side by side (ADR 0022): the edge cases where WebCrypto and OpenSSL take
 * different encodings (ECDSA DER vs r‖s, RSA-PSS salt length), an engine without Ed25519 in its
 * WebCrypto, and a runtime with no usable crypto, which must surface as CRYPTO_BACKEND, never as
 * a bad signature or a threshold failure.
 */
import * as nodeCrypto from 'node:crypto';
import { constants, generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { cryptoBackend, useCryptoBackend } from '../../src/crypto/active-backend.js';
import type { CryptoBackend } from '../../src/crypto/backend.js';
import { Key, keyFromPublicPem, PrivateKeySigner } from '../../src/crypto/index.js';
import { backend as nodeBackend } from '../../src/crypto/node-backend.js';
import { webCryptoBackend } from '../../src/crypto/web-backend.js';
import { CryptoBackendError, ThresholdError } from '../../src/errors.js';
import { Metadata } from '../../src/metadata/metadata.js';
import { newUpdater, trustingStore } from '../helpers/client.js';
import { Simulator } from '../helpers/simulator.js';
import { ed25519Pkcs8Pem, fromHex, hex, readJson, utf8 } from './helpers.js';
import { subtleWithout } from './subtle.js';

const BACKENDS: [string, CryptoBackend][] = [
  ['node:crypto', nodeBackend],
  ['webcrypto', webCryptoBackend()],
  ['webcrypto without Ed25519 (noble)', webCryptoBackend({ subtle: subtleWithout('Ed25519') })],
];

let restore: (() => void) | undefined;
afterEach(() => {
  restore?.();
  restore = undefined;
});
const use = (b: CryptoBackend): void => {
  restore = useCryptoBackend(b);
};

const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pemOf = (k: typeof rsa): Key =>
  keyFromPublicPem(k.publicKey.export({ type: 'spki', format: 'pem' }) as string);
const DATA = utf8('{"_type":"targets","version":7}');

/** A DER signature rewritten by `edit` (on r and s as hex strings without DER framing). */
function derSig(r: string, s: string, { lenOverride }: { lenOverride?: string } = {}): string {
  const int = (h: string) => `02${(h.length / 2).toString(16).padStart(2, '0')}${h}`;
  const body = int(r) + int(s);
  return `30${lenOverride ?? (body.length / 2).toString(16).padStart(2, '0')}${body}`;
}

/** r and s (minimal positive DER content, hex) of a real signature. */
function rs(sigHex: string): [string, string] {
  const b = fromHex(sigHex);
  const rLen = b[3] ?? 0;
  const r = hex(b.subarray(4, 4 + rLen));
  const s = hex(b.subarray(6 + rLen));
  return [r, s];
}

describe.each(BACKENDS)('backend %s', (_name, backend) => {
  it('verifies the RFC 8032 vectors and refuses the small-order forgery', async () => {
    use(backend);
    const { vectors } = readJson('test-vectors/rfc8032/ed25519.json') as {
      vectors: { publicKey: string; message: string; signature: string }[];
    };
    for (const v of vectors) {
      const k = new Key('ed25519', 'ed25519', { public: v.publicKey });
      expect(await k.verify(fromHex(v.message), v.signature)).toBe(true);
      expect(await k.verify(fromHex(`${v.message}01`), v.signature)).toBe(false);
    }
    const identity = new Key('ed25519', 'ed25519', { public: `01${'00'.repeat(31)}` });
    expect(await identity.verify(utf8('anything'), `01${'00'.repeat(63)}`)).toBe(false);
  });

  it('signs with node and verifies Ed25519 deterministically', async () => {
    use(backend);
    const signer = PrivateKeySigner.fromPem(ed25519Pkcs8Pem('11'.repeat(32)));
    const s = await signer.sign(DATA);
    expect(await signer.key.verify(DATA, s.sig)).toBe(true);
  });

  it.each([
    ['P-256', p256, 'sha256', 32],
    ['P-384', p384, 'sha384', 48],
  ] as const)('ECDSA %s: DER edge cases get the same answer everywhere', async (_c, pair, hash, size) => {
    use(backend);
    const key = pemOf(pair);
    const good = nodeSign(hash, DATA, { key: pair.privateKey, dsaEncoding: 'der' }).toString('hex');
    const [r, s] = rs(good);
    expect(derSig(r, s)).toBe(good);
    expect(await key.verify(DATA, good)).toBe(true);
    const raw = nodeSign(hash, DATA, { key: pair.privateKey, dsaEncoding: 'ieee-p1363' }).toString('hex');
    const refused: [string, string][] = [
      ['raw r||s instead of DER', raw],
      ['a zero byte after the SEQUENCE', `${good}00`],
      ['r padded with a needless zero byte', derSig(`00${r}`, s)],
      [
        's negated (high bit set, no sign byte)',
        derSig(r, `${(Number.parseInt(s.slice(0, 2), 16) | 0x80).toString(16)}${s.slice(2)}`),
      ],
      ['r = 0', derSig('00', s)],
      ['r longer than the curve order', derSig(`01${'00'.repeat(size)}`, s)],
      ['the SEQUENCE length in long form', `3081${good.slice(2)}`],
      ['r and s swapped', derSig(s, r)],
      ['an empty signature', ''],
    ];
    for (const [what, sig] of refused) expect(await key.verify(DATA, sig), what).toBe(false);
  });

  it.each([
    ['32 (securesystemslib)', 32],
    ['0', 0],
    ['20', 20],
    ['the maximum', constants.RSA_PSS_SALTLEN_MAX_SIGN],
  ])('RSA-PSS with salt length %s verifies (PSS.AUTO)', async (_n, saltLength) => {
    use(backend);
    const key = pemOf(rsa);
    const sig = nodeSign('sha256', DATA, {
      key: rsa.privateKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength,
    }).toString('hex');
    expect(await key.verify(DATA, sig)).toBe(true);
    expect(await key.verify(utf8('other'), sig)).toBe(false);
  });

  it('RSA: PKCS#1 v1.5 and a signature >= the modulus do not verify', async () => {
    use(backend);
    const key = pemOf(rsa);
    expect(await key.verify(DATA, nodeSign('sha256', DATA, rsa.privateKey).toString('hex'))).toBe(false);
    expect(await key.verify(DATA, 'ff'.repeat(256))).toBe(false);
  });

  it('hashes incrementally like the one-shot digest', () => {
    use(backend);
    for (const alg of ['sha256', 'sha512'] as const) {
      const h = backend.createHash(alg);
      h.update(utf8('ab'));
      h.update(utf8('c'));
      const one = backend.createHash(alg);
      one.update(utf8('abc'));
      expect(hex(h.digest())).toBe(hex(one.digest()));
    }
  });
});

describe('a backend failure is CRYPTO_BACKEND, never a bad signature', () => {
  const noCrypto = webCryptoBackend({ subtle: null });
  const noEcdsa = webCryptoBackend({ subtle: subtleWithout('ECDSA') });

  it('no crypto.subtle (an insecure context): Key.verify rejects with CryptoBackendError', async () => {
    use(noCrypto);
    const signer = PrivateKeySigner.fromPem(ed25519Pkcs8Pem('22'.repeat(32)));
    const sig = (await signer.sign(DATA)).sig;
    const err = await signer.key.verify(DATA, sig).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CryptoBackendError);
    expect(err).toMatchObject({ code: 'CRYPTO_BACKEND', category: 'local' });
    expect((err as Error).message).toMatch(/crypto\.subtle/);
  });

  it('an engine without ECDSA: CryptoBackendError naming the algorithm', async () => {
    use(noEcdsa);
    const key = pemOf(p256);
    const sig = nodeSign('sha256', DATA, { key: p256.privateKey, dsaEncoding: 'der' }).toString('hex');
    await expect(key.verify(DATA, sig)).rejects.toMatchObject({
      code: 'CRYPTO_BACKEND',
      message: expect.stringMatching(/ecdsa-p256/),
    });
    // A malformed signature is refused before the backend is asked: still just false.
    expect(await key.verify(DATA, `${sig}00`)).toBe(false);
  });

  it('a refresh on a runtime without crypto fails with CRYPTO_BACKEND, not THRESHOLD', async () => {
    const sim = new Simulator();
    await sim.publishRoot();
    await sim.publish();
    const store = await trustingStore(sim);
    use(noCrypto);
    const err = await newUpdater(sim, store)
      .refresh()
      .catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(ThresholdError);
    expect(err).toMatchObject({ code: 'CRYPTO_BACKEND' });
    restore?.();
    restore = undefined;
    // The same client on a working backend refreshes: the failure said nothing about the data.
    await newUpdater(sim, store).refresh();
  });

  it('Metadata.verifyDelegate reports the backend failure too', async () => {
    const sim = new Simulator();
    await sim.publishRoot();
    await sim.publish();
    const root = Metadata.fromBytes(sim.rootBytes(1), 'root');
    use(noCrypto);
    await expect(root.verifyDelegate('root', root)).rejects.toBeInstanceOf(CryptoBackendError);
  });
});

describe('backend selection', () => {
  it('Node resolves node:crypto (the webcrypto test project swaps it in a setup file)', () => {
    expect(['node:crypto', 'webcrypto']).toContain(cryptoBackend().name);
    expect(nodeBackend.name).toBe('node:crypto');
  });
});

describe('one-shot digest (backend.digest)', () => {
  it("node:crypto's agrees with its streaming hash and with the known answers", () => {
    // FIPS 180-2 "abc" vectors; then a range of lengths against createHash.
    const oneShot = nodeBackend.digest;
    if (typeof (nodeCrypto as { hash?: unknown }).hash !== 'function') {
      expect(oneShot).toBeUndefined(); // an older Node: digest falls back to createHash
      return;
    }
    if (!oneShot) throw new Error('expected a one-shot digest on this Node');
    expect(hex(oneShot('sha256', utf8('abc')))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(hex(oneShot('sha512', utf8('abc'))).slice(0, 32)).toBe('ddaf35a193617abacc417349ae204131');
    for (const n of [0, 1, 55, 56, 64, 1000]) {
      const data = new Uint8Array(n).map((_, i) => (i * 31) & 0xff);
      for (const alg of ['sha256', 'sha512'] as const) {
        const h = nodeBackend.createHash(alg);
        h.update(data);
        expect(hex(oneShot(alg, data)), `${alg} ${n}`).toBe(hex(h.digest()));
      }
    }
  });

  it('digest() uses it when the backend has one, createHash otherwise', async () => {
    const { digest } = await import('../../src/crypto/hash.js');
    const calls: string[] = [];
    const counting: CryptoBackend = {
      ...nodeBackend,
      digest: (alg, data) => {
        calls.push(alg);
        const h = nodeBackend.createHash(alg);
        h.update(data);
        return h.digest();
      },
    };
    const before = cryptoBackend();
    useCryptoBackend(counting);
    try {
      expect(hex(digest('sha256', utf8('abc')))).toMatch(/^ba7816bf/);
      expect(calls).toEqual(['sha256']);
      const { digest: _omit, ...withoutDigest } = counting;
      useCryptoBackend(withoutDigest);
      expect(hex(digest('sha256', utf8('abc')))).toMatch(/^ba7816bf/);
      expect(calls).toEqual(['sha256']);
    } finally {
      useCryptoBackend(before);
    }
  });
});
