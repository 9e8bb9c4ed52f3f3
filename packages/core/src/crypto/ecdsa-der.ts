/**
 * ECDSA signature encodings (internal). TUF writes ECDSA signatures as hex of ASN.1 DER
 * `SEQUENCE { INTEGER r, INTEGER s }` (DESIGN rule 7); WebCrypto and PKCS#11 use raw r‖s.
 */

/** The content of a DER INTEGER at `pos`: [start, end), minimal and positive, or undefined. */
function derInteger(der: Uint8Array, pos: number, limit: number): [number, number] | undefined {
  const len = der[pos + 1];
  // r and s of P-256/P-384 fit the short length form (at most 49 bytes).
  if (der[pos] !== 0x02 || len === undefined || len === 0 || len >= 0x80) return undefined;
  const start = pos + 2;
  const end = start + len;
  if (end > limit) return undefined;
  const b0 = der[start] ?? 0;
  if (b0 & 0x80) return undefined; // negative
  if (b0 === 0 && len > 1 && ((der[start + 1] ?? 0) & 0x80) === 0) return undefined; // not minimal
  return [start, end];
}

/**
 * Strict DER (as OpenSSL, which re-encodes and compares) to raw r‖s of `size` bytes each;
 * undefined for anything else: BER lengths, padded or negative integers, trailing bytes, or an
 * integer longer than the curve order (which could never verify).
 */
export function ecdsaDerToRaw(der: Uint8Array, size: number): Uint8Array | undefined {
  const len = der[1];
  if (der[0] !== 0x30 || len === undefined || len >= 0x80 || 2 + len !== der.length) return undefined;
  const r = derInteger(der, 2, der.length);
  if (r === undefined) return undefined;
  const s = derInteger(der, r[1], der.length);
  if (s === undefined || s[1] !== der.length) return undefined;
  const out = new Uint8Array(2 * size);
  for (const [i, [start, end]] of [r, s].entries()) {
    let from = start;
    while (from < end - 1 && der[from] === 0) from++; // the sign byte
    if (end - from > size) return undefined;
    out.set(der.subarray(from, end), (i + 1) * size - (end - from));
  }
  return out;
}

/** One DER INTEGER of an unsigned big-endian value: leading zeros dropped, a sign byte added. */
function derIntegerOf(value: Uint8Array): Uint8Array {
  let from = 0;
  while (from < value.length - 1 && value[from] === 0) from++;
  const body = value.subarray(from);
  const pad = (body[0] ?? 0) & 0x80 ? 1 : 0;
  const out = new Uint8Array(2 + pad + body.length);
  out[0] = 0x02;
  out[1] = pad + body.length;
  out.set(body, 2 + pad);
  return out;
}

/**
 * Raw r‖s (WebCrypto's ECDSA output, IEEE P1363) to the strict DER TUF writes, which
 * `ecdsaDerToRaw` reads back unchanged. Throws on a length that is not two `size`-byte halves:
 * that is a backend bug, never input.
 */
export function ecdsaRawToDer(raw: Uint8Array, size: number): Uint8Array {
  if (raw.length !== 2 * size) {
    throw new Error(`expected a raw ECDSA signature of ${2 * size} bytes, got ${raw.length}`);
  }
  const r = derIntegerOf(raw.subarray(0, size));
  const s = derIntegerOf(raw.subarray(size));
  // At most 2 * (2 + 1 + 48) = 102 content bytes for P-384: the short length form.
  const out = new Uint8Array(2 + r.length + s.length);
  out[0] = 0x30;
  out[1] = r.length + s.length;
  out.set(r, 2);
  out.set(s, 2 + r.length);
  return out;
}
