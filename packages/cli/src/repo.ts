/**
 * Opening a GUN's repository where its configuration says it is published, with the signers
 * the configuration names. Three kinds of place, one interface for the commands (`Publication`):
 *
 * - a directory: `FsRepositoryStorage`, published by core (`Repository.publish`);
 * - a registry (`oci://…`): `OciRepositoryStorage` (docs/tuf-in-oci.md), published by core too,
 *   under the registry lease, with the registry credentials `--server oci://` reads with;
 * - a trust server (`https://…`): read over HTTP, and published by uploading the changed roles
 *   (root, targets, delegated roles), which the server verifies before it signs snapshot and
 *   timestamp with its own keys (docs/server.md). `TUFA_AUTH_TOKEN`, as for reads.
 */
import {
  DEFAULT_TRANSACTION_ATTEMPTS,
  FetchError,
  PublishLockedError,
  type PublishResult,
  Repository,
  type RepositoryEdit,
  type RepositoryOptions,
  type RepositoryStorage,
  type Signer,
  StaleVersionError,
  type TransactionResult,
  withRepository,
} from '@tufa/core';
import { describeHolder, FsRepositoryStorage, type SecretCallback } from '@tufa/core/node';
import { CliError, usage } from './cli-error.js';
import { EXIT } from './exit-codes.js';
import { publishedDir, type RepoConfig, readRepoConfig } from './home.js';
import { loadSigner } from './keys.js';
import { type Location, locationId } from './locations.js';
import { pinnedPublisherRoot, pinRootOf } from './publisher-root.js';
import { checkTokenRealmHosts, type RegistryFlags, readCaFile, registryClientOptions } from './registry.js';
import { signerRefFor } from './repo-config.js';
import { forRole } from './secrets.js';
import { serverToken } from './server-token.js';

export interface OpenOptions {
  /** Roles whose configured keys to load: 'targets', 'snapshot', 'timestamp' or a delegated role. */
  roles: string[];
  /** Extra key references (e.g. --root-key). */
  extraKeys?: string[];
  secrets: SecretCallback;
  /** `--ca`, `--insecure-registry`, `--token-realm-host` of this command line (registry.ts). */
  connection?: RegistryFlags;
  /** Read what is published without verifying it, to report on it; nothing can be signed (ADR 0032). */
  inspectOnly?: boolean;
}

export async function loadSigners(config: RepoConfig, options: OpenOptions): Promise<Signer[]> {
  // Each key once, unlocked with the passphrase variable of the first role it is loaded for.
  // A role without a configured key (snapshot and timestamp on a trust server) loads none.
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

/** A GUN where it is published: how a `Repository` is opened there, and how it is published. */
export interface Publication {
  readonly gun: string;
  readonly location: Location;
  /** Where the repository is read (and, except on a trust server, written). */
  readonly storage: RepositoryStorage;
  /** Whether this place signs snapshot and timestamp itself (a trust server does). */
  readonly signsOnline: boolean;
  /** Publishes what `repo`, opened on `storage`, has staged. */
  publish(repo: Repository): Promise<PublishResult>;
  /** Open → edit → publish, the edit re-applied when another publisher got there first. */
  transaction<T>(options: RepositoryOptions, edit: RepositoryEdit<T>): Promise<TransactionResult<T>>;
}

/** Core publishes: a directory or a registry. */
class StoragePublication implements Publication {
  readonly signsOnline = false;
  constructor(
    readonly gun: string,
    readonly location: Location,
    readonly storage: RepositoryStorage,
  ) {}
  publish(repo: Repository): Promise<PublishResult> {
    return repo.publish();
  }
  transaction<T>(options: RepositoryOptions, edit: RepositoryEdit<T>): Promise<TransactionResult<T>> {
    return withRepository(this.storage, options, edit);
  }
}

type ServerClientType = import('@tufa/server').ServerClient;

/** A trust server: the changed roles are uploaded; the server signs snapshot and timestamp. */
class ServerPublication implements Publication {
  readonly signsOnline = true;
  constructor(
    readonly gun: string,
    readonly location: Location & { kind: 'http' },
    readonly storage: RepositoryStorage,
    readonly client: ServerClientType,
  ) {}

  async publish(repo: Repository): Promise<PublishResult> {
    const versions = await serverCall(this.location, this.gun, () =>
      this.client.uploadChanges(this.gun, repo),
    );
    return {
      // What the server now serves, as repository paths (it wrote them, after verifying).
      written: versions.map(({ role, version }) =>
        role === 'timestamp' ? 'metadata/timestamp.json' : `metadata/${version}.${role}.json`,
      ),
      versions: new Map(versions.map(({ role, version }) => [role, version])),
    };
  }

  async transaction<T>(options: RepositoryOptions, edit: RepositoryEdit<T>): Promise<TransactionResult<T>> {
    const opened: RepositoryOptions = { ...options, signers: [...(options.signers ?? [])] };
    for (let attempt = 1; ; attempt++) {
      const repo = await serverCall(this.location, this.gun, () => Repository.open(this.storage, opened));
      const result = await edit(repo, attempt);
      try {
        return { ...(await this.publish(repo)), result, attempts: attempt };
      } catch (e) {
        // The server answered with the version now current: the edit is applied to that.
        if (!(e instanceof StaleVersionError) || attempt >= DEFAULT_TRANSACTION_ATTEMPTS) throw e;
      }
    }
  }
}

/**
 * A trust server's refusal of the token (401, 403) is about the credential, not the network:
 * exit 6 (KEY) with the way to give one, never the token itself.
 */
export async function serverCall<T>(location: Location, gun: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (location.kind === 'http' && e instanceof FetchError && (e.status === 401 || e.status === 403)) {
      throw new CliError(
        `${locationId(location)} refused ${process.env.TUFA_AUTH_TOKEN ? 'the token in TUFA_AUTH_TOKEN' : 'the request without a token'} for ${gun}: ${e.message}`,
        EXIT.KEY,
        `set TUFA_AUTH_TOKEN to a token with push access to ${gun} on that server (or, where it uses the registry's token service, registry credentials with push access: TUFA_REGISTRY_USERNAME/TUFA_REGISTRY_PASSWORD or docker login)`,
        // The same code as a registry's or token service's refusal (cli-error.ts).
        'UNAUTHORIZED',
      );
    }
    throw e;
  }
}

/**
 * The GUN `gun` at `location`: the storage to open and publish it with. A registry gets the
 * credentials `--server oci://` reads with (TUFA_REGISTRY_*, the Docker config and its credential
 * helpers, auth.json), asking for push as well as pull; a trust server gets TUFA_AUTH_TOKEN.
 * `connection` is what the read side takes too (`--ca`, `--insecure-registry`,
 * `--token-realm-host`, with `tokenRealmHosts` of `$TUFA_HOME/config.json`), with the same meaning.
 */
export async function publicationAt(
  gun: string,
  location: Location,
  connection: RegistryFlags = {},
): Promise<Publication> {
  if (location.kind === 'dir') {
    return new StoragePublication(gun, location, publishStorage(publishedDir(location.dir, gun), gun));
  }
  if (location.kind === 'oci') {
    const { OciRepositoryStorage } = await import('@tufa/oci');
    const { actions: _actions, ...clientOptions } = await registryClientOptions(connection, ['pull', 'push']);
    return new StoragePublication(
      gun,
      location,
      new OciRepositoryStorage(location.location, { clientOptions }),
    );
  }
  const { ServerClient, ServerRepositoryStorage } = await import('@tufa/server');
  const { HttpFetcher } = await import('@tufa/core/node');
  const ca = connection.ca ? await readCaFile(connection.ca) : undefined;
  const transport = ca ? { ca } : {};
  const realmHosts = checkTokenRealmHosts(connection.tokenRealmHost);
  const token = await serverToken(location.url, gun, 'pull,push', transport, realmHosts);
  const client = new ServerClient({
    url: location.url,
    fetcher: new HttpFetcher(transport),
    ...(token ? { token } : {}),
  });
  return new ServerPublication(gun, location, new ServerRepositoryStorage(client, gun), client);
}

/**
 * The connection flags for `config`'s GUN: this command line's, and the CA file its
 * configuration remembers unless `--ca` names another for this run.
 */
export function connectionFor(config: RepoConfig, flags: RegistryFlags = {}): RegistryFlags {
  const ca = flags.ca ?? config.ca;
  return { ...flags, ...(ca !== undefined ? { ca } : {}) };
}

/** Where the GUN's repository is, for messages: its directory, or the location as given. */
export function whereOf(p: Publication): string {
  return p.location.kind === 'dir' ? publishedDir(p.location.dir, p.gun) : locationId(p.location);
}

/** Where `config`'s GUN is published, reached with `flags` and the CA file it remembers. */
export function publicationFor(config: RepoConfig, flags: RegistryFlags = {}): Promise<Publication> {
  return publicationAt(config.gun, config.publishTo, connectionFor(config, flags));
}

/** The storage of `config`'s GUN where it is published (reads; writes too, except on a trust server). */
export async function storageFor(config: RepoConfig, flags: RegistryFlags = {}): Promise<RepositoryStorage> {
  return (await publicationFor(config, flags)).storage;
}

/** The trust server client of a publication on one (for creating a GUN there). */
export function serverClientOf(p: Publication): ServerClientType | undefined {
  return p instanceof ServerPublication ? p.client : undefined;
}

/**
 * Refuses a command that has no meaning where the GUN is published (e.g. `tufa timestamp` on a
 * trust server, which re-signs it on its own schedule): a usage error saying why.
 */
export function refuseAt(config: RepoConfig, kinds: Location['kind'][], why: string, hint?: string): void {
  if (kinds.includes(config.publishTo.kind)) {
    throw usage(`${config.gun} is published at ${locationId(config.publishTo)}: ${why}`, hint);
  }
}

export async function openRepository(
  gun: string,
  options: OpenOptions,
): Promise<{ repo: Repository; config: RepoConfig; publication: Publication }> {
  const config = await readRepoConfig(gun);
  const signers = await loadSigners(config, options);
  const publication = await publicationFor(config, options.connection);
  if (options.inspectOnly) {
    const repo = await serverCall(config.publishTo, gun, () =>
      Repository.open(publication.storage, { signers, inspectOnly: true }),
    );
    return { repo, config, publication };
  }
  const trustedRoot = await pinnedPublisherRoot(gun);
  const repo = await serverCall(config.publishTo, gun, () =>
    Repository.open(publication.storage, { signers, ...(trustedRoot ? { trustedRoot } : {}) }),
  );
  await pinRootOf(gun, repo);
  return { repo, config, publication };
}

/**
 * Runs an edit-and-publish transaction on a GUN's repository with the signers its configuration
 * names: opens, edits, publishes, and re-applies the edit when another publisher got there
 * first, so no tag is lost (core's `withRepository`, or the same loop against a trust server).
 */
export async function transaction<T>(
  gun: string,
  options: OpenOptions,
  edit: (repo: Repository, config: RepoConfig) => Promise<T>,
): Promise<TransactionResult<T>> {
  const config = await readRepoConfig(gun);
  const signers = await loadSigners(config, options);
  const publication = await publicationFor(config, options.connection);
  const trustedRoot = await pinnedPublisherRoot(gun);
  let opened: Repository | undefined;
  const result = await publication.transaction(
    { signers, ...(trustedRoot ? { trustedRoot } : {}) },
    (repo) => {
      opened = repo;
      return edit(repo, config);
    },
  );
  // The root the publish verified (or published) becomes the pin (publisher-root.ts).
  if (opened) await pinRootOf(gun, opened);
  return result;
}
