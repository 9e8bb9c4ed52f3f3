/**
 * The Node side of the runtime signing tests (issue 16): checks a repository built and signed
 * inside another runtime (runtimes/sign-repository.mjs) with node:crypto and with tuf-js, then
 * runs the client on it.
 */
import { MetadataKind, Metadata as TufMetadata } from '@tufjs/models';
import type { JSONObject } from '@tufjs/models/dist/utils/types.js';
import { expect } from 'vitest';
import { cryptoBackend } from '../../src/crypto/active-backend.js';
import { Metadata } from '../../src/metadata/metadata.js';
import { MemoryRepositoryStorage } from '../../src/repository/storage.js';
import { client } from '../repository/helpers.js';

/** What signRepository() answers. */
export interface Signed {
  ok: boolean;
  code?: string;
  message?: string;
  files?: Record<string, string>;
  held?: string[];
  content?: string;
}

const SIGNING_NOW = new Date('2026-06-01T00:00:00Z');
const SCHEMES = ['ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'rsassa-pss-sha256'];

/** Asserts that `out` is a repository whose every signature verifies here; `held` as expected. */
export async function checkSignedRepository(out: Signed, held: string): Promise<void> {
  expect(out, out.message).toMatchObject({ ok: true });
  // The four generated keys, then the CryptoKey the runtime made itself (always WebCrypto's).
  expect(out.held).toEqual([held, held, held, held, 'non-extractable']);
  const storage = new MemoryRepositoryStorage();
  for (const [path, b64] of Object.entries(out.files ?? {})) {
    storage.files.set(path, new Uint8Array(Buffer.from(b64, 'base64')));
  }
  const rootBytes = storage.files.get('metadata/1.root.json');
  if (rootBytes === undefined) throw new Error('the runtime published no root');
  // The root: four keys of four schemes, threshold 4, each signature checked on this side.
  expect(cryptoBackend().name).toBe('node:crypto');
  const root = Metadata.fromBytes(rootBytes, 'root');
  const rootKeyids = root.signed.roles.get('root')?.keyids ?? [];
  const rootKeys = rootKeyids.map((id) => root.signed.keys.get(id));
  expect(rootKeys.map((k) => k?.scheme).sort()).toEqual([...SCHEMES].sort());
  await root.verifyDelegate('root', root);
  for (const [i, key] of rootKeys.entries()) {
    const sig = root.signatures.get(rootKeyids[i] ?? '')?.sig ?? '';
    expect(await key?.verify(root.signedBytes(), sig), key?.scheme).toBe(true);
  }
  // tuf-js, key by key (it verifies P-384 with SHA-256, so it cannot check that one).
  const theirs = TufMetadata.fromJSON(
    MetadataKind.Root,
    JSON.parse(Buffer.from(rootBytes).toString('utf8')) as JSONObject,
  );
  let checkedByTufJs = 0;
  for (const keyid of rootKeyids) {
    const key = theirs.signed.keys[keyid];
    if (key === undefined || key.scheme === 'ecdsa-sha2-nistp384') continue;
    expect(() => key.verifySignature(theirs), `tuf-js ${key.scheme}`).not.toThrow();
    checkedByTufJs++;
  }
  expect(checkedByTufJs).toBe(3);
  // The whole repository through the client: timestamp (the runtime's own P-256 CryptoKey),
  // snapshot (P-384), targets (RSA).
  const { updater } = await client(storage, { now: SIGNING_NOW });
  await updater.refresh();
  const info = await updater.getTargetInfo('runtime/app');
  expect(info?.target.length).toBe(out.content?.length);
}
