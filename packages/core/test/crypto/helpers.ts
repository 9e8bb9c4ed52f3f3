/** Shared fixtures for the crypto tests. */
import { readFileSync } from 'node:fs';

export const repoRoot = new URL('../../../../', import.meta.url);

export function readJson(relative: string): unknown {
  return JSON.parse(readFileSync(new URL(relative, repoRoot), 'utf8'));
}

export function readBytes(relative: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(relative, repoRoot)));
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

export const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));

/** `h` with one bit of byte `i` flipped. */
export function flipHexBit(h: string, i = 0): string {
  const b = Buffer.from(h, 'hex');
  b[i] = (b[i] ?? 0) ^ 1;
  return b.toString('hex');
}

export interface PythonTufKey {
  keyid: string;
  key: Record<string, unknown>;
}

/** test-vectors/python-tuf/keys/public-keys.json: name -> {keyid, key}, keyids by securesystemslib. */
export function pythonTufKeys(): Map<string, PythonTufKey> {
  const raw = readJson('test-vectors/python-tuf/keys/public-keys.json') as Record<string, PythonTufKey>;
  return new Map(Object.entries(raw));
}

/** PKCS#8 DER for a raw 32-byte Ed25519 seed (RFC 8410). */
export function ed25519Pkcs8Pem(seedHex: string): string {
  const der = Buffer.concat([
    Buffer.from('302e020100300506032b657004220420', 'hex'),
    Buffer.from(seedHex, 'hex'),
  ]);
  const b64 = der.toString('base64');
  return `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`;
}
