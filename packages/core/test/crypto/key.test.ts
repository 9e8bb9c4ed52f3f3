import { createHash, createPrivateKey, createPublicKey, ECDH, generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Key, keyFromPublicPem, keyToPem, PrivateKeySigner } from '../../src/crypto/index.js';
import { FormatError, UsageError } from '../../src/errors.js';
import { canonicalBytes, canonicalString } from '../../src/json/canonical.js';
import { pythonTufKeys, repoRoot } from './helpers.js';

const pyKeys = pythonTufKeys();
const pyKey = (name: string): Record<string, unknown> => {
  const k = pyKeys.get(name);
  if (!k) throw new Error(`no python-tuf key ${name}`);
  return k.key;
};
const pemOf = (name: string): string => (pyKey(name)['keyval'] as { public: string }).public;

const ED_PUB = (pyKey('root-a')['keyval'] as { public: string }).public;
const P256_PEM = pemOf('root-b');
const RSA_PEM = pemOf('root-c');
const spkiPem = (k: ReturnType<typeof generateKeyPairSync>['publicKey']): string =>
  k.export({ type: 'spki', format: 'pem' }) as string;
const P384_PEM = spkiPem(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey);
const P521_PEM = spkiPem(generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey);
const RSA1024_PEM = spkiPem(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey);
// An id-RSASSA-PSS SPKI (parameters in the key), not the rsaEncryption SPKI securesystemslib writes.
const RSA_PSS_SPKI_PEM = spkiPem(generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey);

const key = (keytype: string, scheme: string, pub: string): Key =>
  Key.fromJSON({ keytype, scheme, keyval: { public: pub } }, 'key');

function pemFromDer(der: Uint8Array, label = 'PUBLIC KEY'): string {
  const lines =
    Buffer.from(der)
      .toString('base64')
      .match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
const derOf = (pem: string): Buffer => createPublicKey(pem).export({ type: 'spki', format: 'der' });

function formatErrorPath(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(FormatError);
    return (e as FormatError).path;
  }
  throw new Error('expected a FormatError');
}

describe('keyid', () => {
  it.each([...pyKeys.entries()])(
    'matches securesystemslib for python-tuf key %s',
    (_name, { keyid, key: k }) => {
      expect(Key.fromJSON(k, 'key').keyid()).toBe(keyid);
    },
  );

  it('is sha256 of the canonical JSON of the whole key object, unknown fields included', () => {
    const json = { ...pyKey('root-a'), 'x-owner': 'alice' };
    const k = Key.fromJSON(json, 'key');
    const expected = createHash('sha256').update(canonicalBytes(json)).digest('hex');
    expect(k.keyid()).toBe(expected);
    expect(k.keyid()).not.toBe(pyKeys.get('root-a')?.keyid);
  });

  it('is memoized and unaffected by mutating toJSON() output', () => {
    const k = Key.fromJSON(pyKey('root-a'), 'key');
    const first = k.keyid();
    (k.toJSON()['keyval'] as Record<string, unknown>)['public'] = '00';
    expect(k.keyid()).toBe(first);
    expect(k.keyval.public).toBe(ED_PUB);
    expect(Object.isFrozen(k.keyval)).toBe(true);
  });
});

describe('Key.fromJSON shape', () => {
  it.each([
    ['null', null, 'k'],
    ['an array', [], 'k'],
    ['no keytype', { scheme: 'ed25519', keyval: { public: ED_PUB } }, 'k.keytype'],
    ['a numeric scheme', { keytype: 'ed25519', scheme: 1, keyval: { public: ED_PUB } }, 'k.scheme'],
    ['no keyval', { keytype: 'ed25519', scheme: 'ed25519' }, 'k.keyval'],
    ['an array keyval', { keytype: 'ed25519', scheme: 'ed25519', keyval: [ED_PUB] }, 'k.keyval'],
    [
      'no keyval.public',
      { keytype: 'ed25519', scheme: 'ed25519', keyval: { private: 'x' } },
      'k.keyval.public',
    ],
    [
      'a null keyval.public',
      { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: null } },
      'k.keyval.public',
    ],
    ['a float in keyval', { keytype: 'a', scheme: 'b', keyval: { public: '', n: 0.5 } }, 'k.keyval.n'],
    [
      'undefined in an unknown field',
      { keytype: 'a', scheme: 'b', keyval: { public: '' }, x: undefined },
      'k.x',
    ],
  ])('rejects %s, naming the path', (_name, input, path) => {
    expect(formatErrorPath(() => Key.fromJSON(input, 'k'))).toBe(path);
  });

  it('keeps a key of an unknown type: it parses, round-trips, has a keyid, and never verifies', async () => {
    const json = { keytype: 'sphincs', scheme: 'sphincs-shake-256f', keyval: { public: 'abcd' } };
    const k = Key.fromJSON(json, 'k');
    expect(k.toJSON()).toEqual(json);
    expect(k.keyid()).toMatch(/^[0-9a-f]{64}$/);
    expect(k.supported).toBe(false);
    expect(k.materialId()).toBeUndefined();
    expect(await k.verify(new Uint8Array(1), '00'.repeat(64))).toBe(false);
  });

  it('round-trips __proto__ and unknown fields at every level without setting a prototype', () => {
    const text =
      '{"keytype":"ed25519","scheme":"ed25519","__proto__":{"a":1},"x":[{"__proto__":null}],' +
      `"keyval":{"public":"${ED_PUB}","__proto__":{"b":2},"extra":"e"}}`;
    const input: unknown = JSON.parse(text);
    const k = Key.fromJSON(input, 'k');
    const out = k.toJSON();
    expect(canonicalString(out)).toBe(canonicalString(input));
    expect(k.keyid()).toBe(createHash('sha256').update(canonicalBytes(input)).digest('hex'));
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(out['keyval'])).toBe(Object.prototype);
    expect('a' in out || 'b' in (out['keyval'] as object)).toBe(false);
    expect(Object.keys(k.unrecognized).sort()).toEqual(['__proto__', 'x']);
    // Unknown keyval fields do not make a key unusable.
    expect(k.supported).toBe(true);
  });

  it('constructor refuses wrong types and known fields passed as unrecognized', () => {
    expect(() => new Key('ed25519', 'ed25519', { public: ED_PUB }, { keyval: {} })).toThrow(UsageError);
    expect(() => new Key('ed25519', 'ed25519', {} as { public: string })).toThrow(UsageError);
    expect(() => new Key(1 as unknown as string, 'ed25519', { public: ED_PUB })).toThrow(UsageError);
  });
});

describe('supported', () => {
  it.each([
    ['ed25519', 'ed25519', ED_PUB],
    ['ecdsa', 'ecdsa-sha2-nistp256', P256_PEM],
    ['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp256', P256_PEM], // deprecated keytype, still verified
    ['ecdsa', 'ecdsa-sha2-nistp384', P384_PEM],
    ['ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp384', P384_PEM],
    ['rsa', 'rsassa-pss-sha256', RSA_PEM],
  ])('%s/%s with valid material is supported', (keytype, scheme, pub) => {
    expect(key(keytype, scheme, pub).supported).toBe(true);
  });

  const p256Der = derOf(P256_PEM);
  const rsaDer = derOf(RSA_PEM);
  const offCurve = Buffer.from(p256Der);
  offCurve[offCurve.length - 1] = (offCurve[offCurve.length - 1] ?? 0) ^ 1;
  // PKCS#1 RSAPublicKey: the BIT STRING content of the SPKI, after its 0x00 unused-bits byte.
  const pkcs1 = createPublicKey(RSA_PEM).export({ type: 'pkcs1', format: 'der' });
  const privatePem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
  // Same bytes, but the base64 pad bits of the final "Q==" changed: not canonical base64.
  const p256LaxBase64 = P256_PEM.replace('Q==\n-----END', 'R==\n-----END');

  it.each([
    ['ed25519 hex in upper case', 'ed25519', 'ed25519', ED_PUB.toUpperCase()],
    ['ed25519 hex one byte short', 'ed25519', 'ed25519', ED_PUB.slice(2)],
    ['ed25519 hex one byte long', 'ed25519', 'ed25519', `${ED_PUB}00`],
    ['ed25519 hex with a non-hex character', 'ed25519', 'ed25519', `${ED_PUB.slice(1)}g`],
    ['ed25519 as PEM', 'ed25519', 'ed25519', keyToPem(key('ed25519', 'ed25519', ED_PUB))],
    ['ed25519 keytype, ecdsa scheme', 'ed25519', 'ecdsa-sha2-nistp256', ED_PUB],
    ['P-384 PEM under ecdsa-sha2-nistp256', 'ecdsa', 'ecdsa-sha2-nistp256', P384_PEM],
    ['P-256 PEM under ecdsa-sha2-nistp384', 'ecdsa', 'ecdsa-sha2-nistp384', P256_PEM],
    ['P-521 PEM under ecdsa-sha2-nistp256', 'ecdsa', 'ecdsa-sha2-nistp256', P521_PEM],
    [
      'keytype ecdsa-sha2-nistp384 with scheme nistp256',
      'ecdsa-sha2-nistp384',
      'ecdsa-sha2-nistp256',
      P256_PEM,
    ],
    ['RSA PEM under ecdsa', 'ecdsa', 'ecdsa-sha2-nistp256', RSA_PEM],
    ['EC PEM under rsa', 'rsa', 'rsassa-pss-sha256', P256_PEM],
    ['an RSA scheme tufa does not verify', 'rsa', 'rsa-pkcs1v15-sha256', RSA_PEM],
    ['a 1024-bit RSA key', 'rsa', 'rsassa-pss-sha256', RSA1024_PEM],
    ['an id-RSASSA-PSS SPKI', 'rsa', 'rsassa-pss-sha256', RSA_PSS_SPKI_PEM],
    [
      'PKCS#1 RSA PUBLIC KEY instead of SPKI',
      'rsa',
      'rsassa-pss-sha256',
      pemFromDer(pkcs1, 'RSA PUBLIC KEY'),
    ],
    ['a private key PEM', 'ecdsa', 'ecdsa-sha2-nistp256', privatePem],
    [
      'bytes after the SPKI',
      'rsa',
      'rsassa-pss-sha256',
      pemFromDer(Buffer.concat([rsaDer, Buffer.from([0])])),
    ],
    ['a point not on the curve', 'ecdsa', 'ecdsa-sha2-nistp256', pemFromDer(offCurve)],
    ['non-canonical base64', 'ecdsa', 'ecdsa-sha2-nistp256', p256LaxBase64],
    [
      'PEM without its END line',
      'ecdsa',
      'ecdsa-sha2-nistp256',
      P256_PEM.replace('-----END PUBLIC KEY-----', ''),
    ],
    ['PEM with a space in the base64', 'ecdsa', 'ecdsa-sha2-nistp256', P256_PEM.replace('\nFDHk', '\n FDHk')],
  ])('%s is not supported', async (_name, keytype, scheme, pub) => {
    const k = key(keytype, scheme, pub);
    expect(k.supported).toBe(false);
    expect(k.materialId()).toBeUndefined();
    expect(await k.verify(new Uint8Array(0), '00'.repeat(64))).toBe(false);
  });

  it('accepts CRLF line ends and surrounding white space in a PEM', () => {
    expect(key('ecdsa', 'ecdsa-sha2-nistp256', `\n${P256_PEM.replace(/\n/g, '\r\n')}  `).supported).toBe(
      true,
    );
  });
});

describe('materialId', () => {
  it('is the same for one key under different keyids; different for different keys', () => {
    const plain = Key.fromJSON(pyKey('root-a'), 'k');
    const tagged = Key.fromJSON({ ...pyKey('root-a'), note: 'same key' }, 'k');
    expect(tagged.keyid()).not.toBe(plain.keyid());
    expect(tagged.materialId()).toBe(plain.materialId());
    expect(Key.fromJSON(pyKey('targets'), 'k').materialId()).not.toBe(plain.materialId());
  });

  it('ignores the ECDSA keytype alias and the point encoding (compressed or not)', () => {
    const der = derOf(P256_PEM);
    const point = der.subarray(der.length - 65);
    const compressed = ECDH.convertKey(point, 'prime256v1', undefined, undefined, 'compressed') as Buffer;
    const header = Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex');
    const c = key('ecdsa', 'ecdsa-sha2-nistp256', pemFromDer(Buffer.concat([header, compressed])));
    const u = key('ecdsa', 'ecdsa-sha2-nistp256', P256_PEM);
    const alias = key('ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp256', P256_PEM);
    expect(c.supported).toBe(true);
    expect(c.keyid()).not.toBe(u.keyid());
    expect(new Set([c.materialId(), u.materialId(), alias.materialId()]).size).toBe(1);
  });
});

describe('PEM import and export', () => {
  it.each(['root-b', 'root-c', 'snapshot', 'releases'])(
    'keyFromPublicPem rebuilds python-tuf key %s exactly (same PEM formatting, same keyid)',
    (name) => {
      const k = keyFromPublicPem(pemOf(name));
      expect(k.toJSON()).toEqual(pyKey(name));
      expect(k.keyid()).toBe(pyKeys.get(name)?.keyid);
    },
  );

  it.each(['root-a', 'targets'])('an ed25519 key %s survives keyToPem -> keyFromPublicPem', (name) => {
    const k = Key.fromJSON(pyKey(name), 'k');
    const pem = keyToPem(k);
    expect(pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+\n-----END PUBLIC KEY-----\n$/);
    expect(keyFromPublicPem(pem).keyid()).toBe(k.keyid());
  });

  it('keyFromPublicPem takes the default scheme and refuses another', () => {
    expect(keyFromPublicPem(P384_PEM).scheme).toBe('ecdsa-sha2-nistp384');
    expect(keyFromPublicPem(P256_PEM, 'ecdsa-sha2-nistp256').keytype).toBe('ecdsa');
    expect(() => keyFromPublicPem(P256_PEM, 'ecdsa-sha2-nistp384')).toThrow(/unsupported scheme/);
  });

  it('keyFromPublicPem refuses what tufa cannot verify with', () => {
    expect(() => keyFromPublicPem(P521_PEM)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_KEY' }));
    expect(() => keyFromPublicPem(RSA1024_PEM)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_KEY' }));
    const ed448 = spkiPem(generateKeyPairSync('ed448').publicKey);
    expect(() => keyFromPublicPem(ed448)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_KEY' }));
    expect(() => keyFromPublicPem('not a pem')).toThrow(FormatError);
  });

  it('keyToPem refuses an unsupported key', () => {
    expect(() => keyToPem(key('ed25519', 'ed25519', '00'))).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED_KEY' }),
    );
  });
});

describe('weak RSA public exponents', () => {
  it('refuses e = 1 (every signature forgeable) and an even e', async () => {
    const { generateKeyPairSync, createPublicKey } = await import('node:crypto');
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = publicKey.export({ format: 'jwk' });
    for (const e of ['AQ', 'Ag', 'BA']) {
      // e = 1, 2, 4
      const weak = createPublicKey({ key: { kty: 'RSA', n: jwk.n as string, e }, format: 'jwk' });
      const key = new Key('rsa', 'rsassa-pss-sha256', {
        public: weak.export({ type: 'spki', format: 'pem' }) as string,
      });
      expect(key.supported).toBe(false);
      expect(await key.verify(new Uint8Array([1]), '00'.repeat(256))).toBe(false);
    }
    const normal = new Key('rsa', 'rsassa-pss-sha256', {
      public: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    });
    expect(normal.supported).toBe(true);
  });
});

describe('ECDSA keys with explicit curve parameters', () => {
  // test-vectors/explicit-curve: the same points once with explicit parameters, once named.
  const vector = (name: string): string =>
    readFileSync(new URL(`test-vectors/explicit-curve/${name}`, repoRoot), 'utf8');
  const cases = [
    ['P-256', 'ecdsa-sha2-nistp256', 'p256', 'sha256'],
    ['P-384', 'ecdsa-sha2-nistp384', 'p384', 'sha384'],
  ] as const;

  it.each(cases)(
    '%s: the explicit SPKI really holds the named key, and node sees no difference',
    (_c, scheme, f) => {
      const explicit = createPublicKey(vector(`${f}-explicit.pub.pem`));
      const named = createPublicKey(vector(`${f}-named.pub.pem`));
      expect(explicit.export({ format: 'jwk' })).toEqual(named.export({ format: 'jwk' }));
      expect(explicit.asymmetricKeyDetails).toEqual(named.asymmetricKeyDetails);
      expect(key('ecdsa', scheme, vector(`${f}-named.pub.pem`)).supported).toBe(true);
    },
  );

  it.each(cases)(
    '%s in metadata: not supported, and a valid signature by it never verifies',
    async (_c, scheme, f) => {
      const k = key('ecdsa', scheme, vector(`${f}-explicit.pub.pem`));
      expect(k.supported).toBe(false);
      expect(k.materialId()).toBeUndefined();
      if (f === 'p256') {
        const data = new TextEncoder().encode('signed bytes');
        const priv = createPrivateKey(vector('p256-explicit.pkcs8.pem'));
        const sig = sign('sha256', data, { key: priv, dsaEncoding: 'der' }).toString('hex');
        expect(await key('ecdsa', scheme, vector('p256-named.pub.pem')).verify(data, sig)).toBe(true);
        expect(await k.verify(data, sig)).toBe(false);
      }
    },
  );

  it.each(cases)('%s: refused on import with UNSUPPORTED_KEY', (_c, _s, f) => {
    const pem = vector(`${f}-explicit.pub.pem`);
    expect(() => keyFromPublicPem(pem)).toThrow(
      expect.objectContaining({
        code: 'UNSUPPORTED_KEY',
        message: expect.stringMatching(/explicit curve parameters/),
      }),
    );
    expect(() => Key.fromPublicKeyObject(createPublicKey(pem))).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED_KEY' }),
    );
  });

  it('refuses an explicit-parameter private key as a signer, even with the named public key', () => {
    const pkcs8 = vector('p256-explicit.pkcs8.pem');
    const named = keyFromPublicPem(vector('p256-named.pub.pem'));
    const refused = expect.objectContaining({
      code: 'UNSUPPORTED_KEY',
      message: expect.stringMatching(/explicit curve parameters/),
    });
    expect(() => PrivateKeySigner.fromPem(pkcs8)).toThrow(refused);
    expect(() => new PrivateKeySigner(createPrivateKey(pkcs8), named)).toThrow(refused);
  });
});
