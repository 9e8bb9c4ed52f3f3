/** PEM SubjectPublicKeyInfo parsing and writing (internal; not re-exported). */
import { base64ToBytes, bytesToBase64 } from './hex.js';

const BEGIN = '-----BEGIN PUBLIC KEY-----';
const END = '-----END PUBLIC KEY-----';

/**
 * The DER bytes of a `BEGIN PUBLIC KEY` PEM block, or `undefined`. Only SPKI is accepted: node's
 * createPublicKey would also take PKCS#1 `RSA PUBLIC KEY`, certificates and even private keys
 * (deriving their public half), none of which is a TUF public key. The base64 must be canonical
 * (it re-encodes to itself), so one key has one accepted spelling up to line breaks.
 */
export function spkiDerFromPem(pem: string): Uint8Array | undefined {
  const text = pem.trim();
  if (!text.startsWith(BEGIN) || !text.endsWith(END)) return undefined;
  const body = text.slice(BEGIN.length, text.length - END.length).replace(/\r?\n/g, '');
  if (body.length === 0) return undefined;
  return base64ToBytes(body);
}

/** PEM as OpenSSL and python's `cryptography` write it: 64-character lines, a final newline. */
export function pemFromSpkiDer(der: Uint8Array): string {
  const lines = bytesToBase64(der).match(/.{1,64}/g) ?? [];
  return `${BEGIN}\n${lines.join('\n')}\n${END}\n`;
}
