/**
 * The salt length of an RSA-PSS signature (internal; for the WebCrypto backend).
 *
 * securesystemslib signs with a 32-byte salt, but python-tuf verifies with PSS.AUTO, accepting
 * any salt length, and so does tufa (ADR 0003). WebCrypto must be told the salt length, so this
 * reads it from the signature as EMSA-PSS-VERIFY (RFC 8017 9.1.2) would, and WebCrypto then
 * verifies the signature with it. Nothing is accepted here: a wrong guess only fails.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bigIntToBytes, bytesToBigInt } from './hex.js';
import { modPow } from './spki.js';

const H_LEN = 32; // SHA-256

/** MGF1 with SHA-256 (RFC 8017 B.2.1). */
function mgf1(seed: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const block = new Uint8Array(seed.length + 4);
  block.set(seed);
  for (let counter = 0, o = 0; o < length; counter++, o += H_LEN) {
    new DataView(block.buffer).setUint32(seed.length, counter);
    out.set(sha256(block).subarray(0, Math.min(H_LEN, length - o)), o);
  }
  return out;
}

/**
 * The salt length the signature was made with, or undefined when `sig` is no PSS encoding under
 * this key at all. `sig` must already be exactly as long as the modulus (key.ts checks).
 */
export function pssSaltLength(
  rsa: { readonly n: bigint; readonly e: bigint; readonly modulusBits: number },
  sig: Uint8Array,
): number | undefined {
  const s = bytesToBigInt(sig);
  if (s >= rsa.n) return undefined; // RFC 8017 5.2.2 step 1
  const emBits = rsa.modulusBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const em = bigIntToBytes(modPow(s, rsa.e, rsa.n), emLen);
  if (em === undefined || em[emLen - 1] !== 0xbc || emLen < H_LEN + 2) return undefined;
  const dbLen = emLen - H_LEN - 1;
  const db = mgf1(em.subarray(dbLen, dbLen + H_LEN), dbLen);
  for (let i = 0; i < dbLen; i++) db[i] = (db[i] ?? 0) ^ (em[i] ?? 0);
  const topBits = 8 * emLen - emBits;
  if ((em[0] ?? 0) >> (8 - topBits) !== 0) return undefined;
  db[0] = (db[0] ?? 0) & (0xff >> topBits);
  const one = db.findIndex((b) => b !== 0);
  if (one === -1 || db[one] !== 0x01) return undefined;
  return dbLen - one - 1;
}
