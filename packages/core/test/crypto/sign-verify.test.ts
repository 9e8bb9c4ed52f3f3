import {
  constants,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
} from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type GeneratedKeyPair,
  generateKeyPair,
  Key,
  type KeyKind,
  keyToPem,
  PrivateKeySigner,
  Signature,
} from '../../src/crypto/index.js';
import { KeyError, UnsupportedKeyError, UsageError } from '../../src/errors.js';
import { parseStrict } from '../../src/json/strict.js';
import { flipHexBit, pythonTufKeys, readBytes, utf8 } from './helpers.js';

const KINDS: KeyKind[] = ['ed25519', 'ecdsa-p256', 'ecdsa-p384', 'rsa'];
const EXPECTED: Record<KeyKind, [string, string]> = {
  ed25519: ['ed25519', 'ed25519'],
  'ecdsa-p256': ['ecdsa', 'ecdsa-sha2-nistp256'],
  'ecdsa-p384': ['ecdsa', 'ecdsa-sha2-nistp384'],
  rsa: ['rsa', 'rsassa-pss-sha256'],
};
const PEM_RE =
  /^-----BEGIN PUBLIC KEY-----\n(?:[A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END PUBLIC KEY-----\n$/;
const DATA = utf8('{"_type":"root","version":1}');

// Two pairs per kind (RSA at 2048 bits to keep the suite fast; the 3072 default is tested once).
const pairs = new Map<KeyKind, [GeneratedKeyPair, GeneratedKeyPair]>();
beforeAll(async () => {
  for (const kind of KINDS) {
    const opts = { rsaBits: 2048 };
    pairs.set(kind, [await generateKeyPair(kind, opts), await generateKeyPair(kind, opts)]);
  }
});
const pair = (kind: KeyKind, i = 0): GeneratedKeyPair => {
  const p = pairs.get(kind)?.[i];
  if (!p) throw new Error('fixture missing');
  return p;
};
const privateOf = (p: GeneratedKeyPair): KeyObject => createPrivateKey(p.privateKeyPem);
const publicOf = (p: GeneratedKeyPair): KeyObject => createPublicKey(keyToPem(p.key));

describe.each(KINDS)('%s', (kind) => {
  it('generates the TUF key object securesystemslib writes', () => {
    const { key, signer, privateKeyPem } = pair(kind);
    const json = key.toJSON();
    expect([json['keytype'], json['scheme']]).toEqual(EXPECTED[kind]);
    expect(Object.keys(json).sort()).toEqual(['keytype', 'keyval', 'scheme']);
    expect(Object.keys(key.keyval)).toEqual(['public']);
    if (kind === 'ed25519') expect(key.keyval.public).toMatch(/^[0-9a-f]{64}$/);
    else expect(key.keyval.public).toMatch(PEM_RE);
    expect(privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(signer.keyid).toBe(key.keyid());
    expect(signer.key).toBe(key);
  });

  it('round-trips: a signature verifies; changed data or a changed signature does not', async () => {
    const { key, signer } = pair(kind);
    const s = await signer.sign(DATA);
    expect(s).toBeInstanceOf(Signature);
    expect(s.keyid).toBe(key.keyid());
    expect(await key.verify(DATA, s.sig)).toBe(true);
    expect(await key.verify(utf8('{"_type":"root","version":2}'), s.sig)).toBe(false);
    expect(await key.verify(DATA, flipHexBit(s.sig, 10))).toBe(false);
    expect(await key.verify(DATA, s.sig.toUpperCase())).toBe(true); // hex case is not significant
  });

  it('a signature from one key fails for every other key', async () => {
    const s = await pair(kind).signer.sign(DATA);
    expect(await pair(kind, 1).key.verify(DATA, s.sig)).toBe(false);
    for (const other of KINDS.filter((k) => k !== kind)) {
      expect(await pair(other).key.verify(DATA, s.sig)).toBe(false);
    }
  });

  it.each([
    ['empty', ''],
    ['odd length', 'abc'],
    ['non-hex', 'zz'],
    ['0x prefix', '0x00'],
    ['white space', ' 00'],
  ])('a %s signature is false, never a throw', async (_name, sig) => {
    await expect(pair(kind).key.verify(DATA, sig)).resolves.toBe(false);
  });

  it('never throws, whatever the input', async () => {
    const { key } = pair(kind);
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 64 }),
        fc.string({ maxLength: 1100 }),
        async (data, sig) => {
          expect(await key.verify(data, sig)).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
    // Hex of the right alphabet and random lengths, including the expected one.
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), async (sig) => {
        expect(await key.verify(DATA, Buffer.from(sig).toString('hex'))).toBe(false);
      }),
      { numRuns: 100 },
    );
    expect(await key.verify('not bytes' as unknown as Uint8Array, '00')).toBe(false);
    expect(await key.verify(DATA, 42 as unknown as string)).toBe(false);
  });

  it('PrivateKeySigner.fromPem derives the same key, or takes a given key and keyid', async () => {
    const { key, privateKeyPem } = pair(kind);
    expect(PrivateKeySigner.fromPem(privateKeyPem).key.keyid()).toBe(key.keyid());
    const custom = PrivateKeySigner.fromPem(privateKeyPem, key, { keyid: 'custom-id' });
    expect(custom.keyid).toBe('custom-id');
    const s = await custom.sign(DATA);
    expect(s.keyid).toBe('custom-id');
    expect(await key.verify(DATA, s.sig)).toBe(true);
  });

  it('refuses a private key that does not match the public key (KeyError)', () => {
    expect(() => new PrivateKeySigner(privateOf(pair(kind)), pair(kind, 1).key)).toThrow(KeyError);
    for (const other of KINDS.filter((k) => k !== kind)) {
      expect(() => new PrivateKeySigner(privateOf(pair(kind)), pair(other).key)).toThrow(KeyError);
    }
  });

  it('refuses a public KeyObject as the private key', () => {
    expect(() => new PrivateKeySigner(publicOf(pair(kind)), pair(kind).key)).toThrow(KeyError);
  });
});

describe('RSA-PSS salt length (DESIGN rule 7)', () => {
  const pss = (saltLength: number) => ({ padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });

  it('the signer uses a 32-byte salt, as securesystemslib does', async () => {
    const p = pair('rsa');
    const s = await p.signer.sign(DATA);
    const sig = Buffer.from(s.sig, 'hex');
    expect(nodeVerify('sha256', DATA, { key: publicOf(p), ...pss(32) }, sig)).toBe(true);
    // Node's default for signing (the maximum salt) would fail this check.
    const maxSalt = nodeSign('sha256', DATA, { key: privateOf(p), padding: constants.RSA_PKCS1_PSS_PADDING });
    expect(nodeVerify('sha256', DATA, { key: publicOf(p), ...pss(32) }, maxSalt)).toBe(false);
  });

  it.each([
    ['32 (securesystemslib)', 32],
    ['the maximum', constants.RSA_PSS_SALTLEN_MAX_SIGN],
    ['20', 20],
  ])('a signature with salt length %s verifies (PSS.AUTO, as python-tuf)', async (_name, saltLength) => {
    const p = pair('rsa');
    const sig = nodeSign('sha256', DATA, { key: privateOf(p), ...pss(saltLength) });
    expect(await p.key.verify(DATA, sig.toString('hex'))).toBe(true);
  });

  it('rejects PKCS#1 v1.5, a SHA-384 PSS signature, and a signature one byte longer than the modulus', async () => {
    const p = pair('rsa');
    const v15 = nodeSign('sha256', DATA, privateOf(p));
    expect(await p.key.verify(DATA, v15.toString('hex'))).toBe(false);
    const sha384 = nodeSign('sha384', DATA, { key: privateOf(p), ...pss(32) });
    expect(await p.key.verify(DATA, sha384.toString('hex'))).toBe(false);
    const good = (await p.signer.sign(DATA)).sig;
    expect(await p.key.verify(DATA, `00${good}`)).toBe(false);
  });

  it('rejects a signature shorter than the modulus, which OpenSSL alone would accept (RFC 8017 8.1.2)', async () => {
    const p = pair('rsa');
    // About 1 in 256 signatures starts with a zero byte; find one and drop that byte.
    let data = DATA;
    let sig = Buffer.alloc(0);
    for (let i = 0; i < 20_000 && sig[0] !== 0; i++) {
      data = utf8(`message ${i}`);
      sig = Buffer.from((await p.signer.sign(data)).sig, 'hex');
    }
    expect(sig[0]).toBe(0);
    const short = sig.subarray(1);
    expect(
      nodeVerify('sha256', data, { key: publicOf(p), ...pss(constants.RSA_PSS_SALTLEN_AUTO) }, short),
    ).toBe(true);
    expect(await p.key.verify(data, sig.toString('hex'))).toBe(true);
    expect(await p.key.verify(data, short.toString('hex'))).toBe(false);
  });
});

describe('ECDSA hashes and encoding', () => {
  const sigWith = (kind: KeyKind, hash: string, dsaEncoding: 'der' | 'ieee-p1363' = 'der'): string =>
    nodeSign(hash, DATA, { key: privateOf(pair(kind)), dsaEncoding }).toString('hex');

  it('ecdsa-sha2-nistp384 hashes with SHA-384: a SHA-256 signature does not verify', async () => {
    const { key } = pair('ecdsa-p384');
    expect(await key.verify(DATA, sigWith('ecdsa-p384', 'sha384'))).toBe(true);
    expect(await key.verify(DATA, sigWith('ecdsa-p384', 'sha256'))).toBe(false);
  });

  it('ecdsa-sha2-nistp256 hashes with SHA-256: a SHA-384 signature does not verify', async () => {
    const { key } = pair('ecdsa-p256');
    expect(await key.verify(DATA, sigWith('ecdsa-p256', 'sha256'))).toBe(true);
    expect(await key.verify(DATA, sigWith('ecdsa-p256', 'sha384'))).toBe(false);
  });

  it('signatures are DER: raw r||s (PKCS#11 style) does not verify', async () => {
    const { key } = pair('ecdsa-p256');
    expect(await key.verify(DATA, sigWith('ecdsa-p256', 'sha256', 'ieee-p1363'))).toBe(false);
  });

  it('the P-384 signer signs with SHA-384', async () => {
    const p = pair('ecdsa-p384');
    const sig = Buffer.from((await p.signer.sign(DATA)).sig, 'hex');
    expect(nodeVerify('sha384', DATA, { key: publicOf(p), dsaEncoding: 'der' }, sig)).toBe(true);
  });
});

describe('signers: construction errors', () => {
  it('refuses to sign for an unsupported key', () => {
    const k = Key.fromJSON({ keytype: 'ed25519', scheme: 'ed25519-ph', keyval: { public: '00' } }, 'k');
    expect(() => new PrivateKeySigner(privateOf(pair('ed25519')), k)).toThrow(UnsupportedKeyError);
  });

  it('reads an encrypted PKCS#8 PEM with its passphrase; a wrong passphrase is a KeyError', async () => {
    const p = pair('ecdsa-p256');
    const encrypted = privateOf(p).export({
      type: 'pkcs8',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase: 'correct horse',
    }) as string;
    const signer = PrivateKeySigner.fromPem(encrypted, p.key, { passphrase: 'correct horse' });
    expect(await p.key.verify(DATA, (await signer.sign(DATA)).sig)).toBe(true);
    expect(() => PrivateKeySigner.fromPem(encrypted, p.key, { passphrase: 'wrong' })).toThrow(KeyError);
    expect(() => PrivateKeySigner.fromPem(encrypted, p.key)).toThrow(KeyError);
    expect(() => PrivateKeySigner.fromPem('not a key')).toThrow(KeyError);
    expect(() => PrivateKeySigner.fromPem(keyToPem(p.key))).toThrow(KeyError); // a public key
  });

  it('refuses to derive a TUF key for a private key type tufa cannot verify', () => {
    const pem = generateKeyPairSync('ed448').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(() => PrivateKeySigner.fromPem(pem)).toThrow(UnsupportedKeyError);
  });
});

describe('generateKeyPair options', () => {
  it('makes 3072-bit RSA keys by default', async () => {
    const { key } = await generateKeyPair('rsa');
    expect(createPublicKey(keyToPem(key)).asymmetricKeyDetails?.modulusLength).toBe(3072);
  });

  it.each([1024, 2047, 2048.5, Number.NaN])('refuses rsaBits %s', async (rsaBits) => {
    await expect(generateKeyPair('rsa', { rsaBits })).rejects.toThrow(UsageError);
  });

  it('refuses an unknown kind', async () => {
    await expect(generateKeyPair('dsa' as KeyKind)).rejects.toThrow(UsageError);
  });
});

describe('python-tuf metadata (test-vectors/python-tuf/repository)', () => {
  const keys = new Map(
    [...pythonTufKeys().values()].map(({ keyid, key }) => [keyid, Key.fromJSON(key, 'key')]),
  );
  const files = [
    '1.root.json',
    '2.root.json',
    '3.root.json',
    'timestamp.json',
    '1.snapshot.json',
    '1.targets.json',
  ];
  files.push('1.releases.json', '1.hashed.json', '1.bin-0.json');

  it.each(files)('every signature on %s verifies over the canonical signed bytes', async (file) => {
    const { value, signedCanonical } = parseStrict(
      readBytes(`test-vectors/python-tuf/repository/metadata/${file}`),
    );
    const sigs = (value as { signatures: unknown[] }).signatures.map((s, i) =>
      Signature.fromJSON(s, `signatures[${i}]`),
    );
    expect(signedCanonical).toBeDefined();
    expect(sigs.length).toBeGreaterThan(0);
    for (const s of sigs) {
      const key = keys.get(s.keyid);
      expect(key, s.keyid).toBeDefined();
      expect(await key?.verify(signedCanonical ?? new Uint8Array(), s.sig)).toBe(true);
      const tampered = Uint8Array.from(signedCanonical ?? []);
      tampered.set([(tampered.at(-2) ?? 0) ^ 1], tampered.length - 2);
      expect(await key?.verify(tampered, s.sig)).toBe(false);
    }
  });
});
