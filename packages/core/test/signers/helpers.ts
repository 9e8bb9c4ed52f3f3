/** Shared fixtures for the signer tests: temporary directories and generated key pairs. */
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect } from 'vitest';
import { type GeneratedKeyPair, generateKeyPair, type KeyKind } from '../../src/crypto/index.js';
import type { Signer } from '../../src/crypto/signer.js';

export const KINDS: readonly KeyKind[] = ['ed25519', 'ecdsa-p256', 'ecdsa-p384', 'rsa'];

/** scrypt cost for tests (the default, 2^17, takes about 0.3 s). */
export const FAST = { scryptN: 2 ** 10 } as const;

export const DATA = new TextEncoder().encode('{"_type":"targets","version":7}');

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** A fresh temporary directory, removed after the test file. */
export async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'tufa-signers-'));
  dirs.push(d);
  return d;
}

const pairs = new Map<string, Promise<GeneratedKeyPair>>();

/** A key pair per (kind, n), generated once per test file (RSA at 2048 bits for speed). */
export function pair(kind: KeyKind, n = 0): Promise<GeneratedKeyPair> {
  const id = `${kind}/${n}`;
  let p = pairs.get(id);
  if (p === undefined) {
    p = generateKeyPair(kind, { rsaBits: 2048 });
    pairs.set(id, p);
  }
  return p;
}

/** Signs DATA and checks the signature with the signer's public key. */
export async function expectSigns(signer: Signer): Promise<void> {
  const sig = await signer.sign(DATA);
  expect(sig.keyid).toBe(signer.keyid);
  expect(await signer.key.verify(DATA, sig.sig)).toBe(true);
}

/** A passphrase callback that records its requests. */
export function secretsOf(secret: string) {
  const requests: unknown[] = [];
  const cb = async (request: unknown): Promise<string> => {
    requests.push(request);
    return secret;
  };
  return Object.assign(cb, { requests });
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    return e as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

/** Everything an error could show: message, String(), stack, and the same for its causes. */
export function everythingShown(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let i = 0; i < 5 && cur !== undefined && cur !== null; i++) {
    if (cur instanceof Error) {
      parts.push(cur.message, String(cur), cur.stack ?? '');
      cur = cur.cause;
    } else {
      parts.push(String(cur));
      break;
    }
  }
  try {
    parts.push(JSON.stringify(e));
  } catch {}
  return parts.join('\n');
}

export async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

export async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
}

export async function listDir(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}
