/**
 * Shared set-up for the TUF-in-OCI tests: fixed Ed25519 keys, a fixed clock, and the storage,
 * fetcher and Updater pointed at a test registry.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ExpiryPolicy,
  MemoryMetadataStore,
  type MetadataStore,
  Repository,
  TargetFile,
  Updater,
} from '@tufa/core';
import { RegistryClient } from '../../src/client.js';
import { OciFetcher } from '../../src/tuf/fetcher.js';
import { OciRepositoryStorage, type OciRepositoryStorageOptions } from '../../src/tuf/storage.js';
import { fixedSigner, topLevelKeys } from './keys.js';
import type { User } from './registry.js';

export const keys = {
  root: fixedSigner(41),
  root2: fixedSigner(42),
  targets: fixedSigner(43),
  snapshot: fixedSigner(44),
  timestamp: fixedSigner(45),
  team: fixedSigner(46),
};
export const allSigners = Object.values(keys);

/** tuf-js reads the system clock: everything is valid for 30 years from NOW. */
const YEARS_30 = 30 * 365 * 86_400;
export const expiry: ExpiryPolicy = {
  root: YEARS_30,
  targets: YEARS_30,
  snapshot: YEARS_30,
  timestamp: YEARS_30,
  delegated: YEARS_30,
};
export const NOW = new Date('2026-12-01T00:00:00Z');
export const now = () => NOW;

/** A client environment with only these credentials (no Docker config of the machine). */
export function clientOptions(user: User | undefined) {
  return {
    env: user ? { TUFA_REGISTRY_USERNAME: user.username, TUFA_REGISTRY_PASSWORD: user.password } : {},
    homeDir: mkdtempSync(join(tmpdir(), 'tufa-oci-home-')),
    retries: 3,
    retryDelayMs: 50,
  };
}

export function storageFor(
  host: string,
  repository: string,
  user: User | undefined,
  options: OciRepositoryStorageOptions = {},
): OciRepositoryStorage {
  return new OciRepositoryStorage(`${host}/${repository}`, {
    clientOptions: clientOptions(user),
    settleMs: 20,
    leaseTtlMs: 60_000,
    ...options,
  });
}

/** An image-digest target, as `tufa sign` records one. */
export function image(tag: string, n: number): TargetFile {
  const hex = n.toString(16).padStart(64, '0');
  return new TargetFile(tag, 500 + n, new Map([['sha256', hex]]));
}

export async function initRepository(storage: OciRepositoryStorage): Promise<void> {
  const repo = await Repository.create(storage, {
    keys: topLevelKeys(keys),
    signers: allSigners,
    expiry,
    now,
  });
  await repo.addTargets([image('app:1.0', 1)]);
  await repo.publish();
}

export async function trustedRoot(storage: OciRepositoryStorage): Promise<Uint8Array> {
  const b = await storage.read('metadata/1.root.json');
  if (!b) throw new Error('no 1.root.json');
  return b;
}

export interface Client {
  updater: Updater;
  store: MetadataStore;
  fetcher: OciFetcher;
}

/** An Updater reading the registry through an OciFetcher, trusting `root`. */
export async function clientFor(
  host: string,
  repository: string,
  user: User | undefined,
  root: Uint8Array,
  store: MetadataStore = new MemoryMetadataStore(),
): Promise<Client> {
  if ((await store.read('root')) === undefined) await store.write('root', root);
  const fetcher = new OciFetcher(`${host}/${repository}`, {
    client: new RegistryClient(clientOptions(user)),
    store,
  });
  const updater = new Updater({ metadataBaseUrl: fetcher.metadataBaseUrl, fetcher, store, now });
  return { updater, store, fetcher };
}
