/**
 * Byte encodings shared by the crypto module (internal; not re-exported): hex, base64 and
 * base64url, written over Uint8Array so the portable core needs no `Buffer`.
 */

const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;
const HEX_DIGITS = '0123456789abcdef';

/** Lower-case hex, the form metadata `hashes` and signatures use. */
export function bytesToHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += `${HEX_DIGITS[b >> 4]}${HEX_DIGITS[b & 15]}`;
  return out;
}

/**
 * Strict hex decoding: `undefined` for odd length or any non-hex character (`Buffer.from(s,
 * 'hex')` would silently stop at the first bad character).
 */
export function hexToBytes(hex: string): Uint8Array | undefined {
  if (!HEX_RE.test(hex)) return undefined;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Standard base64 with `=` padding (RFC 4648 section 4). */
export function bytesToBase64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const left = bytes.length - i;
    out += B64[(n >> 18) & 63];
    out += B64[(n >> 12) & 63];
    out += left > 1 ? B64[(n >> 6) & 63] : '=';
    out += left > 2 ? B64[n & 63] : '=';
  }
  return out;
}

/** base64url without padding (RFC 4648 section 5), as JWK writes key fields. */
export function bytesToBase64Url(bytes: Uint8Array): string {
  return bytesToBase64(bytes).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Strict base64 decoding: `undefined` unless `text` is canonical padded base64 (it re-encodes to
 * itself, so the unused bits of the last character are zero and one value has one spelling).
 */
export function base64ToBytes(text: string): Uint8Array | undefined {
  if (!B64_RE.test(text)) return undefined;
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const c = text[i + j] ?? '=';
      n = (n << 6) | (c === '=' ? 0 : B64.indexOf(c));
    }
    for (const shift of [16, 8, 0]) if (o < out.length) out[o++] = (n >> shift) & 255;
  }
  return bytesToBase64(out) === text ? out : undefined;
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Big-endian unsigned integer. */
export function bytesToBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${bytesToHex(bytes)}`);
}

/** Big-endian unsigned integer in exactly `length` bytes (`undefined` if it does not fit). */
export function bigIntToBytes(n: bigint, length: number): Uint8Array | undefined {
  if (n < 0n) return undefined;
  const hex = n.toString(16).padStart(length * 2, '0');
  return hex.length === length * 2 ? hexToBytes(hex) : undefined;
}
