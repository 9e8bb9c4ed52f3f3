/** Opening a GUN's repository with the signers its configuration names. */
import {
  PublishLockedError,
  Repository,
  type Signer,
  type TransactionResult,
  withRepository,
} from '@tufa/core';
import { describeHolder, FsRepositoryStorage, type SecretCallback } from '@tufa/core/node';
import { publishedDir, type RepoConfig, readRepoConfig } from './home.js';
import { loadSigner } from './keys.js';
import { signerRefFor } from './repo-config.js';
import { forRole } from './secrets.js';

export interface OpenOptions {
  /** Roles whose configured keys to load: 'targets', 'snapshot', 'timestamp' or a delegated role. */
  roles: string[];
  /** Extra key references (e.g. --root-key). */
  extraKeys?: string[];
  secrets: SecretCallback;
}

export async function loadSigners(config: RepoConfig, options: OpenOptions): Promise<Signer[]> {
  // Each key once, unlocked with the passphrase variable of the first role it is loaded for.
  const refs = new Map<string, SecretCallback>();
  for (const role of options.roles) {
    const ref = signerRefFor(config, role);
    if (ref && !refs.has(ref)) refs.set(ref, forRole(options.secrets, config.gun, role));
  }
  for (const r of options.extraKeys ?? []) if (!refs.has(r)) refs.set(r, options.secrets);
  const signers: Signer[] = [];
  for (const [ref, secrets] of refs) signers.push(await loadSigner(ref, secrets));
  return signers;
}

/**
 * A GUN's published directory. Taking over the lock of a publisher that is gone is said on
 * stderr, naming it; a lock whose holder cannot be checked from here gets the hint to remove it.
 */
class GunStorage extends FsRepositoryStorage {
  constructor(
    dir: string,
    private readonly gun: string,
  ) {
    super(dir, {
      onLockTakeover: (previous) =>
        process.stderr.write(
          `Warning: took over the publish lock ${previous.path} of ${describeHolder(previous.holder)}: ${previous.reason}\n`,
        ),
    });
  }

  override async lock(): Promise<() => Promise<void>> {
    try {
      return await super.lock();
    } catch (e) {
      if (e instanceof PublishLockedError && e.holderState === 'unknown') {
        Object.assign(e, { hint: `tufa unlock ${this.gun}` });
      }
      throw e;
    }
  }
}

/** The storage of a GUN published in `dir`. */
export function publishStorage(dir: string, gun: string): FsRepositoryStorage {
  return new GunStorage(dir, gun);
}

export function storageFor(config: RepoConfig): FsRepositoryStorage {
  return publishStorage(publishedDir(config.publishRoot, config.gun), config.gun);
}

export async function openRepository(
  gun: string,
  options: OpenOptions,
): Promise<{ repo: Repository; config: RepoConfig }> {
  const config = await readRepoConfig(gun);
  const signers = await loadSigners(config, options);
  const repo = await Repository.open(storageFor(config), { signers });
  return { repo, config };
}

/**
 * Runs an edit-and-publish transaction on a GUN's repository with the signers its configuration
 * names: core's `withRepository` opens, edits, publishes, and re-applies the edit when another
 * publisher got there first, so no tag is lost.
 */
export async function transaction<T>(
  gun: string,
  options: OpenOptions,
  edit: (repo: Repository, config: RepoConfig) => Promise<T>,
): Promise<TransactionResult<T>> {
  const config = await readRepoConfig(gun);
  const signers = await loadSigners(config, options);
  return withRepository(storageFor(config), { signers }, (repo) => edit(repo, config));
}
