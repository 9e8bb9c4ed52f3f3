/**
 * The few DER structures a token speaks: EC parameters (curve OIDs), EC points wrapped in an
 * OCTET STRING, and ECDSA signatures (PKCS#11 returns raw r‖s; TUF wants ASN.1 DER, DESIGN rule 7).
 */

/** CKA_EC_PARAMS values (DER of the curve's OBJECT IDENTIFIER, or a PrintableString name). */
export const EC_PARAMS = {
  /** 1.2.840.10045.3.1.7 (prime256v1). */
  p256: Buffer.from('06082a8648ce3d030107', 'hex'),
  /** 1.3.132.0.34 (secp384r1). */
  p384: Buffer.from('06052b81040022', 'hex'),
  /** 1.3.101.112 (id-Ed25519, RFC 8410): what we write; SoftHSM 2.6 also takes the name. */
  ed25519: Buffer.from('06032b6570', 'hex'),
  /** PrintableString "edwards25519" (PKCS#11 3.0 allows the curve name; some tokens return it). */
  ed25519Name: Buffer.from('130c656477617264733235353139', 'hex'),
} as const;

export type Curve = 'p256' | 'p384' | 'ed25519';

/** The curve that CKA_EC_PARAMS names, or undefined for one we do not support. */
export function curveOf(params: Uint8Array): Curve | undefined {
  const b = Buffer.from(params);
  if (b.equals(EC_PARAMS.p256)) return 'p256';
  if (b.equals(EC_PARAMS.p384)) return 'p384';
  if (b.equals(EC_PARAMS.ed25519) || b.equals(EC_PARAMS.ed25519Name)) return 'ed25519';
  return undefined;
}

/** Field element size in bytes. */
export const COORDINATE_BYTES: Record<Curve, number> = { p256: 32, p384: 48, ed25519: 32 };

function encodeLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Contents of a DER TLV with tag `tag` spanning all of `der`, or undefined. */
export function derContents(der: Uint8Array, tag: number): Uint8Array | undefined {
  if (der.length < 2 || der[0] !== tag) return undefined;
  const first = der[1] ?? 0;
  let length: number;
  let offset: number;
  if (first < 0x80) {
    length = first;
    offset = 2;
  } else {
    const count = first & 0x7f;
    // DER: the long form only for lengths >= 128, minimal, and at most 4 length bytes here.
    if (count === 0 || count > 4 || der.length < 2 + count || der[2] === 0) return undefined;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[2 + i] ?? 0);
    if (length < 0x80) return undefined;
    offset = 2 + count;
  }
  if (offset + length !== der.length) return undefined;
  return der.subarray(offset);
}

function tlv(tag: number, contents: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(contents.length), contents]);
}

/** A DER INTEGER for the unsigned big-endian `bytes`. */
function derUnsignedInteger(bytes: Uint8Array): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  let v = Buffer.from(bytes.subarray(i));
  if (v.length === 0) v = Buffer.from([0]);
  if ((v[0] ?? 0) & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return tlv(0x02, v);
}

/**
 * The ASN.1 DER `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` for a PKCS#11 ECDSA
 * signature (r‖s, each `coordinateBytes` long, big-endian).
 */
export function ecdsaRawToDer(raw: Uint8Array, coordinateBytes: number): Buffer {
  if (raw.length !== 2 * coordinateBytes) {
    throw new RangeError(
      `an ECDSA signature from the token must be ${2 * coordinateBytes} bytes (r‖s), got ${raw.length}`,
    );
  }
  const r = derUnsignedInteger(raw.subarray(0, coordinateBytes));
  const s = derUnsignedInteger(raw.subarray(coordinateBytes));
  return tlv(0x30, Buffer.concat([r, s]));
}

/**
 * The public point in CKA_EC_POINT. PKCS#11 says it is the DER of an OCTET STRING holding the
 * point; some tokens return the bare point. For Weierstrass curves the result is the X9.62
 * point (uncompressed `04‖X‖Y` or compressed), for Ed25519 the 32-byte RFC 8032 encoding.
 * Undefined when it is neither form.
 */
export function ecPointFromAttribute(value: Uint8Array, curve: Curve): Uint8Array | undefined {
  const n = COORDINATE_BYTES[curve];
  const rawLengths = curve === 'ed25519' ? [n] : [1 + 2 * n, 1 + n];
  const wrapped = derContents(value, 0x04);
  if (wrapped !== undefined && rawLengths.includes(wrapped.length)) return wrapped;
  // Bare: an Ed25519 key of 32 bytes, or an X9.62 point (which starts 02, 03 or 04, so an
  // uncompressed point is never mistaken for a wrapped one: the lengths differ).
  if (rawLengths.includes(value.length)) return value;
  return undefined;
}

/** The DER OCTET STRING of `bytes`. */
export function octetString(bytes: Uint8Array): Buffer {
  return tlv(0x04, bytes);
}
