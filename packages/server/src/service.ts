/**
 * What the server does, without HTTP: create a GUN's online keys, take an upload, refresh
 * timestamps. Every upload goes through the core's `Repository` (ADR 0021): metadata signed by
 * the publisher is staged as untrusted (`stageSignedMetadata`), snapshot and timestamp are
 * signed with the GUN's online keys, and the publish self-check verifies the new state with the
 * client's trusted set before a byte is written, `timestamp.json` last.
 */
import {
  ConflictError,
  DEFAULT_EXPIRY,
  type ExpiryPolicy,
  FormatError,
  Metadata,
  NotFoundError,
  type PublishResult,
  Repository,
  type RepositoryOptions,
  type RepositoryStorage,
  type Root,
  StaleVersionError,
  ValueError,
} from '@tufa/core';
import { checkGun } from './gun.js';
import type { HeldKey, OnlineKeys, OnlinePublicKeys, OnlineRole } from './online-keys.js';
import type { ChangeRecord, ServerStore } from './store.js';

/** One file of an upload: the role it is a new version of, and the file's bytes. */
export interface UploadedRole {
  role: string;
  bytes: Uint8Array;
}

/** The new version of each role an upload or a refresh wrote. */
export type RoleVersions = { role: string; version: number }[];

/** Attempts of an upload that met a concurrent writer (not a stale version). */
const UPLOAD_ATTEMPTS = 3;

/** The most roles one upload may carry. */
export const MAX_UPLOAD_ROLES = 1024;

/** GUNs whose published state is kept between uploads by default (see `repositoryCacheSize`). */
export const DEFAULT_REPOSITORY_CACHE_SIZE = 256;

/**
 * The bytes of published metadata the kept repositories hold together by default (see
 * `repositoryCacheBytes`); each also holds them parsed, a few times larger.
 */
export const DEFAULT_REPOSITORY_CACHE_BYTES = 64 * 1024 * 1024;

export interface TrustServiceOptions {
  store: ServerStore;
  keys: OnlineKeys;
  /** The clock (expiry of what the server signs, and of what it verifies). */
  now?: () => Date;
  /** How long the snapshot and timestamp the server signs are valid (seconds). */
  expiry?: Partial<Pick<ExpiryPolicy, 'snapshot' | 'timestamp'>>;
  /** Told about a GUN whose refresh failed (the refresher goes on with the others). */
  onRefreshError?: (gun: string, error: unknown) => void;
  /** Told when the online keys a new root replaced could not be destroyed after its upload. */
  onRetireError?: (gun: string, error: unknown) => void;
  /**
   * How many GUNs' published state (parsed and verified root, timestamp, snapshot, targets) is
   * kept between uploads (default 256; 0: every upload reads and checks it again). ADR 0027.
   */
  repositoryCacheSize?: number;
  /**
   * The bound on the bytes of published metadata the kept repositories hold together (default
   * 64 MiB; `Repository.heldBytes`): a GUN's repository grows with every targets role its
   * uploads touch, so a count alone would let a few large GUNs pin any amount of memory. One
   * holding more than a quarter of the bound is not kept.
   */
  repositoryCacheBytes?: number;
}

/** A GUN's repository as its last publish here left it, and what it was opened with. */
interface CachedRepository {
  repo: Repository;
  /** The bytes of `timestamp.json` that publish wrote: the state the repository holds. */
  timestamp: Uint8Array;
  /** The online keys it signs with (their keyids): another set means another repository. */
  signers: string;
  /** `repo.heldBytes` when it was kept. */
  bytes: number;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function signersId(options: RepositoryOptions): string {
  return [...(options.signers ?? [])]
    .map((s) => s.key.keyid())
    .sort()
    .join(',');
}

const TIMESTAMP_PATH = 'metadata/timestamp.json';

function versionsOf(r: PublishResult): RoleVersions {
  return [...r.versions].map(([role, version]) => ({ role, version }));
}

/** The trust server's operations on its store. */
export class TrustService {
  readonly store: ServerStore;
  private readonly keys: OnlineKeys;
  private readonly now: () => Date;
  private readonly expiry: Partial<ExpiryPolicy>;
  private readonly onRefreshError: ((gun: string, error: unknown) => void) | undefined;
  private readonly onRetireError: ((gun: string, error: unknown) => void) | undefined;
  /**
   * Published repositories by GUN, least recently used first. An upload takes its GUN's entry
   * out while it works on it (two uploads of a GUN on a PostgreSQL replica are not queued in the
   * process) and puts it back only after a successful publish.
   */
  private readonly repositories = new Map<string, CachedRepository>();
  private readonly repositoryCacheSize: number;
  private readonly repositoryCacheBytes: number;
  /** The sum of `bytes` of the kept repositories. */
  private keptBytes = 0;

  constructor(options: TrustServiceOptions) {
    this.store = options.store;
    this.keys = options.keys;
    this.now = options.now ?? (() => new Date());
    this.expiry = { ...options.expiry };
    this.onRefreshError = options.onRefreshError;
    this.onRetireError = options.onRetireError;
    this.repositoryCacheSize = options.repositoryCacheSize ?? DEFAULT_REPOSITORY_CACHE_SIZE;
    this.repositoryCacheBytes = options.repositoryCacheBytes ?? DEFAULT_REPOSITORY_CACHE_BYTES;
  }

  /**
   * The GUN's published repository: the one its last publish here left, when the store still
   * holds exactly the timestamp that publish wrote and the online keys are the same; else opened
   * from the store (read, parsed, root chain walked). Either way `publish` checks again, under
   * the store's lock (in the publish transaction on PostgreSQL), that `timestamp.json` is still
   * the one the repository was opened at, and refuses with a ConflictError otherwise: a stale
   * repository is never published from, only costs a retry.
   */
  private async published(
    gun: string,
    storage: RepositoryStorage,
    options: RepositoryOptions,
    timestamp: Uint8Array,
  ): Promise<Repository> {
    const cached = this.repositories.get(gun);
    this.forget(gun);
    if (cached && sameBytes(cached.timestamp, timestamp) && cached.signers === signersId(options)) {
      return cached.repo;
    }
    return Repository.open(storage, options);
  }

  /** Keeps a repository that has just published (nothing staged) for the GUN's next upload. */
  private keep(gun: string, repo: Repository, options: RepositoryOptions): void {
    const ts = repo.timestampMetadata;
    this.forget(gun);
    if (this.repositoryCacheSize === 0 || !ts || repo.hasChanges) return;
    const bytes = repo.heldBytes;
    // One large repository must neither push every other out nor stay in memory by itself.
    if (bytes > this.repositoryCacheBytes / 4) return;
    while (
      this.repositories.size > 0 &&
      (this.repositories.size >= this.repositoryCacheSize ||
        this.keptBytes + bytes > this.repositoryCacheBytes)
    ) {
      this.forget(this.repositories.keys().next().value as string);
    }
    // The publish wrote `ts.toBytes()` (the core writes timestamp.json in its default layout).
    this.repositories.set(gun, { repo, timestamp: ts.toBytes(), signers: signersId(options), bytes });
    this.keptBytes += bytes;
  }

  /** Forgets the GUN's kept repository (taken for an upload, or a key it signs with went away). */
  private forget(gun: string): void {
    const kept = this.repositories.get(gun);
    if (!kept) return;
    this.repositories.delete(gun);
    this.keptBytes -= kept.bytes;
  }

  private async repositoryOptions(gun: string): Promise<RepositoryOptions> {
    return {
      signers: await this.keys.signers(gun),
      now: this.now,
      expiry: this.expiry,
    };
  }

  /**
   * The GUN's online public keys; with `create`, generated first when it has none.
   * @throws {NotFoundError} the GUN has no keys and `create` is not set.
   */
  async onlineKeys(gun: string, create: boolean): Promise<OnlinePublicKeys> {
    checkGun(gun);
    const keys = create
      ? await this.store.withGun(gun, () => this.keys.create(gun))
      : await this.keys.publicKeys(gun);
    if (!keys) throw new NotFoundError(`${gun} has no online keys yet (create them with POST …/${gun}/keys)`);
    return keys;
  }

  /**
   * Generates the next key of an online role beside the current one (docs/server.md "Rotating
   * online keys"). It signs nothing until a root naming it is uploaded; then the older key that
   * root no longer names is destroyed.
   * @throws {NotFoundError} the GUN has no online keys yet.
   */
  async rotateOnlineKey(gun: string, role: OnlineRole): Promise<HeldKey> {
    checkGun(gun);
    return this.store.withGun(gun, async () => {
      if (!(await this.keys.publicKeys(gun))) {
        throw new NotFoundError(`${gun} has no online keys yet (create them with POST …/${gun}/keys)`);
      }
      return this.keys.rotate(gun, role);
    });
  }

  /**
   * Verifies and publishes an upload, all or nothing: new versions of root, targets and
   * delegated roles, signed by the publisher; snapshot and timestamp are signed here.
   * @throws {UnsafeNameError} a GUN or role name that cannot be stored.
   * @throws {FormatError} an empty upload, a role twice, or bytes that are not metadata of the
   *   role's type.
   * @throws {NotFoundError} the GUN has no online keys, or no repository and the upload has no root.
   * @throws {StaleVersionError} a role's version is not above the current one.
   * @throws {TufError} whatever a client would refuse (THRESHOLD, EXPIRED, VERSION_MISMATCH, …).
   */
  async upload(
    gun: string,
    roles: readonly UploadedRole[],
  ): Promise<{ versions: RoleVersions; change: ChangeRecord }> {
    checkGun(gun);
    if (roles.length === 0) throw new FormatError('an upload needs at least one role', 'roles');
    if (roles.length > MAX_UPLOAD_ROLES) {
      throw new FormatError(`at most ${MAX_UPLOAD_ROLES} roles per upload, found ${roles.length}`, 'roles');
    }
    // Parsed before the GUN is locked: strict parsing is the expensive, stateless part.
    const parsed = new Map<string, Metadata>();
    roles.forEach(({ role, bytes }, i) => {
      if (parsed.has(role))
        throw new FormatError(`the role ${JSON.stringify(role)} appears twice`, `roles[${i}]`);
      try {
        parsed.set(role, Metadata.fromBytes(bytes, role === 'root' ? 'root' : 'targets'));
      } catch (e) {
        if (e instanceof FormatError) throw new FormatError(`${role}: ${e.message}`, `roles[${i}].metadata`);
        throw e;
      }
    });
    return this.store.withGun(gun, async () => {
      const storage = this.store.storage(gun);
      const options = await this.repositoryOptions(gun);
      if ((options.signers as unknown[]).length === 0) {
        throw new NotFoundError(`${gun} has no online keys yet (create them with POST …/${gun}/keys first)`);
      }
      for (let attempt = 1; ; attempt++) {
        let repo: Repository;
        const root = parsed.get('root');
        const timestamp = await storage.read(TIMESTAMP_PATH);
        if (timestamp) {
          repo = await this.published(gun, storage, options, timestamp);
          if (root) repo.stageSignedMetadata('root', root);
        } else {
          if (!root)
            throw new NotFoundError(
              `${gun} has no repository yet: the first upload must carry root version 1`,
            );
          if (!parsed.has('targets'))
            throw new ValueError(`the first upload of ${gun} must carry targets version 1 too`);
          repo = await Repository.createFromSignedRoot(storage, root as Metadata<Root>, options);
        }
        for (const [role, md] of parsed) if (role !== 'root') repo.stageSignedMetadata(role, md);
        let published: PublishResult;
        let change: ChangeRecord | undefined;
        try {
          // The change is recorded under the publish's lock: on PostgreSQL in its transaction,
          // so the files and their change feed entry commit together, or neither does.
          published = await repo.publish({
            beforeRelease: async (r, held) => {
              change = await this.store.recordChange(
                { gun, time: this.now().toISOString(), kind: 'upload', versions: versionsOf(r) },
                held,
              );
            },
          });
        } catch (e) {
          // Another writer of the store (a replica, a refresh, a CLI on the directory) published
          // between open and publish: try once more on the new state, where a stale upload is
          // then told apart (StaleVersionError) from a mere race.
          if (!(e instanceof ConflictError) || e instanceof StaleVersionError || attempt >= UPLOAD_ATTEMPTS)
            throw e;
          continue;
        }
        const versions = versionsOf(published);
        this.keep(gun, repo, options);
        // The upload is committed: a key that cannot be destroyed now is reported, not turned
        // into a failed upload (the next root upload retires it). The kept repository holds the
        // signers of the keys destroyed: it goes too.
        if (root) {
          this.forget(gun);
          await this.retireOnlineKeys(gun, root as Metadata<Root>).catch((e) => this.onRetireError?.(gun, e));
        }
        return { versions, change: change as ChangeRecord };
      }
    });
  }

  /**
   * After a new root is published, the online keys it replaced are destroyed: a rotated-out key
   * (perhaps rotated because it leaked) must not stay where it could be used or stolen.
   */
  private async retireOnlineKeys(gun: string, root: Metadata<Root>): Promise<void> {
    const keyids = (role: OnlineRole) => root.signed.roles.get(role)?.keyids ?? [];
    await this.keys.retire(gun, { snapshot: keyids('snapshot'), timestamp: keyids('timestamp') });
  }

  /**
   * Re-signs the GUN's timestamp when less than half of its validity is left (and snapshot
   * when it would expire first); returns what was written (nothing when not due).
   */
  async refresh(gun: string): Promise<RoleVersions> {
    return this.store.withGun(gun, async () => {
      const storage = this.store.storage(gun);
      const timestamp = await storage.read(TIMESTAMP_PATH);
      if (!timestamp) return [];
      const options = await this.repositoryOptions(gun);
      const repo = await this.published(gun, storage, options, timestamp);
      const ts = repo.timestampMetadata;
      const lifetime = (this.expiry.timestamp ?? DEFAULT_EXPIRY.timestamp) * 1000;
      if (ts && ts.signed.expires.getTime() - this.now().getTime() > lifetime / 2) {
        this.keep(gun, repo, options);
        return [];
      }
      const versions = versionsOf(
        await repo.refreshTimestamp({
          beforeRelease: async (r, held) => {
            await this.store.recordChange(
              { gun, time: this.now().toISOString(), kind: 'refresh', versions: versionsOf(r) },
              held,
            );
          },
        }),
      );
      this.keep(gun, repo, options);
      return versions;
    });
  }

  /** Refreshes every GUN that is due; a GUN that fails is reported and skipped. */
  async refreshAll(): Promise<{ refreshed: number; failed: number }> {
    let refreshed = 0;
    let failed = 0;
    // With several replicas on one database, one of them refreshes at a time.
    await this.store.asRefresher(async () => {
      for (const gun of await this.store.listGuns()) {
        try {
          if ((await this.refresh(gun)).length > 0) refreshed++;
        } catch (e) {
          failed++;
          this.onRefreshError?.(gun, e);
        }
      }
    });
    return { refreshed, failed };
  }
}
