/**
 * Strict DER parsing of the SubjectPublicKeyInfo structures TUF keys use (internal; not
 * re-exported). Pure code, so every crypto backend validates key material the same way and the
 * portable core needs no `createPublicKey`.
 *
 * Strict means DER, not BER: definite minimal lengths, minimal positive INTEGERs, nothing after
 * the structure. One key then has one accepted encoding (up to the EC point form), as the exact
 * round trip through OpenSSL gave before (docs/adr/0003-crypto-backend.md).
 */
import { bytesToBigInt, bytesToHex } from './hex.js';

/** Validated public key material read from an SPKI. */
export type SpkiKey =
  | { readonly kind: 'ed25519'; readonly raw: Uint8Array }
  | {
      readonly kind: 'ec';
      readonly curve: 'P-256' | 'P-384';
      /** The SEC 1 encoding as received: 04‖X‖Y, or 02/03‖X (compressed). */
      readonly point: Uint8Array;
    }
  | { readonly kind: 'rsa'; readonly n: bigint; readonly e: bigint; readonly modulusBits: number };

/** What `parseSpki` saw when it could not give a key: tufa refuses explicit curves by name. */
export type SpkiRefusal = 'explicit-curve' | 'unsupported';

interface Element {
  readonly tag: number;
  readonly start: number; // first content byte
  readonly end: number; // one past the last content byte
}

/** The DER element at `pos`: one tag byte, a minimal definite length. */
function element(der: Uint8Array, pos: number, limit: number): Element | undefined {
  const tag = der[pos];
  const first = der[pos + 1];
  if (tag === undefined || first === undefined || pos + 2 > limit) return undefined;
  let len = first;
  let start = pos + 2;
  if (first >= 0x80) {
    const n = first & 0x7f;
    // Long form only where the short form cannot say it, without leading zero bytes.
    if (n < 1 || n > 3 || der[start] === 0) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (der[start + i] ?? 0);
    start += n;
    if (len < 0x80) return undefined;
  }
  const end = start + len;
  return end <= limit ? { tag, start, end } : undefined;
}

/** The elements of a constructed value's content, in order; undefined on any malformation. */
function children(der: Uint8Array, parent: Element): Element[] | undefined {
  const out: Element[] = [];
  let pos = parent.start;
  while (pos < parent.end) {
    const e = element(der, pos, parent.end);
    if (e === undefined) return undefined;
    out.push(e);
    pos = e.end;
  }
  return out;
}

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const BIT_STRING = 0x03;
const NULL = 0x05;
const OID = 0x06;

const ID_ED25519 = '2b6570'; // 1.3.101.112 (RFC 8410)
const ID_EC_PUBLIC_KEY = '2a8648ce3d0201'; // 1.2.840.10045.2.1 (RFC 5480 2.1.1)
const RSA_ENCRYPTION = '2a864886f70d010101'; // 1.2.840.113549.1.1.1 (RFC 8017 A.1)
const NAMED_CURVES: ReadonlyMap<string, 'P-256' | 'P-384'> = new Map([
  ['2a8648ce3d030107', 'P-256'], // 1.2.840.10045.3.1.7
  ['2b81040022', 'P-384'], // 1.3.132.0.34
]);

/** A minimal positive DER INTEGER. */
function positiveInteger(der: Uint8Array, e: Element): bigint | undefined {
  if (e.tag !== INTEGER || e.end === e.start) return undefined;
  const b0 = der[e.start] ?? 0;
  if (b0 & 0x80) return undefined; // negative
  if (b0 === 0 && e.end - e.start > 1 && ((der[e.start + 1] ?? 0) & 0x80) === 0) return undefined;
  return bytesToBigInt(der.subarray(e.start, e.end));
}

/**
 * The key an SPKI holds, or why not. Ed25519 (RFC 8410: no parameters), EC on a named curve
 * (RFC 5480: P-256 or P-384, point uncompressed or compressed and on the curve; an explicit curve
 * is refused as RFC 5480 2.1.1 and python-tuf do), RSA as rsaEncryption with NULL parameters
 * (what securesystemslib writes; an id-RSASSA-PSS key carries parameters of its own).
 */
export function parseSpki(der: Uint8Array): SpkiKey | SpkiRefusal {
  const top = element(der, 0, der.length);
  if (top === undefined || top.tag !== SEQUENCE || top.end !== der.length) return 'unsupported';
  const [alg, bits, ...rest] = children(der, top) ?? [];
  if (alg?.tag !== SEQUENCE || bits?.tag !== BIT_STRING || rest.length > 0) return 'unsupported';
  // The key bits are whole bytes: the "unused bits" byte is 0.
  if (bits.end - bits.start < 1 || der[bits.start] !== 0) return 'unsupported';
  const keyBytes = der.subarray(bits.start + 1, bits.end);
  const [oid, params, ...more] = children(der, alg) ?? [];
  if (oid?.tag !== OID || more.length > 0) return 'unsupported';
  const oidHex = bytesToHex(der.subarray(oid.start, oid.end));
  if (oidHex === ID_ED25519) {
    if (params !== undefined || keyBytes.length !== 32) return 'unsupported';
    return { kind: 'ed25519', raw: keyBytes };
  }
  if (oidHex === ID_EC_PUBLIC_KEY) {
    if (params?.tag !== OID) return 'explicit-curve';
    const curve = NAMED_CURVES.get(bytesToHex(der.subarray(params.start, params.end)));
    if (curve === undefined || !ecPointOk(curve, keyBytes)) return 'unsupported';
    return { kind: 'ec', curve, point: keyBytes };
  }
  if (oidHex === RSA_ENCRYPTION) {
    if (params?.tag !== NULL || params.end !== params.start) return 'unsupported';
    const seq = element(keyBytes, 0, keyBytes.length);
    if (seq?.tag !== SEQUENCE || seq.end !== keyBytes.length) return 'unsupported';
    const [nEl, eEl, ...extra] = children(keyBytes, seq) ?? [];
    if (nEl === undefined || eEl === undefined || extra.length > 0) return 'unsupported';
    const n = positiveInteger(keyBytes, nEl);
    const e = positiveInteger(keyBytes, eEl);
    if (n === undefined || e === undefined || n === 0n) return 'unsupported';
    return { kind: 'rsa', n, e, modulusBits: n.toString(2).length };
  }
  return 'unsupported';
}

// SEC 2 / FIPS 186-4 domain parameters: y² = x³ − 3x + b over GF(p).
const CURVES = {
  'P-256': {
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
    size: 32,
  },
  'P-384': {
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
    size: 48,
  },
} as const;

export function modPow(base: bigint, exp: bigint, m: bigint): bigint {
  let result = 1n;
  let b = base % m;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return result;
}

/** x³ − 3x + b mod p. */
function curveRhs(curve: 'P-256' | 'P-384', x: bigint): bigint {
  const { p, b } = CURVES[curve];
  return (((x * x * x - 3n * x + b) % p) + p) % p;
}

/** y for a compressed point (`odd`: the parity bit), or undefined if x is not on the curve. */
function decompressY(curve: 'P-256' | 'P-384', x: bigint, odd: boolean): bigint | undefined {
  const { p } = CURVES[curve];
  const rhs = curveRhs(curve, x);
  // p ≡ 3 (mod 4) for both curves, so a square root is rhs^((p+1)/4) when one exists.
  const y = modPow(rhs, (p + 1n) / 4n, p);
  if ((y * y) % p !== rhs) return undefined;
  return (y & 1n) === (odd ? 1n : 0n) ? y : (p - y) % p;
}

/**
 * Whether a SEC 1 point is a valid public key on `curve`: uncompressed (04) or compressed (02/03;
 * RFC 5480 2.2 allows no other form), coordinates below p, on the curve. The point at infinity
 * has no such encoding. Both curves have cofactor 1, so every curve point is in the group.
 */
function ecPointOk(curve: 'P-256' | 'P-384', point: Uint8Array): boolean {
  return uncompressedPoint(curve, point) !== undefined;
}

/** The uncompressed form 04‖X‖Y of a valid point (WebCrypto's `raw` import wants it). */
export function uncompressedPoint(curve: 'P-256' | 'P-384', point: Uint8Array): Uint8Array | undefined {
  const { p, size } = CURVES[curve];
  const form = point[0];
  const x = bytesToBigInt(point.subarray(1, 1 + size));
  if (x >= p) return undefined;
  let y: bigint | undefined;
  if (form === 0x04 && point.length === 1 + 2 * size) {
    y = bytesToBigInt(point.subarray(1 + size));
    if (y >= p || (y * y) % p !== curveRhs(curve, x)) return undefined;
    return point;
  }
  if ((form === 0x02 || form === 0x03) && point.length === 1 + size) {
    y = decompressY(curve, x, form === 0x03);
    if (y === undefined) return undefined;
    const out = new Uint8Array(1 + 2 * size);
    out[0] = 0x04;
    out.set(point.subarray(1), 1);
    out.set(bigToFixed(y, size), 1 + size);
    return out;
  }
  return undefined;
}

function bigToFixed(n: bigint, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let v = n;
  for (let i = size - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** The SPKI DER of a raw Ed25519 public key (RFC 8410). */
export function ed25519Spki(raw: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + raw.length);
  out.set([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);
  out.set(raw, 12);
  return out;
}

/** The PKCS#8 DER of an Ed25519 private key from its 32-byte seed (RFC 8410 section 7). */
export function ed25519Pkcs8(seed: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + seed.length);
  out.set([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
  out.set(seed, 16);
  return out;
}
