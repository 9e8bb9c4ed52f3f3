/** PEM SubjectPublicKeyInfo parsing (internal; not re-exported). */

const BEGIN = '-----BEGIN PUBLIC KEY-----';
const END = '-----END PUBLIC KEY-----';
const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * The DER bytes of a `BEGIN PUBLIC KEY` PEM block, or `undefined`. Only SPKI is accepted:
 * node's createPublicKey would also take PKCS#1 `RSA PUBLIC KEY`, certificates and even private
 * keys (deriving their public half), none of which is a TUF public key. The base64 must be
 * canonical (it re-encodes to itself), so one key has one accepted spelling up to line breaks.
 */
export function spkiDerFromPem(pem: string): Uint8Array | undefined {
  const text = pem.trim();
  if (!text.startsWith(BEGIN) || !text.endsWith(END)) return undefined;
  const body = text.slice(BEGIN.length, text.length - END.length).replace(/\r?\n/g, '');
  if (body.length % 4 !== 0 || !BASE64_RE.test(body)) return undefined;
  const der = Buffer.from(body, 'base64');
  if (der.toString('base64') !== body) return undefined;
  return new Uint8Array(der.buffer, der.byteOffset, der.byteLength);
}

const ID_EC_PUBLIC_KEY = '2a8648ce3d0201'; // 1.2.840.10045.2.1 (RFC 5480 2.1.1)
const NAMED_CURVES: ReadonlyMap<string, 'prime256v1' | 'secp384r1'> = new Map([
  ['2a8648ce3d030107', 'prime256v1'], // 1.2.840.10045.3.1.7, P-256
  ['2b81040022', 'secp384r1'], // 1.3.132.0.34, P-384
]);

/** The content range of the DER element at `pos` with tag `tag`, or undefined. */
function derElement(der: Uint8Array, pos: number, tag: number): { start: number; end: number } | undefined {
  if (der[pos] !== tag) return undefined;
  const first = der[pos + 1];
  if (first === undefined) return undefined;
  let len = first;
  let start = pos + 2;
  if (first >= 0x80) {
    const n = first & 0x7f;
    if (n < 1 || n > 3) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (der[start + i] ?? 0);
    start += n;
  }
  const end = start + len;
  return end <= der.length ? { start, end } : undefined;
}

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/**
 * The curve an EC SubjectPublicKeyInfo names: `prime256v1` or `secp384r1`; `other` for another
 * named curve; `explicit` when its parameters are not a namedCurve OID (explicit curve
 * parameters, or implicitlyCA); undefined when it is not an id-ecPublicKey SPKI.
 *
 * Why: OpenSSL recognises explicit parameters equal to a named curve and reports that curve,
 * so node's KeyObject cannot tell the two apart. RFC 5480 2.1.1 requires the namedCurve form,
 * and python-tuf (through `cryptography`) refuses explicit parameters: so does tufa.
 */
export function ecSpkiCurve(der: Uint8Array): 'prime256v1' | 'secp384r1' | 'other' | 'explicit' | undefined {
  const spki = derElement(der, 0, 0x30);
  if (spki === undefined) return undefined;
  const algorithm = derElement(der, spki.start, 0x30);
  if (algorithm === undefined) return undefined;
  const oid = derElement(der, algorithm.start, 0x06);
  if (oid === undefined || hexOf(der.subarray(oid.start, oid.end)) !== ID_EC_PUBLIC_KEY) return undefined;
  const curve = derElement(der, oid.end, 0x06);
  if (curve === undefined || curve.end !== algorithm.end) return 'explicit';
  return NAMED_CURVES.get(hexOf(der.subarray(curve.start, curve.end))) ?? 'other';
}
