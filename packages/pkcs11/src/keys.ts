/**
 * Key objects on a token: finding them from a URI, and turning their public half into a TUF
 * `Key` (DESIGN rule 7): Ed25519 as raw hex of the point in CKA_EC_POINT, ECDSA and RSA as PEM
 * SubjectPublicKeyInfo built from CKA_EC_PARAMS/CKA_EC_POINT or CKA_MODULUS/CKA_PUBLIC_EXPONENT.
 */
import { createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { Key, KeyError, type KeyKind, UnsupportedKeyError } from '@tufa/core';
import { type Attribute, CK, type Handle } from './binding.js';
import { type Curve, curveOf, EC_PARAMS, ecPointFromAttribute } from './der.js';
import type { TokenSession } from './token.js';
import type { Pkcs11Uri } from './uri.js';

export type KeyClass = 'private' | 'public';

/** A key object found on a token. */
export interface KeyObjectInfo {
  handle: Handle;
  cls: KeyClass;
  /** CKA_KEY_TYPE, when the token says. */
  keyType: number | undefined;
  label: string | undefined;
  id: Buffer | undefined;
}

/** A usable public key and how to sign for it. */
export interface PublicKeyInfo {
  key: Key;
  kind: KeyKind;
}

const CLASS_OF: Record<KeyClass, number> = { private: CK.CKO_PRIVATE_KEY, public: CK.CKO_PUBLIC_KEY };

/** The search template for keys of class `cls` that `uri`'s object attributes select. */
export function keyTemplate(cls: KeyClass, uri: Pkcs11Uri): Attribute[] {
  const t: Attribute[] = [{ type: CK.CKA_CLASS, value: CLASS_OF[cls] }];
  if (uri.object !== undefined) t.push({ type: CK.CKA_LABEL, value: Buffer.from(uri.object, 'utf8') });
  if (uri.id !== undefined) t.push({ type: CK.CKA_ID, value: Buffer.from(uri.id) });
  return t;
}

function ulong(b: Buffer | undefined): number | undefined {
  if (b === undefined || b.length === 0) return undefined;
  if (b.length >= 8) return Number(b.readBigUInt64LE(0));
  if (b.length >= 4) return b.readUInt32LE(0);
  return b[0];
}

export function boolAttr(b: Buffer | undefined): boolean | undefined {
  return b === undefined || b.length === 0 ? undefined : b[0] !== 0;
}

/** Key objects of class `cls` selected by `uri`. Inside the token's queue. */
export function findKeys(token: TokenSession, uri: Pkcs11Uri, cls: KeyClass): KeyObjectInfo[] {
  return token.findObjects(keyTemplate(cls, uri)).map((handle) => {
    const a = token.attributes(handle, [CK.CKA_KEY_TYPE, CK.CKA_LABEL, CK.CKA_ID]);
    const label = a.get(CK.CKA_LABEL);
    const id = a.get(CK.CKA_ID);
    return {
      handle,
      cls,
      keyType: ulong(a.get(CK.CKA_KEY_TYPE)),
      label: label === undefined ? undefined : label.toString('utf8'),
      id: id === undefined || id.length === 0 ? undefined : id,
    };
  });
}

/** `label "root" id 01ab` for messages. */
export function describeKey(k: { label: string | undefined; id: Buffer | undefined }): string {
  const parts: string[] = [];
  if (k.label !== undefined) parts.push(`label ${JSON.stringify(k.label)}`);
  if (k.id !== undefined) parts.push(`id ${k.id.toString('hex')}`);
  return parts.length === 0 ? 'an unnamed key' : parts.join(' ');
}

/** The name of a key type for listings. */
export function keyTypeName(keyType: number | undefined, curve?: Curve): string {
  switch (keyType) {
    case CK.CKK_RSA:
      return 'rsa';
    case CK.CKK_EC:
      return curve === 'p256' ? 'ecdsa-p256' : curve === 'p384' ? 'ecdsa-p384' : 'ec';
    case CK.CKK_EC_EDWARDS:
      return curve === 'ed25519' ? 'ed25519' : 'eddsa';
    case undefined:
      return 'unknown';
    default:
      return `CKK 0x${keyType.toString(16)}`;
  }
}

const EC_PUBLIC_KEY_OID = Buffer.from('06072a8648ce3d0201', 'hex');
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function derSequence(...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  if (body.length >= 0x80) {
    // SPKIs of P-256/P-384 keys stay below 128 bytes inside; longer needs the long form.
    const len =
      body.length < 0x100
        ? Buffer.from([0x81, body.length])
        : Buffer.from([0x82, body.length >> 8, body.length & 0xff]);
    return Buffer.concat([Buffer.from([0x30]), len, body]);
  }
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

function bitString(bytes: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from([0]), bytes]);
  const len = body.length < 0x80 ? Buffer.from([body.length]) : Buffer.from([0x81, body.length]);
  return Buffer.concat([Buffer.from([0x03]), len, body]);
}

function toKey(publicKey: KeyObject): PublicKeyInfo {
  const key = Key.fromPublicKeyObject(publicKey);
  const type = publicKey.asymmetricKeyType;
  const curve = publicKey.asymmetricKeyDetails?.namedCurve;
  const kind: KeyKind =
    type === 'ed25519'
      ? 'ed25519'
      : type === 'rsa'
        ? 'rsa'
        : curve === 'prime256v1'
          ? 'ecdsa-p256'
          : 'ecdsa-p384';
  return { key, kind };
}

/** A node public key for an EC point: normalised through JWK so the PEM is always uncompressed. */
function ecKeyObject(curve: 'p256' | 'p384', point: Uint8Array): KeyObject {
  const spki = derSequence(derSequence(EC_PUBLIC_KEY_OID, EC_PARAMS[curve]), bitString(point));
  const k = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  return createPublicKey({ key: k.export({ format: 'jwk' }), format: 'jwk' });
}

/**
 * The TUF key for a public key's attributes (CKA_KEY_TYPE plus CKA_EC_PARAMS and CKA_EC_POINT,
 * or CKA_MODULUS and CKA_PUBLIC_EXPONENT). Throws UnsupportedKeyError for key types and curves
 * TUF has no scheme for, KeyError for values that do not decode.
 */
export function publicKeyFromAttributes(
  keyType: number | undefined,
  attrs: ReadonlyMap<number, Buffer>,
  what: string,
): PublicKeyInfo {
  try {
    if (keyType === CK.CKK_RSA) {
      const n = attrs.get(CK.CKA_MODULUS);
      const e = attrs.get(CK.CKA_PUBLIC_EXPONENT);
      if (n === undefined || e === undefined)
        throw new KeyError(`${what} has no readable modulus and exponent`);
      const strip = (b: Buffer) => {
        let i = 0;
        while (i < b.length - 1 && b[i] === 0) i++;
        return b.subarray(i).toString('base64url');
      };
      return toKey(createPublicKey({ key: { kty: 'RSA', n: strip(n), e: strip(e) }, format: 'jwk' }));
    }
    if (keyType === CK.CKK_EC || keyType === CK.CKK_EC_EDWARDS) {
      const params = attrs.get(CK.CKA_EC_PARAMS);
      const pointAttr = attrs.get(CK.CKA_EC_POINT);
      if (params === undefined || pointAttr === undefined) {
        throw new KeyError(`${what} has no readable CKA_EC_PARAMS and CKA_EC_POINT`);
      }
      const curve = curveOf(params);
      if (curve === undefined || (curve === 'ed25519') !== (keyType === CK.CKK_EC_EDWARDS)) {
        throw new UnsupportedKeyError(
          `${what} is on a curve TUF has no scheme for (CKA_EC_PARAMS ${params.toString('hex')}; expected P-256, P-384 or Ed25519)`,
        );
      }
      const point = ecPointFromAttribute(pointAttr, curve);
      if (point === undefined) throw new KeyError(`${what} has a malformed CKA_EC_POINT`);
      if (curve === 'ed25519') {
        return toKey(
          createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, point]), format: 'der', type: 'spki' }),
        );
      }
      return toKey(ecKeyObject(curve, point));
    }
  } catch (e) {
    if (e instanceof KeyError || e instanceof UnsupportedKeyError) throw e;
    throw new KeyError(
      `${what}: cannot decode the public key (${e instanceof Error ? e.message : String(e)})`,
      {
        cause: e,
      },
    );
  }
  throw new UnsupportedKeyError(
    `${what} is a ${keyTypeName(keyType)} key; tufa signs with ed25519, ecdsa-p256, ecdsa-p384 and rsa keys`,
  );
}

const PUBLIC_ATTRS = [CK.CKA_EC_PARAMS, CK.CKA_EC_POINT, CK.CKA_MODULUS, CK.CKA_PUBLIC_EXPONENT];

function sameKeyType(a: number | undefined, b: number | undefined): boolean {
  return a === undefined || b === undefined || a === b;
}

/**
 * The public half of the private key `priv`: the public key object with the same CKA_ID (or,
 * without an id, the same label), else what the private key object itself exposes (RSA keys
 * carry their modulus), else a certificate with the same CKA_ID (OpenSC, PIV cards). Inside
 * the token's queue. Whether the halves really belong together is checked on every signature.
 */
export function publicKeyFor(token: TokenSession, priv: KeyObjectInfo, what: string): PublicKeyInfo {
  const by: Pkcs11Uri =
    priv.id !== undefined ? { id: priv.id } : priv.label !== undefined ? { object: priv.label } : {};
  if (priv.id !== undefined || priv.label !== undefined) {
    let candidates = findKeys(token, by, 'public').filter((k) => sameKeyType(k.keyType, priv.keyType));
    if (candidates.length > 1 && priv.label !== undefined) {
      candidates = candidates.filter((k) => k.label === priv.label);
    }
    if (candidates.length > 1) {
      throw new KeyError(
        `${what}: ${candidates.length} public keys on ${token.name} share its ${describeKey(priv)}`,
      );
    }
    const pub = candidates[0];
    if (pub !== undefined) {
      return publicKeyFromAttributes(
        pub.keyType ?? priv.keyType,
        token.attributes(pub.handle, PUBLIC_ATTRS),
        what,
      );
    }
  }
  const own = token.attributes(priv.handle, PUBLIC_ATTRS);
  const hasRsa = own.has(CK.CKA_MODULUS) && own.has(CK.CKA_PUBLIC_EXPONENT);
  const hasEc = own.has(CK.CKA_EC_PARAMS) && own.has(CK.CKA_EC_POINT);
  if (hasRsa || hasEc) return publicKeyFromAttributes(priv.keyType, own, what);
  if (priv.id !== undefined) {
    const certs = token.findObjects([
      { type: CK.CKA_CLASS, value: CK.CKO_CERTIFICATE },
      { type: CK.CKA_ID, value: priv.id },
    ]);
    for (const cert of certs) {
      const value = token.attributes(cert, [CK.CKA_VALUE]).get(CK.CKA_VALUE);
      if (value === undefined) continue;
      try {
        return toKey(new X509Certificate(value).publicKey);
      } catch (e) {
        if (e instanceof UnsupportedKeyError) throw e;
        // not a certificate we can read: try the next one
      }
    }
  }
  throw new KeyError(
    `${what}: ${token.name} has no public key object or certificate for the private key (${describeKey(priv)}), so its public key cannot be read`,
  );
}
