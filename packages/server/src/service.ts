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

  constructor(options: TrustServiceOptions) {
    this.store = options.store;
    this.keys = options.keys;
    this.now = options.now ?? (() => new Date());
    this.expiry = { ...options.expiry };
    this.onRefreshError = options.onRefreshError;
    this.onRetireError = options.onRetireError;
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
        if (await storage.read(TIMESTAMP_PATH)) {
          repo = await Repository.open(storage, options);
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
        try {
          published = await repo.publish();
        } catch (e) {
          // Another writer of the store (a replica, a refresh, a CLI on the directory) published
          // between open and publish: try once more on the new state, where a stale upload is
          // then told apart (StaleVersionError) from a mere race.
          if (!(e instanceof ConflictError) || e instanceof StaleVersionError || attempt >= UPLOAD_ATTEMPTS)
            throw e;
          continue;
        }
        const versions = versionsOf(published);
        // The upload is committed: a key that cannot be destroyed now is reported, not turned
        // into a failed upload (the next root upload retires it).
        if (root)
          await this.retireOnlineKeys(gun, root as Metadata<Root>).catch((e) => this.onRetireError?.(gun, e));
        const change = await this.store.recordChange({
          gun,
          time: this.now().toISOString(),
          kind: 'upload',
          versions,
        });
        return { versions, change };
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
      if (!(await storage.read(TIMESTAMP_PATH))) return [];
      const repo = await Repository.open(storage, await this.repositoryOptions(gun));
      const ts = repo.timestampMetadata;
      const lifetime = (this.expiry.timestamp ?? DEFAULT_EXPIRY.timestamp) * 1000;
      if (ts && ts.signed.expires.getTime() - this.now().getTime() > lifetime / 2) return [];
      const versions = versionsOf(await repo.refreshTimestamp());
      if (versions.length > 0) {
        await this.store.recordChange({ gun, time: this.now().toISOString(), kind: 'refresh', versions });
      }
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
