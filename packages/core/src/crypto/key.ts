/**
 * The TUF public key object `{keytype, scheme, keyval: {public, ...}, ...}` and signature
 * verification with it.
 *
 * Parsing checks the shape only: a key of an unknown type or scheme, or with unusable key
 * material, is kept (it may sit in a root beside keys we can use) and simply never verifies.
 * The key material is validated once, on first use, by pure code (spki.ts, @noble/ed25519 for
 * Ed25519 points), so every crypto backend accepts the same keys; the backend only computes
 * (docs/adr/0022-crypto-backends.md).
 */
import * as ed from '@noble/ed25519';
import { CryptoBackendError, FormatError, UnsupportedKeyError, UsageError } from '../errors.js';
import { canonicalBytes } from '../json/canonical.js';
import { cryptoBackend } from './active-backend.js';
import type { Algorithm, PublicKeyMaterial } from './backend.js';
import { ecdsaDerToRaw } from './ecdsa-der.js';
import { hexDigest } from './hash.js';
import { bigIntToBytes, bytesToBase64Url, bytesToHex, hexToBytes } from './hex.js';
import { cloneJson, isRecord, own, setOwn, unknownFields } from './json-value.js';
import { pemFromSpkiDer, spkiDerFromPem } from './pem.js';
import { ed25519Spki, parseSpki, uncompressedPoint } from './spki.js';

export type { Algorithm } from './backend.js';

/**
 * The kinds of key `generateKeyPair` makes; each maps to the default TUF keytype and scheme for it
 * (RSA signs with `rsassa-pss-sha256`).
 */
export type KeyKind = 'ed25519' | 'ecdsa-p256' | 'ecdsa-p384' | 'rsa';

/** `keyval`: the `public` string plus any fields this version does not know. */
export type KeyVal = { readonly public: string; readonly [field: string]: unknown };

/**
 * A public key that can export itself as SubjectPublicKeyInfo DER: a node `KeyObject` is one.
 * Structural, so the portable entry's declarations need no Node types.
 */
export interface SpkiExportable {
  /** `public` for a public key; anything else is refused. */
  readonly type: string;
  /** The SubjectPublicKeyInfo DER of the key. */
  export(options: { type: 'spki'; format: 'der' }): Uint8Array;
}

/** Validated public key material (internal). */
export interface Material extends PublicKeyMaterial {
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

const ED25519_HEX_RE = /^[0-9a-f]{64}$/;
// RFC 8032 5.1: the order of the Ed25519 base point.
const ED25519_L = 2n ** 252n + 27742317777372353535851937790883648493n;
const MIN_RSA_BITS = 2048;
const EC_SIZE = { 'ecdsa-p256': 32, 'ecdsa-p384': 48 } as const;

/**
 * Ed25519 public keys already checked (lower-case hex → usable). The check is a pure function of
 * the 32 bytes and costs a scalar multiplication (≈ 4 ms in pure JavaScript); a root is parsed
 * again by every `Repository.open` and every client refresh, so a trust server taking uploads
 * would otherwise pay it for every key of every upload. Bounded: the oldest entry goes first.
 */
const ed25519Checked = new Map<string, boolean>();
const ED25519_CHECKED_MAX = 4096;

function ed25519Usable(pub: string): boolean {
  let usable = ed25519Checked.get(pub);
  if (usable === undefined) {
    try {
      // DESIGN rule 5. zip215=false decodes as RFC 8032 5.1.3 says: y >= p, and x = 0 with the
      // sign bit set, are rejected, so every key has one encoding.
      const point = ed.Point.fromHex(pub, false);
      // With a small-order key, R = identity and S = 0 verify every message under OpenSSL.
      // A torsion component cannot come from key generation (A = aB), and cofactored and
      // cofactorless verifiers disagree on signatures under such a key.
      usable = !point.isSmallOrder() && point.isTorsionFree();
    } catch {
      usable = false; // not a point
    }
    if (ed25519Checked.size >= ED25519_CHECKED_MAX) {
      ed25519Checked.delete(ed25519Checked.keys().next().value as string);
    }
    ed25519Checked.set(pub, usable);
  }
  return usable;
}

/**
 * Internal (not in the package entry; for `PinnedTrust`): whether `pub` (lower-case hex) passed
 * the check of DESIGN rule 5 in this process, or was remembered as having passed it.
 */
export function ed25519KnownUsable(pub: string): boolean {
  return ed25519Checked.get(pub) === true;
}

/** Internal, for tests: forget every check, as a new process starts. */
export function forgetEd25519Checks(): void {
  ed25519Checked.clear();
}

/**
 * Internal (for `PinnedTrust` only, which says why it is sound there): records that `pub` passed
 * the check of DESIGN rule 5 in an earlier process, so this one does not compute it again. A key
 * this process already refused stays refused; anything but 64 lower-case hex digits is ignored.
 */
export function rememberEd25519Usable(pub: string): void {
  if (!ED25519_HEX_RE.test(pub) || ed25519Checked.has(pub)) return;
  if (ed25519Checked.size >= ED25519_CHECKED_MAX) {
    ed25519Checked.delete(ed25519Checked.keys().next().value as string);
  }
  ed25519Checked.set(pub, true);
}

function ed25519Material(pub: string): Material | undefined {
  if (!ED25519_HEX_RE.test(pub) || !ed25519Usable(pub)) return undefined;
  const raw = hexToBytes(pub) ?? new Uint8Array(0);
  return { algorithm: 'ed25519', spki: ed25519Spki(raw), raw, id: `ed25519:${pub}`, sigLength: 64 };
}

/** Minimal big-endian bytes, as JWK writes `n` and `e`. */
const minimalBytes = (n: bigint): Uint8Array =>
  bigIntToBytes(n, Math.ceil(n.toString(16).length / 2)) ?? new Uint8Array(0);

function pemMaterial(algorithm: Algorithm, pem: string): Material | undefined {
  const der = spkiDerFromPem(pem);
  if (der === undefined) return undefined;
  const parsed = parseSpki(der);
  if (typeof parsed === 'string') return undefined; // includes explicit curve parameters
  if (algorithm === 'rsassa-pss-sha256') {
    // rsaEncryption only (spki.ts): an id-RSASSA-PSS SPKI carries its own parameters.
    if (parsed.kind !== 'rsa' || parsed.modulusBits < MIN_RSA_BITS) return undefined;
    // With e = 1 a signature is its own message encoding: anyone could forge one. Like the
    // small-order Ed25519 keys, such keys never count (an even e is not a valid RSA key either).
    if (parsed.e < 3n || parsed.e % 2n === 0n) return undefined;
    const id = `rsa:${bytesToBase64Url(minimalBytes(parsed.n))}:${bytesToBase64Url(minimalBytes(parsed.e))}`;
    return {
      algorithm,
      spki: der,
      raw: new Uint8Array(0),
      rsa: parsed,
      id,
      sigLength: Math.ceil(parsed.modulusBits / 8),
    };
  }
  if (algorithm === 'ed25519') return undefined;
  // The curve must match the scheme: a P-384 key under ecdsa-sha2-nistp256 is not usable.
  const curve = algorithm === 'ecdsa-p256' ? 'P-256' : 'P-384';
  if (parsed.kind !== 'ec' || parsed.curve !== curve) return undefined;
  const raw = uncompressedPoint(curve, parsed.point);
  if (raw === undefined) return undefined;
  // From the uncompressed point, so a compressed and an uncompressed encoding of one point get one id.
  const size = EC_SIZE[algorithm];
  const x = bytesToBase64Url(raw.subarray(1, 1 + size));
  const y = bytesToBase64Url(raw.subarray(1 + size));
  return { algorithm, spki: der, raw, id: `ec:${curve}:${x}:${y}`, sigLength: 0 };
}

/** Internal: an EC key with explicit curve parameters, refused wherever a key enters. */
export const explicitCurveError = (): UnsupportedKeyError =>
  new UnsupportedKeyError(
    'an EC key with explicit curve parameters (expected a named curve, P-256 or P-384, as RFC 5480 and python-tuf require)',
  );

function loadMaterial(key: Key): Material | undefined {
  const algorithm = algorithmFor(key.keytype, key.scheme);
  if (algorithm === undefined) return undefined;
  try {
    return algorithm === 'ed25519'
      ? ed25519Material(key.keyval.public)
      : pemMaterial(algorithm, key.keyval.public);
  } catch {
    return undefined; // undecodable point: unusable, not a parse error
  }
}

// Keyed by the Key so the class carries no backend types in its public shape.
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

/**
 * What must not depend on the backend or its version, checked before it is called: the same
 * signature gets the same answer from OpenSSL, WebCrypto and noble.
 */
function wellFormed(m: Material, sig: Uint8Array): boolean {
  switch (m.algorithm) {
    case 'ed25519':
      // RFC 8032 5.1.7: reject S >= L (a malleated copy of a valid signature).
      return sig.length === 64 && leToBigInt(sig.subarray(32)) < ED25519_L;
    case 'ecdsa-p256':
    case 'ecdsa-p384':
      // DESIGN rule 7: strict DER, with r and s no longer than the curve order.
      return ecdsaDerToRaw(sig, EC_SIZE[m.algorithm]) !== undefined;
    case 'rsassa-pss-sha256':
      // RFC 8017 8.1.2 step 1; OpenSSL alone accepts a signature one byte short.
      return sig.length === m.sigLength;
  }
}

/**
 * The TUF key object for an SPKI (internal; for PEM import and node KeyObjects), as
 * securesystemslib writes it: Ed25519 as raw hex, ECDSA (keytype `ecdsa`) and RSA as PEM.
 */
export function keyFromSpki(der: Uint8Array, scheme?: string): Key {
  const parsed = parseSpki(der);
  if (parsed === 'explicit-curve') throw explicitCurveError();
  if (parsed === 'unsupported') {
    throw new UnsupportedKeyError(
      'unsupported public key (expected Ed25519, ECDSA on P-256 or P-384, or RSA, as a valid SubjectPublicKeyInfo)',
    );
  }
  let keytype: string;
  let defaultScheme: string;
  let pub: string;
  if (parsed.kind === 'ed25519') {
    [keytype, defaultScheme, pub] = ['ed25519', 'ed25519', bytesToHex(parsed.raw)];
  } else {
    pub = pemFromSpkiDer(der);
    if (parsed.kind === 'rsa') [keytype, defaultScheme] = ['rsa', 'rsassa-pss-sha256'];
    else
      [keytype, defaultScheme] = [
        'ecdsa',
        parsed.curve === 'P-256' ? 'ecdsa-sha2-nistp256' : 'ecdsa-sha2-nistp384',
      ];
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

/** The key's public material as PEM SubjectPublicKeyInfo (internal; `keyToPem`). */
export function spkiPemOf(key: Key): string | undefined {
  const m = materialOf(key);
  return m === undefined ? undefined : pemFromSpkiDer(m.spki);
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
  static fromPublicKeyObject(publicKey: SpkiExportable, scheme?: string): Key {
    if (publicKey.type !== 'public')
      throw new UsageError(`expected a public KeyObject, got ${publicKey.type}`);
    return keyFromSpki(new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })), scheme);
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
   * Whether `sigHex` is a valid signature over `data`: malformed hex, a wrong length, an
   * unsupported key or a bad signature are all `false`. Async: WebCrypto is.
   * @throws {@link errors!CryptoBackendError | CryptoBackendError} the runtime's crypto cannot
   *   verify this kind of signature at all (e.g. no `crypto.subtle` outside a secure context).
   */
  async verify(data: Uint8Array, sigHex: string): Promise<boolean> {
    if (!(data instanceof Uint8Array) || typeof sigHex !== 'string') return false;
    const m = materialOf(this);
    const sig = hexToBytes(sigHex);
    if (m === undefined || sig === undefined || !wellFormed(m, sig)) return false;
    const backend = cryptoBackend();
    try {
      return await backend.verify(m, data, sig);
    } catch (e) {
      // Not a bad signature: this runtime cannot check one. Reporting it as `false` would turn
      // it into a threshold failure that hides the cause.
      throw new CryptoBackendError(
        `the crypto backend cannot verify ${m.algorithm} signatures (${backend.name}: ${e instanceof Error ? e.message : String(e)})`,
        { cause: e },
      );
    }
  }
}
