/**
 * The TUF public key object `{keytype, scheme, keyval: {public, ...}, ...}` and signature
 * verification with it.
 *
 * Parsing checks the shape only: a key of an unknown type or scheme, or with unusable key
 * material, is kept (it may sit in a root beside keys we can use) and simply never verifies.
 * The key material is validated once, on first use, and the resulting node KeyObject is cached
 * (re-creating it per verification halves throughput; see docs/adr/0003-crypto-backend.md).
 */
import { constants, createPublicKey, type KeyObject, verify as nodeVerify } from 'node:crypto';
import * as ed from '@noble/ed25519';
import { FormatError, UnsupportedKeyError, UsageError } from '../errors.js';
import { canonicalBytes } from '../json/canonical.js';
import { hexDigest } from './hash.js';
import { hexToBytes } from './hex.js';
import { cloneJson, isRecord, own, setOwn, unknownFields } from './json-value.js';
import { ecSpkiCurve, spkiDerFromPem } from './pem.js';

/** `keyval`: the `public` string plus any fields this version does not know. */
export type KeyVal = { readonly public: string; readonly [field: string]: unknown };

/** What tufa can verify with (internal); one per supported keytype/scheme combination. */
export type Algorithm = 'ed25519' | 'ecdsa-p256' | 'ecdsa-p384' | 'rsassa-pss-sha256';

/** Validated public key material (internal). */
export interface Material {
  readonly algorithm: Algorithm;
  readonly keyObject: KeyObject;
  /** Same key material, same id, whatever the keyid, keytype alias or point encoding. */
  readonly id: string;
  /** RSA: the modulus length in bytes, which a signature must have (RFC 8017 8.1.2 step 1). */
  readonly sigLength: number;
}

const KNOWN = ['keytype', 'scheme', 'keyval'] as const;

/** The keytype/scheme pairs securesystemslib verifies, including the deprecated ECDSA keytypes. */
function algorithmFor(keytype: string, scheme: string): Algorithm | undefined {
  if (keytype === 'ed25519' && scheme === 'ed25519') return 'ed25519';
  if (scheme === 'ecdsa-sha2-nistp256' && (keytype === 'ecdsa' || keytype === scheme)) return 'ecdsa-p256';
  if (scheme === 'ecdsa-sha2-nistp384' && (keytype === 'ecdsa' || keytype === scheme)) return 'ecdsa-p384';
  if (keytype === 'rsa' && scheme === 'rsassa-pss-sha256') return 'rsassa-pss-sha256';
  return undefined;
}

// SubjectPublicKeyInfo header for a raw 32-byte Ed25519 key (RFC 8410).
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const ED25519_HEX_RE = /^[0-9a-f]{64}$/;
// RFC 8032 5.1: the order of the Ed25519 base point.
const ED25519_L = 2n ** 252n + 27742317777372353535851937790883648493n;
const MIN_RSA_BITS = 2048;

function ed25519Material(pub: string): Material | undefined {
  if (!ED25519_HEX_RE.test(pub)) return undefined;
  // DESIGN rule 5. zip215=false decodes as RFC 8032 5.1.3 says: y >= p, and x = 0 with the sign
  // bit set, are rejected, so every key has one encoding.
  const point = ed.Point.fromHex(pub, false);
  // With a small-order key, R = identity and S = 0 verify every message under OpenSSL.
  // A torsion component cannot come from key generation (A = aB), and cofactored and cofactorless
  // verifiers disagree on signatures under such a key; one scalar multiplication per key.
  if (point.isSmallOrder() || !point.isTorsionFree()) return undefined;
  const der = Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(pub, 'hex')]);
  const keyObject = createPublicKey({ key: der, format: 'der', type: 'spki' });
  return { algorithm: 'ed25519', keyObject, id: `ed25519:${pub}`, sigLength: 64 };
}

function pemMaterial(algorithm: Algorithm, pem: string): Material | undefined {
  const der = spkiDerFromPem(pem);
  if (der === undefined) return undefined;
  const keyObject = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
  // OpenSSL ignores bytes after the SPKI structure; accept only an exact DER round trip.
  if (!keyObject.export({ type: 'spki', format: 'der' }).equals(der)) return undefined;
  const details = keyObject.asymmetricKeyDetails;
  if (algorithm === 'rsassa-pss-sha256') {
    // 'rsa' only: an id-RSASSA-PSS SPKI carries its own parameters; securesystemslib writes rsaEncryption.
    const bits = details?.modulusLength ?? 0;
    if (keyObject.asymmetricKeyType !== 'rsa' || bits < MIN_RSA_BITS) return undefined;
    const jwk = keyObject.export({ format: 'jwk' });
    // With e = 1 a signature is its own message encoding: anyone could forge one. Like the
    // small-order Ed25519 keys, such keys never count (an even e is not a valid RSA key either).
    const e = BigInt(`0x${Buffer.from(jwk.e ?? '', 'base64url').toString('hex') || '0'}`);
    if (e < 3n || e % 2n === 0n) return undefined;
    return { algorithm, keyObject, id: `rsa:${jwk.n}:${jwk.e}`, sigLength: Math.ceil(bits / 8) };
  }
  const curve = algorithm === 'ecdsa-p256' ? 'prime256v1' : 'secp384r1';
  // The curve must match the scheme: a P-384 key under ecdsa-sha2-nistp256 is not usable.
  if (keyObject.asymmetricKeyType !== 'ec' || details?.namedCurve !== curve) return undefined;
  // Named curves only: node reports explicit parameters equal to P-256 as P-256 (see ecSpkiCurve).
  if (ecSpkiCurve(der) !== curve) return undefined;
  // From the JWK, so a compressed and an uncompressed encoding of one point get one id.
  const jwk = keyObject.export({ format: 'jwk' });
  return { algorithm, keyObject, id: `ec:${jwk.crv}:${jwk.x}:${jwk.y}`, sigLength: 0 };
}

/**
 * Throws UnsupportedKeyError for an EC key given with explicit curve parameters (internal; for
 * every place a key enters from outside metadata: key import, signers, Notary keys).
 */
export function refuseExplicitCurve(publicKey: KeyObject): void {
  if (publicKey.asymmetricKeyType !== 'ec') return;
  if (ecSpkiCurve(publicKey.export({ type: 'spki', format: 'der' })) !== 'explicit') return;
  throw new UnsupportedKeyError(
    'an EC key with explicit curve parameters (expected a named curve, P-256 or P-384, as RFC 5480 and python-tuf require)',
  );
}

function loadMaterial(key: Key): Material | undefined {
  const algorithm = algorithmFor(key.keytype, key.scheme);
  if (algorithm === undefined) return undefined;
  try {
    return algorithm === 'ed25519'
      ? ed25519Material(key.keyval.public)
      : pemMaterial(algorithm, key.keyval.public);
  } catch {
    return undefined; // undecodable point, bad DER, off-curve point: unusable, not a parse error
  }
}

// Keyed by the Key so the class carries no node types in its public shape.
const materials = new WeakMap<Key, Material | null>();

/** The validated key material, parsed once per Key (internal; for the signer and PEM export). */
export function materialOf(key: Key): Material | undefined {
  let m = materials.get(key);
  if (m === undefined) {
    m = loadMaterial(key) ?? null;
    materials.set(key, m);
  }
  return m ?? undefined;
}

function leToBigInt(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] ?? 0);
  return n;
}

function verifyNow(m: Material, data: Uint8Array, sig: Uint8Array): boolean {
  switch (m.algorithm) {
    case 'ed25519':
      // RFC 8032 5.1.7: reject S >= L (a malleated copy of a valid signature). OpenSSL 3 checks
      // this too; checking here keeps the rule independent of the backend's version.
      if (sig.length !== 64 || leToBigInt(sig.subarray(32)) >= ED25519_L) return false;
      // An R that does not decode cannot equal the canonical encoding OpenSSL recomputes.
      return nodeVerify(null, data, m.keyObject, sig);
    case 'ecdsa-p256':
    case 'ecdsa-p384':
      // DESIGN rule 7: DER signatures; nistp384 hashes with SHA-384.
      return nodeVerify(
        m.algorithm === 'ecdsa-p256' ? 'sha256' : 'sha384',
        data,
        {
          key: m.keyObject,
          dsaEncoding: 'der',
        },
        sig,
      );
    case 'rsassa-pss-sha256':
      if (sig.length !== m.sigLength) return false;
      // securesystemslib signs with a 32-byte salt and verifies with PSS.AUTO (any salt length);
      // AUTO matches it, so signatures python-tuf accepts verify here. MGF1 uses SHA-256.
      return nodeVerify(
        'sha256',
        data,
        {
          key: m.keyObject,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_AUTO,
        },
        sig,
      );
  }
}

/**
 * A TUF public key object (`keytype`, `scheme`, `keyval`), kept exactly as received so its keyid
 * and the metadata that lists it re-serialise unchanged. Unknown keytypes and schemes are kept but
 * verify nothing (see `supported`).
 */
export class Key {
  /** The key type as written in metadata, e.g. `ed25519`, `ecdsa`, `rsa`. */
  readonly keytype: string;
  /**
   * The signature scheme as written in metadata, e.g. `ed25519`, `ecdsa-sha2-nistp256`,
   * `rsassa-pss-sha256`.
   */
  readonly scheme: string;
  /** Deeply frozen copy; `toJSON()` returns a fresh mutable one. */
  readonly keyval: KeyVal;
  /** Top-level fields this version does not know, kept so they are re-emitted unchanged. */
  readonly unrecognized: Readonly<Record<string, unknown>>;
  #keyid: string | undefined;

  /**
   * @throws {@link errors!UsageError | UsageError} a field has the wrong type, or `unrecognized`
   *   repeats a known field.
   * @throws {@link errors!FormatError | FormatError} `keyval` is not JSON TUF can sign (e.g. a
   *   non-integer number).
   */
  constructor(keytype: string, scheme: string, keyval: KeyVal, unrecognized: Record<string, unknown> = {}) {
    if (typeof keytype !== 'string' || typeof scheme !== 'string') {
      throw new UsageError('keytype and scheme must be strings');
    }
    if (!isRecord(keyval) || typeof own(keyval, 'public') !== 'string') {
      throw new UsageError('keyval must be an object with a string "public"');
    }
    for (const k of KNOWN) {
      if (Object.hasOwn(unrecognized, k)) throw new UsageError(`'${k}' is not an unrecognized field`);
    }
    this.keytype = keytype;
    this.scheme = scheme;
    this.keyval = cloneJson(keyval, 'key.keyval', true) as KeyVal;
    this.unrecognized = unknownFields(unrecognized, KNOWN, 'key');
  }

  /**
   * Validates the shape only (unknown keytypes and schemes are kept; see `supported`).
   * `path` names the object in errors, e.g. `signed.keys.ab12`.
   * @throws {@link errors!FormatError | FormatError} the object is not a key object.
   */
  static fromJSON(obj: unknown, path: string): Key {
    if (!isRecord(obj)) throw new FormatError('expected an object', path);
    const keytype = own(obj, 'keytype');
    const scheme = own(obj, 'scheme');
    const keyval = own(obj, 'keyval');
    if (typeof keytype !== 'string') throw new FormatError('expected a string', `${path}.keytype`);
    if (typeof scheme !== 'string') throw new FormatError('expected a string', `${path}.scheme`);
    if (!isRecord(keyval)) throw new FormatError('expected an object', `${path}.keyval`);
    if (typeof own(keyval, 'public') !== 'string') {
      throw new FormatError('expected a string', `${path}.keyval.public`);
    }
    // Copied (and checked to be JSON) here so that errors name `path`.
    const kv = cloneJson(keyval, `${path}.keyval`, true) as KeyVal;
    return new Key(keytype, scheme, kv, unknownFields(obj, KNOWN, path));
  }

  /**
   * The TUF key object for a node public KeyObject, as securesystemslib's `from_crypto` writes
   * it: Ed25519 as raw hex, ECDSA (keytype `ecdsa`) and RSA as PEM SubjectPublicKeyInfo.
   * `scheme` may only name the default scheme for the key's type.
   * @throws {@link errors!UsageError | UsageError} `publicKey` is not a public key.
   * @throws {@link errors!UnsupportedKeyError | UnsupportedKeyError} a key type, curve or scheme
   *   tufa cannot use, or RSA below the minimum size.
   */
  static fromPublicKeyObject(publicKey: KeyObject, scheme?: string): Key {
    if (publicKey.type !== 'public')
      throw new UsageError(`expected a public KeyObject, got ${publicKey.type}`);
    const type = publicKey.asymmetricKeyType;
    const curve = publicKey.asymmetricKeyDetails?.namedCurve;
    let keytype: string;
    let defaultScheme: string;
    let pub: string;
    if (type === 'ed25519') {
      [keytype, defaultScheme] = ['ed25519', 'ed25519'];
      pub = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url').toString('hex');
    } else {
      refuseExplicitCurve(publicKey);
      if (type === 'ec' && curve === 'prime256v1')
        [keytype, defaultScheme] = ['ecdsa', 'ecdsa-sha2-nistp256'];
      else if (type === 'ec' && curve === 'secp384r1')
        [keytype, defaultScheme] = ['ecdsa', 'ecdsa-sha2-nistp384'];
      else if (type === 'rsa') [keytype, defaultScheme] = ['rsa', 'rsassa-pss-sha256'];
      else throw new UnsupportedKeyError(`unsupported key type ${type ?? '?'}${curve ? ` (${curve})` : ''}`);
      pub = publicKey.export({ type: 'spki', format: 'pem' }) as string;
    }
    if (scheme !== undefined && scheme !== defaultScheme) {
      throw new UnsupportedKeyError(
        `unsupported scheme for a ${keytype} key (expected ${defaultScheme}, got ${scheme})`,
      );
    }
    const key = new Key(keytype, defaultScheme, { public: pub });
    if (!key.supported) {
      throw new UnsupportedKeyError(`unusable ${keytype} key (e.g. RSA below ${MIN_RSA_BITS} bits)`);
    }
    return key;
  }

  /** The TUF key object, a fresh plain object (unknown fields included, `__proto__` as a field). */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = {
      keytype: this.keytype,
      scheme: this.scheme,
      keyval: cloneJson(this.keyval, 'key.keyval'),
    };
    const extra = this.unrecognized;
    for (const k of Object.keys(extra)) setOwn(out, k, cloneJson(extra[k], `key.${k}`));
    return out;
  }

  /**
   * The keyid tufa writes: hex SHA-256 of the canonical JSON of the whole key object (DESIGN
   * rule 6). When verifying, keyids are opaque labels from the metadata, never recomputed.
   */
  keyid(): string {
    this.#keyid ??= hexDigest('sha256', canonicalBytes(this.toJSON()));
    return this.#keyid;
  }

  /** A known keytype/scheme pair with valid public key material; otherwise nothing verifies. */
  get supported(): boolean {
    return materialOf(this) !== undefined;
  }

  /**
   * Identifies the public key material (not the keyid), so that a threshold counts one key
   * listed under two keyids once (DESIGN rule 5). `undefined` when the key is not supported.
   */
  materialId(): string | undefined {
    return materialOf(this)?.id;
  }

  /**
   * Whether `sigHex` is a valid signature over `data`. Never throws: malformed hex, a wrong
   * length, an unsupported key or a bad signature are all `false`. Async so that a WebCrypto or
   * remote verifier fits behind the same call.
   */
  async verify(data: Uint8Array, sigHex: string): Promise<boolean> {
    try {
      if (!(data instanceof Uint8Array) || typeof sigHex !== 'string') return false;
      const m = materialOf(this);
      const sig = hexToBytes(sigHex);
      if (m === undefined || sig === undefined || sig.length === 0) return false;
      // Synchronous on purpose: for metadata-sized data the thread-pool hop costs more than it saves.
      return verifyNow(m, data, sig);
    } catch {
      return false;
    }
  }
}
