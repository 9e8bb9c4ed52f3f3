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
