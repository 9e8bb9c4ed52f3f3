/** DER: ECDSA r‖s to ASN.1, EC points in CKA_EC_POINT, and public keys from token attributes. */
import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { UnsupportedKeyError } from '@tufa/core';
import { describe, expect, it } from 'vitest';
import { CK } from '../src/binding.js';
import {
  curveOf,
  derContents,
  EC_PARAMS,
  ecdsaRawToDer,
  ecPointFromAttribute,
  octetString,
} from '../src/der.js';
import { publicKeyFromAttributes } from '../src/keys.js';

describe('ecdsaRawToDer', () => {
  it('encodes known values: leading zeros dropped, a 00 before a high bit', () => {
    const r = Buffer.alloc(32);
    r[31] = 1;
    const s = Buffer.alloc(32, 0xff);
    expect(ecdsaRawToDer(Buffer.concat([r, s]), 32).toString('hex')).toBe(
      `3026020101022100${'ff'.repeat(32)}`,
    );
    const zero = Buffer.alloc(64);
    expect(ecdsaRawToDer(zero, 32).toString('hex')).toBe('3006020100020100');
  });

  it.each([
    ['P-256', 'sha256', 32],
    ['P-384', 'sha384', 48],
  ] as const)('gives DER that OpenSSL accepts for %s signatures (200 random ones)', (curve, hash, n) => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
    for (let i = 0; i < 200; i++) {
      const data = Buffer.from(`message ${i}`);
      const raw = sign(hash, data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      const der = ecdsaRawToDer(raw, n);
      // OpenSSL re-encodes what it parses and rejects anything that is not exactly DER.
      expect(verify(hash, data, { key: publicKey, dsaEncoding: 'der' }, der)).toBe(true);
    }
  });

  it('refuses a signature of the wrong length', () => {
    expect(() => ecdsaRawToDer(Buffer.alloc(63), 32)).toThrow(RangeError);
  });
});

describe('EC points and parameters', () => {
  const point = Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 7)]);

  it('unwraps the OCTET STRING PKCS#11 specifies, and takes bare points too', () => {
    expect(ecPointFromAttribute(octetString(point), 'p256')).toEqual(point);
    expect(ecPointFromAttribute(point, 'p256')).toEqual(point);
    const compressed = Buffer.concat([Buffer.from([2]), Buffer.alloc(32, 7)]);
    expect(ecPointFromAttribute(octetString(compressed), 'p256')).toEqual(compressed);
    const ed = Buffer.alloc(32, 9);
    expect(ecPointFromAttribute(octetString(ed), 'ed25519')).toEqual(ed);
    expect(ecPointFromAttribute(ed, 'ed25519')).toEqual(ed);
    expect(ecPointFromAttribute(Buffer.alloc(40), 'p256')).toBeUndefined();
    expect(ecPointFromAttribute(octetString(Buffer.alloc(31)), 'ed25519')).toBeUndefined();
    const p384 = Buffer.concat([Buffer.from([4]), Buffer.alloc(96, 1)]);
    expect(ecPointFromAttribute(octetString(p384), 'p384')).toEqual(p384); // long-form length
  });

  it('reads DER lengths strictly', () => {
    expect(derContents(Buffer.from('0403010203', 'hex'), 4)).toEqual(Buffer.from('010203', 'hex'));
    expect(derContents(Buffer.from('040401020304', 'hex').subarray(0, 5), 4)).toBeUndefined(); // short
    expect(derContents(Buffer.from('048103010203', 'hex'), 4)).toBeUndefined(); // non-minimal long form
    expect(derContents(Buffer.from('0403010203', 'hex'), 3)).toBeUndefined(); // wrong tag
  });

  it('knows the curves by OID, and Ed25519 by its PKCS#11 3.0 name too', () => {
    expect(curveOf(EC_PARAMS.p256)).toBe('p256');
    expect(curveOf(EC_PARAMS.p384)).toBe('p384');
    expect(curveOf(EC_PARAMS.ed25519)).toBe('ed25519');
    expect(curveOf(Buffer.from('130c656477617264733235353139', 'hex'))).toBe('ed25519');
    expect(curveOf(Buffer.from('06052b8104000a', 'hex'))).toBeUndefined(); // secp256k1
  });
});

describe('publicKeyFromAttributes', () => {
  it('builds the same TUF key as node for EC, Ed25519 and RSA', () => {
    for (const curve of ['P-256', 'P-384'] as const) {
      const { publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
      const jwk = publicKey.export({ format: 'jwk' });
      const raw = Buffer.concat([
        Buffer.from([4]),
        Buffer.from(jwk.x as string, 'base64url'),
        Buffer.from(jwk.y as string, 'base64url'),
      ]);
      const attrs = new Map([
        [CK.CKA_EC_PARAMS, curve === 'P-256' ? EC_PARAMS.p256 : EC_PARAMS.p384],
        [CK.CKA_EC_POINT, octetString(raw)],
      ]);
      const { key, kind } = publicKeyFromAttributes(CK.CKK_EC, attrs, 'k');
      expect(kind).toBe(curve === 'P-256' ? 'ecdsa-p256' : 'ecdsa-p384');
      expect(key.keyval.public).toBe(publicKey.export({ type: 'spki', format: 'pem' }));
      // A compressed point gives the same (uncompressed) PEM.
      const y = Buffer.from(jwk.y as string, 'base64url');
      const compressed = Buffer.concat([
        Buffer.from([2 + ((y.at(-1) ?? 0) & 1)]),
        Buffer.from(jwk.x as string, 'base64url'),
      ]);
      const again = publicKeyFromAttributes(
        CK.CKK_EC,
        new Map([
          [CK.CKA_EC_PARAMS, attrs.get(CK.CKA_EC_PARAMS) as Buffer],
          [CK.CKA_EC_POINT, octetString(compressed)],
        ]),
        'k',
      );
      expect(again.key.keyval.public).toBe(key.keyval.public);
    }
    const ed = generateKeyPairSync('ed25519').publicKey;
    const edRaw = Buffer.from(ed.export({ format: 'jwk' }).x as string, 'base64url');
    const edKey = publicKeyFromAttributes(
      CK.CKK_EC_EDWARDS,
      new Map([
        [CK.CKA_EC_PARAMS, Buffer.from('130c656477617264733235353139', 'hex')],
        [CK.CKA_EC_POINT, octetString(edRaw)],
      ]),
      'k',
    );
    expect(edKey.key.toJSON()).toEqual({
      keytype: 'ed25519',
      scheme: 'ed25519',
      keyval: { public: edRaw.toString('hex') },
    });

    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    const rj = rsa.export({ format: 'jwk' });
    const modulus = Buffer.concat([Buffer.from([0]), Buffer.from(rj.n as string, 'base64url')]); // a leading zero is tolerated
    const rsaKey = publicKeyFromAttributes(
      CK.CKK_RSA,
      new Map([
        [CK.CKA_MODULUS, modulus],
        [CK.CKA_PUBLIC_EXPONENT, Buffer.from(rj.e as string, 'base64url')],
      ]),
      'k',
    );
    expect(rsaKey.kind).toBe('rsa');
    expect(rsaKey.key.scheme).toBe('rsassa-pss-sha256');
    expect(createPublicKey(rsaKey.key.keyval.public).export({ format: 'jwk' })).toEqual(rj);
  });

  it('refuses curves and key types TUF has no scheme for', () => {
    const secp256k1 = new Map([
      [CK.CKA_EC_PARAMS, Buffer.from('06052b8104000a', 'hex')],
      [CK.CKA_EC_POINT, octetString(Buffer.alloc(65, 4))],
    ]);
    expect(() => publicKeyFromAttributes(CK.CKK_EC, secp256k1, 'the key')).toThrow(UnsupportedKeyError);
    // Ed25519 parameters under CKK_EC are inconsistent.
    const mixed = new Map([
      [CK.CKA_EC_PARAMS, EC_PARAMS.ed25519],
      [CK.CKA_EC_POINT, octetString(Buffer.alloc(32, 1))],
    ]);
    expect(() => publicKeyFromAttributes(CK.CKK_EC, mixed, 'the key')).toThrow(UnsupportedKeyError);
    expect(() => publicKeyFromAttributes(0x10 /* CKK_AES-ish */, new Map(), 'the key')).toThrow(
      /tufa signs with ed25519, ecdsa-p256, ecdsa-p384 and rsa keys/,
    );
    // An RSA key too small for TUF.
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
    expect(() =>
      publicKeyFromAttributes(
        CK.CKK_RSA,
        new Map([
          [CK.CKA_MODULUS, Buffer.from(small.n as string, 'base64url')],
          [CK.CKA_PUBLIC_EXPONENT, Buffer.from(small.e as string, 'base64url')],
        ]),
        'the key',
      ),
    ).toThrow(UnsupportedKeyError);
  });

  it('reports a malformed point as a KeyError', () => {
    expect(() =>
      publicKeyFromAttributes(
        CK.CKK_EC,
        new Map([
          [CK.CKA_EC_PARAMS, EC_PARAMS.p256],
          [CK.CKA_EC_POINT, Buffer.from('0401ff', 'hex')],
        ]),
        'the key',
      ),
    ).toThrow(/the key has a malformed CKA_EC_POINT/);
    // A point not on the curve.
    expect(() =>
      publicKeyFromAttributes(
        CK.CKK_EC,
        new Map([
          [CK.CKA_EC_PARAMS, EC_PARAMS.p256],
          [CK.CKA_EC_POINT, octetString(Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]))],
        ]),
        'the key',
      ),
    ).toThrow(/cannot decode the public key/);
  });
});
