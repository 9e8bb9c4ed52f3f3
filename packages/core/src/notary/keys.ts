/**
 * Notary v1 keys and signatures, turned into tufa `Key`s and DER/hex signatures so that
 * verification goes through @tufa/core's one verifier.
 *
 * Notary key objects: `{"keytype", "keyval": {"private": null, "public": BASE64}}` where the
 * public part is, by keytype: `ed25519` the raw 32 bytes; `ecdsa`/`rsa` a DER
 * SubjectPublicKeyInfo; `ecdsa-x509`/`rsa-x509` a PEM certificate. The keyid Notary computes is
 * the hex sha256 of the canonical JSON of that object with `private: null`.
 *
 * Signatures: `{"keyid", "method", "sig": BASE64}`, method `ecdsa` (raw r‖s, SHA-256),
 * `eddsa`, or `rsapss` (SHA-256).
 */
import { createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { ecdsaRawToDer } from '../crypto/ecdsa-der.js';
import { hexDigest } from '../crypto/hash.js';
import { Key } from '../crypto/key.js';
import { UnsupportedKeyError } from '../errors.js';
import { canonicalBytes } from '../json/canonical.js';

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict standard base64 (Go's `StdEncoding`): `undefined` for anything else. */
export function decodeBase64(value: string): Uint8Array | undefined {
  if (!BASE64_RE.test(value)) return undefined;
  const b = Buffer.from(value, 'base64');
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** A key as a Notary root or delegation lists it, with what tufa verifies with. */
export interface NotaryKey {
  /** The keyid the metadata lists it under. */
  readonly keyid: string;
  /** The keyid Notary computes for this key object (equal to `keyid` in well-formed metadata). */
  readonly computedKeyid: string;
  readonly keytype: string;
  /** The base64 `keyval.public` as written. */
  readonly public: string;
  /** The tufa key to verify with, or `undefined` when tufa cannot use it (`problem` says why). */
  readonly key: Key | undefined;
  readonly problem: string | undefined;
  /** For `*-x509` keys: the certificate. */
  readonly certificate: X509Certificate | undefined;
}

/** The keyid Notary gives a key object: hex sha256 of `{"keytype","keyval":{"private":null,"public"}}`. */
export function notaryKeyId(keytype: string, publicBase64: string): string {
  return hexDigest('sha256', canonicalBytes({ keytype, keyval: { private: null, public: publicBase64 } }));
}

function keyFromObject(pub: KeyObject, keytype: string): Key {
  const type = pub.asymmetricKeyType;
  const curve = pub.asymmetricKeyDetails?.namedCurve;
  const wantEc = keytype === 'ecdsa' || keytype === 'ecdsa-x509';
  const wantRsa = keytype === 'rsa' || keytype === 'rsa-x509';
  if (wantEc && type === 'ec' && curve === 'prime256v1') return Key.fromPublicKeyObject(pub);
  if (wantRsa && type === 'rsa') return Key.fromPublicKeyObject(pub);
  // Notary signs ECDSA with SHA-256 whatever the curve; only P-256 is what its tools generate.
  throw new UnsupportedKeyError(
    `a ${keytype} key holds a ${type ?? '?'}${curve ? ` ${curve}` : ''} public key (expected ${wantEc ? 'EC P-256' : wantRsa ? 'RSA' : 'a known key type'})`,
  );
}

/** Builds the tufa key for a Notary key object; never throws (an unusable key has `problem`). */
export function notaryKey(keyid: string, keytype: string, publicBase64: string): NotaryKey {
  const computedKeyid = notaryKeyId(keytype, publicBase64);
  let key: Key | undefined;
  let problem: string | undefined;
  let certificate: X509Certificate | undefined;
  try {
    const bytes = decodeBase64(publicBase64);
    if (bytes === undefined) throw new UnsupportedKeyError('keyval.public is not base64');
    switch (keytype) {
      case 'ed25519':
        if (bytes.length !== 32) throw new UnsupportedKeyError(`ed25519 key of ${bytes.length} bytes`);
        key = new Key('ed25519', 'ed25519', { public: Buffer.from(bytes).toString('hex') });
        break;
      case 'ecdsa':
      case 'rsa':
        key = keyFromObject(
          createPublicKey({ key: Buffer.from(bytes), format: 'der', type: 'spki' }),
          keytype,
        );
        break;
      case 'ecdsa-x509':
      case 'rsa-x509':
        certificate = new X509Certificate(Buffer.from(bytes));
        key = keyFromObject(certificate.publicKey, keytype);
        break;
      default:
        throw new UnsupportedKeyError(`unsupported Notary keytype ${JSON.stringify(keytype)}`);
    }
    if (!key.supported) throw new UnsupportedKeyError(`unusable ${keytype} key`);
  } catch (e) {
    key = undefined;
    problem = e instanceof Error ? e.message : String(e);
  }
  return { keyid, computedKeyid, keytype, public: publicBase64, key, problem, certificate };
}

/** Which signature method goes with which keytype. */
const METHOD_FOR: ReadonlyMap<string, string> = new Map([
  ['ed25519', 'eddsa'],
  ['ecdsa', 'ecdsa'],
  ['ecdsa-x509', 'ecdsa'],
  ['rsa', 'rsapss'],
  ['rsa-x509', 'rsapss'],
]);

/** ASN.1 DER `SEQUENCE { r INTEGER, s INTEGER }` for a raw P-256 r‖s signature (64 bytes). */
export function rawEcdsaToDer(raw: Uint8Array): Uint8Array | undefined {
  return raw.length === 64 ? ecdsaRawToDer(raw, 32) : undefined;
}

/**
 * The signature in the form `Key.verify` takes (hex; DER for ECDSA), or `undefined` when the
 * method does not belong to the keytype or the bytes cannot be a signature.
 */
export function tufaSignatureHex(keytype: string, method: string, sigBase64: string): string | undefined {
  if (METHOD_FOR.get(keytype) !== method) return undefined;
  const raw = decodeBase64(sigBase64);
  if (raw === undefined || raw.length === 0) return undefined;
  const bytes = method === 'ecdsa' ? rawEcdsaToDer(raw) : raw;
  return bytes === undefined ? undefined : Buffer.from(bytes).toString('hex');
}
