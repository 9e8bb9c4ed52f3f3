/**
 * The trusted metadata set: the client workflow of the TUF specification (section 5) as a pure
 * state machine. Bytes go in; verified metadata comes out or a typed error is thrown and the
 * trusted state of that role is unchanged. No I/O and no clock: the reference time is fixed
 * when the set is created (spec 5.1).
 *
 * Like python-tuf, a timestamp or snapshot that verifies but is expired (or, for snapshot, of the
 * wrong version) is still kept in memory before the error is thrown: it then serves as the
 * rollback reference for a newer download, while the caller does not persist it.
 */
import {
  ExpiredError,
  NotFoundError,
  RollbackError,
  StateError,
  UsageError,
  VersionMismatchError,
} from '../errors.js';
import { metaFileName } from '../metadata/layout.js';
import { Metadata } from '../metadata/metadata.js';
import type { Root, Snapshot, Targets, Timestamp } from '../metadata/signed.js';

function describeRole(role: string, version: number): string {
  return `${role} version ${version}`;
}

/**
 * The trusted metadata of one update, as a pure state machine (spec 5.2–5.6): bytes in, verified
 * `Metadata` out, no I/O and no clock. The `Updater` drives it; a status tool may read it. Each
 * `update…` method either trusts the new role or throws and leaves that role's trusted state
 * unchanged.
 */
export class TrustedMetadataSet {
  /** The time every expiry is checked against, fixed when the set was created (spec 5.1). */
  readonly referenceTime: Date;
  private trustedRoot: Metadata<Root>;
  private trustedTimestamp: Metadata<Timestamp> | undefined;
  private trustedSnapshot: Metadata<Snapshot> | undefined;
  private trustedTargets: Metadata<Targets> | undefined;
  /** Delegated targets, keyed by the exact delegator metadata they were verified against. */
  private readonly delegated = new WeakMap<Metadata<Targets>, Map<string, Metadata<Targets>>>();
  /** Every targets metadata this set verified: only these may delegate. */
  private readonly verifiedTargets = new WeakSet<Metadata<Targets>>();

  private constructor(root: Metadata<Root>, referenceTime: Date) {
    this.trustedRoot = root;
    this.referenceTime = referenceTime;
  }

  /**
   * Spec 5.2: load the trusted root. It must parse strictly and be signed by a threshold of its
   * own root keys (a corrupt or unsigned local root fails before anything is fetched).
   * @throws {@link errors!UsageError | UsageError} `referenceTime` is not a valid date.
   * @throws {@link errors!FormatError | FormatError} the bytes are not valid root metadata.
   * @throws {@link errors!ThresholdError | ThresholdError} the root is not signed by a threshold of
   *   its own root keys.
   */
  static async create(rootBytes: Uint8Array, referenceTime: Date): Promise<TrustedMetadataSet> {
    if (Number.isNaN(referenceTime.getTime())) throw new UsageError('the reference time is not a valid date');
    const root = Metadata.fromBytes(rootBytes, 'root');
    await root.verifyDelegate('root', root);
    return new TrustedMetadataSet(root, referenceTime);
  }

  /** The trusted root: the local one, or the newest one `updateRoot` accepted. */
  get root(): Metadata<Root> {
    return this.trustedRoot;
  }
  /** The trusted timestamp, once `updateTimestamp` accepted one. */
  get timestamp(): Metadata<Timestamp> | undefined {
    return this.trustedTimestamp;
  }
  /** The trusted snapshot, once `updateSnapshot` accepted one. */
  get snapshot(): Metadata<Snapshot> | undefined {
    return this.trustedSnapshot;
  }
  /** The trusted top-level targets, once `updateTargets` accepted them. */
  get targets(): Metadata<Targets> | undefined {
    return this.trustedTargets;
  }

  /**
   * Spec 5.3.4–5.3.8: accept root N+1 when both root N and N+1 thresholds sign it.
   * @throws {@link errors!StateError | StateError} a timestamp is already trusted (root comes
   *   first).
   * @throws {@link errors!FormatError | FormatError} the bytes are not valid root metadata.
   * @throws {@link errors!ThresholdError | ThresholdError} not signed by a threshold of the trusted
   *   root's and its own root keys.
   * @throws {@link errors!RollbackError | RollbackError} a version below N+1.
   * @throws {@link errors!VersionMismatchError | VersionMismatchError} a version above N+1.
   */
  async updateRoot(bytes: Uint8Array): Promise<Metadata<Root>> {
    if (this.trustedTimestamp) throw new StateError('root cannot be updated after timestamp');
    const next = Metadata.fromBytes(bytes, 'root');
    // 5.3.4: signed by a threshold of the trusted root's root keys …
    await this.trustedRoot.verifyDelegate('root', next);
    // 5.3.5: … exactly the next version (this also catches a file whose name and version disagree).
    const expected = this.trustedRoot.signed.version + 1;
    if (next.signed.version !== expected) {
      const E = next.signed.version < expected ? RollbackError : VersionMismatchError;
      throw new E(`root: expected version ${expected}, found ${next.signed.version}`);
    }
    // 5.3.4: … and by a threshold of its own root keys.
    await next.verifyDelegate('root', next);
    this.trustedRoot = next;
    return next;
  }

  /**
   * Spec 5.3.10: the final root must not be expired.
   * @throws {@link errors!ExpiredError | ExpiredError} the trusted root expired at the reference
   *   time.
   */
  checkRootNotExpired(): void {
    const r = this.trustedRoot.signed;
    if (r.isExpired(this.referenceTime)) {
      throw new ExpiredError(
        `${describeRole('root', r.version)} expired at ${r.expires.toISOString()}`,
        'root',
      );
    }
  }

  /**
   * Spec 5.4. Returns false when `bytes` carry the version already trusted: the trusted
   * timestamp stays (and nothing should be persisted).
   * @throws {@link errors!StateError | StateError} a snapshot is already trusted.
   * @throws {@link errors!ExpiredError | ExpiredError} the trusted root, or the new timestamp,
   *   expired (spec 5.3.10, 5.4.4).
   * @throws {@link errors!FormatError | FormatError} the bytes are not valid timestamp metadata.
   * @throws {@link errors!ThresholdError | ThresholdError} not signed by a threshold of the root's
   *   timestamp keys (spec 5.4.2).
   * @throws {@link errors!RollbackError | RollbackError} its version, or the snapshot version it
   *   names, is below the trusted one (spec 5.4.3).
   */
  async updateTimestamp(bytes: Uint8Array): Promise<boolean> {
    if (this.trustedSnapshot) throw new StateError('timestamp cannot be updated after snapshot');
    this.checkRootNotExpired();
    const next = Metadata.fromBytes(bytes, 'timestamp');
    await this.trustedRoot.verifyDelegate('timestamp', next); // 5.4.2
    const old = this.trustedTimestamp;
    if (old) {
      // 5.4.3.1: no rollback of the timestamp itself.
      if (next.signed.version < old.signed.version) {
        throw new RollbackError(
          `timestamp: expected version >= ${old.signed.version}, found ${next.signed.version}`,
        );
      }
      if (next.signed.version === old.signed.version) return false;
      // 5.4.3.2: no rollback of the snapshot it names.
      const was = old.signed.snapshotMeta.version;
      const now = next.signed.snapshotMeta.version;
      if (now < was) {
        throw new RollbackError(
          `timestamp version ${next.signed.version}: names snapshot version ${now}, below the trusted ${was}`,
        );
      }
    }
    this.trustedTimestamp = next;
    this.checkTimestampNotExpired(); // 5.4.4, after keeping it as the rollback reference
    return true;
  }

  private checkTimestampNotExpired(): Metadata<Timestamp> {
    const ts = this.trustedTimestamp;
    if (!ts) throw new StateError('no trusted timestamp');
    if (ts.signed.isExpired(this.referenceTime)) {
      throw new ExpiredError(
        `${describeRole('timestamp', ts.signed.version)} expired at ${ts.signed.expires.toISOString()}`,
        'timestamp',
      );
    }
    return ts;
  }

  /**
   * Spec 5.5. `fromCache` is true for bytes read from the local store: those were verified when
   * stored and need not match the hashes the new timestamp lists (if they are stale, the version
   * check fails and the caller downloads the new snapshot).
   * @throws {@link errors!StateError | StateError} targets are already trusted, or no timestamp is.
   * @throws {@link errors!ExpiredError | ExpiredError} the trusted timestamp, or the new snapshot,
   *   expired (spec 5.5.6).
   * @throws {@link errors!LengthOrHashError | LengthOrHashError} the bytes do not match what the
   *   timestamp lists (spec 5.5.2).
   * @throws {@link errors!FormatError | FormatError} the bytes are not valid snapshot metadata.
   * @throws {@link errors!ThresholdError | ThresholdError} not signed by a threshold of the root's
   *   snapshot keys (spec 5.5.3).
   * @throws {@link errors!VersionMismatchError | VersionMismatchError} not the version the
   *   timestamp names (spec 5.5.4).
   * @throws {@link errors!RollbackError | RollbackError} a targets role disappeared or went back a
   *   version (spec 5.5.5).
   */
  async updateSnapshot(bytes: Uint8Array, fromCache = false): Promise<Metadata<Snapshot>> {
    if (this.trustedTargets) throw new StateError('snapshot cannot be updated after targets');
    const ts = this.checkTimestampNotExpired();
    const meta = ts.signed.snapshotMeta;
    if (!fromCache) await meta.verifyLengthAndHashes(bytes, 'snapshot'); // 5.5.2
    const next = Metadata.fromBytes(bytes, 'snapshot');
    await this.trustedRoot.verifyDelegate('snapshot', next); // 5.5.3
    // 5.5.5: no targets role may disappear or roll back.
    const old = this.trustedSnapshot;
    if (old) {
      for (const [name, was] of old.signed.meta) {
        const now = next.signed.meta.get(name);
        if (!now) {
          throw new RollbackError(`snapshot version ${next.signed.version}: ${name} is no longer listed`);
        }
        if (now.version < was.version) {
          throw new RollbackError(
            `snapshot version ${next.signed.version}: ${name} version ${now.version} is below the trusted ${was.version}`,
          );
        }
      }
    }
    this.trustedSnapshot = next;
    this.checkSnapshotFinal();
    return next;
  }

  /** Spec 5.5.4 and 5.5.6: the snapshot is the version the timestamp names, and not expired. */
  private checkSnapshotFinal(): Metadata<Snapshot> {
    const sn = this.trustedSnapshot;
    const ts = this.trustedTimestamp;
    if (!sn || !ts) throw new StateError('no trusted snapshot');
    const expected = ts.signed.snapshotMeta.version;
    if (sn.signed.version !== expected) {
      throw new VersionMismatchError(
        `snapshot: expected version ${expected} (from timestamp), found ${sn.signed.version}`,
      );
    }
    if (sn.signed.isExpired(this.referenceTime)) {
      throw new ExpiredError(
        `${describeRole('snapshot', sn.signed.version)} expired at ${sn.signed.expires.toISOString()}`,
        'snapshot',
      );
    }
    return sn;
  }

  /**
   * Spec 5.6 for the top-level targets role.
   * @throws {@link errors!StateError | StateError} no snapshot is trusted.
   * @throws {@link errors!NotFoundError | NotFoundError} the snapshot does not list `targets.json`.
   * @throws {@link errors!LengthOrHashError | LengthOrHashError} the bytes do not match what the
   *   snapshot lists (spec 5.6.2).
   * @throws {@link errors!FormatError | FormatError} the bytes are not valid targets metadata.
   * @throws {@link errors!ThresholdError | ThresholdError} not signed by a threshold of the root's
   *   targets keys (spec 5.6.3).
   * @throws {@link errors!VersionMismatchError | VersionMismatchError} not the version the snapshot
   *   names (spec 5.6.4).
   * @throws {@link errors!ExpiredError | ExpiredError} the snapshot or the new targets expired
   *   (spec 5.6.5).
   */
  async updateTargets(bytes: Uint8Array, fromCache = false): Promise<Metadata<Targets>> {
    const md = await this.verifyTargets(bytes, 'targets', this.trustedRoot, fromCache);
    this.trustedTargets = md;
    this.verifiedTargets.add(md);
    return md;
  }

  /**
   * Spec 5.6 for a delegated role, verified against `delegator`: the exact metadata object on the
   * current search path. The result is trusted only together with that delegator.
   * @throws {@link errors!StateError | StateError} top-level targets are not trusted, or
   *   `delegator` was not verified by this set.
   * @throws {@link errors!NotFoundError | NotFoundError} the snapshot does not list the role.
   * @throws {@link errors!LengthOrHashError | LengthOrHashError} the bytes do not match what the
   *   snapshot lists (spec 5.6.2).
   * @throws {@link errors!FormatError | FormatError} the bytes are not valid targets metadata.
   * @throws {@link errors!ThresholdError | ThresholdError} not signed by a threshold of the keys
   *   `delegator` names for the role (spec 5.6.3).
   * @throws {@link errors!VersionMismatchError | VersionMismatchError} not the version the snapshot
   *   names (spec 5.6.4).
   * @throws {@link errors!ExpiredError | ExpiredError} the snapshot or the new metadata expired
   *   (spec 5.6.5).
   */
  async updateDelegatedTargets(
    bytes: Uint8Array,
    role: string,
    delegator: Metadata<Targets>,
    fromCache = false,
  ): Promise<Metadata<Targets>> {
    if (!this.trustedTargets) throw new StateError('targets must be loaded before delegated roles');
    if (!this.verifiedTargets.has(delegator)) {
      throw new StateError(`the delegator of ${role} was not verified by this trusted set`);
    }
    const md = await this.verifyTargets(bytes, role, delegator, fromCache);
    this.verifiedTargets.add(md);
    let byRole = this.delegated.get(delegator);
    if (!byRole) {
      byRole = new Map();
      this.delegated.set(delegator, byRole);
    }
    byRole.set(role, md);
    return md;
  }

  /** The delegated role already verified against exactly this delegator, if any. */
  getDelegated(role: string, delegator: Metadata<Targets>): Metadata<Targets> | undefined {
    return this.delegated.get(delegator)?.get(role);
  }

  private async verifyTargets(
    bytes: Uint8Array,
    role: string,
    delegator: Metadata<Root> | Metadata<Targets>,
    fromCache: boolean,
  ): Promise<Metadata<Targets>> {
    const sn = this.checkSnapshotFinal();
    const meta = sn.signed.roleMeta(role);
    if (!meta) {
      throw new NotFoundError(`snapshot version ${sn.signed.version} does not list ${metaFileName(role)}`);
    }
    if (!fromCache) await meta.verifyLengthAndHashes(bytes, role); // 5.6.2
    const next = Metadata.fromBytes(bytes, 'targets');
    await delegator.verifyDelegate(role, next); // 5.6.3
    if (next.signed.version !== meta.version) {
      throw new VersionMismatchError(
        `${role}: expected version ${meta.version} (from snapshot), found ${next.signed.version}`,
      );
    }
    if (next.signed.isExpired(this.referenceTime)) {
      // 5.6.4
      throw new ExpiredError(
        `${describeRole(role, next.signed.version)} expired at ${next.signed.expires.toISOString()}`,
        role,
      );
    }
    return next;
  }
}
