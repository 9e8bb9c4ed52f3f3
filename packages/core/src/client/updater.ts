/**
 * The Updater: the TUF detailed client workflow (spec section 5) with fetching and caching
 * around the pure TrustedMetadataSet. Each role is persisted right after it verifies, so what
 * verified earlier in an update stays even when a later step fails (DESIGN principle 3).
 */

import { isSupportedHashAlgorithm } from '../crypto/hash.js';
import {
  NotFoundError,
  StateError,
  TufError,
  type TufErrorCode,
  UnsupportedHashError,
  UsageError,
} from '../errors.js';
import type { TargetFile } from '../metadata/files.js';
import {
  hashPrefixedTargetPath,
  metaFileName,
  roleUrlName,
  rootFileName,
  TIMESTAMP_FILE_NAME,
} from '../metadata/layout.js';
import type { Metadata } from '../metadata/metadata.js';
import type { Targets } from '../metadata/signed.js';
import { abortedError, boundedStream, download, type Fetcher } from './fetcher.js';
import { targetPathToUrlPath } from './names.js';
import { timestampOrSnapshotKeysRotated } from './rotation.js';
import { SharedTask } from './shared-task.js';
import type { MetadataStore } from './store.js';
import { TrustedMetadataSet } from './trusted-set.js';

/**
 * Bounds on one refresh, so a hostile or broken repository cannot make the client walk, download or
 * wait forever. Unset fields take `DEFAULT_LIMITS`.
 */
export interface UpdaterLimits {
  /** Most root versions to walk through in one refresh (spec 5.3.3). */
  maxRootRotations: number;
  /** Most roles to visit in one delegation search (spec 5.6.7.1). */
  maxDelegations: number;
  /** Byte limits when the parent role gives no length. */
  rootMaxLength: number;
  /** Byte limit for `timestamp.json`, which no parent role gives a length for (spec 5.4.1). */
  timestampMaxLength: number;
  /** Byte limit for `snapshot.json` when the timestamp lists no length (spec 5.5.1). */
  snapshotMaxLength: number;
  /** Byte limit for a targets file when the snapshot lists no length (spec 5.6.1). */
  targetsMaxLength: number;
  /** Milliseconds for one download from request to last byte. */
  timeoutMs: number;
}

/** The peers' defaults (python-tuf, go-tuf). */
export const DEFAULT_LIMITS: UpdaterLimits = {
  maxRootRotations: 256,
  maxDelegations: 32,
  rootMaxLength: 512_000,
  timestampMaxLength: 16_384,
  snapshotMaxLength: 2_000_000,
  targetsMaxLength: 5_000_000,
  timeoutMs: 60_000,
};

/**
 * What an `Updater` is built from: where the repository is, how to fetch from it, where trusted
 * metadata is kept, and the clock.
 */
export interface UpdaterOptions {
  /** Base URL of the metadata, ending in `/`; used verbatim, never normalised. */
  metadataBaseUrl: string;
  /** Base URL of the targets, ending in `/`. */
  targetBaseUrl?: string;
  /** The transport; the updater bounds and verifies whatever it returns. */
  fetcher: Fetcher;
  /** Trusted metadata; must already hold a trusted `root` (see `initialRoot`). */
  store: MetadataStore;
  /** The clock, read once per refresh (spec 5.1). Defaults to the system clock. */
  now?: () => Date;
  /** Overrides of `DEFAULT_LIMITS`. */
  limits?: Partial<UpdaterLimits>;
  /** Fetch targets as `dir/HASH.name` when the repository uses consistent snapshots (default true). */
  prefixTargetsWithHash?: boolean;
  /**
   * Offline verification: never fetch; answer from the store alone, at the reference time given
   * by `now`, failing closed when anything is missing or expired at that time.
   */
  offline?: boolean;
  /**
   * Told what the updater fetched, used from the cache, persisted, skipped and refused, as it
   * happens (python-tuf logs the same); for logs and debugging. Called synchronously; an
   * exception it throws is ignored, so a faulty logger cannot change what is trusted.
   */
  onEvent?: (event: UpdaterEvent) => void;
}

/** What the updater did, reported to `UpdaterOptions.onEvent`. */
export type UpdaterEvent =
  /** Downloaded `url` (bytes as received, not yet verified). */
  | { type: 'fetched'; role: string; url: string; bytes: number }
  /** The server has no such file: the end of the root chain (spec 5.3.3), or an error that follows. */
  | { type: 'not-found'; role: string; url: string }
  /** A cached role was verified again and used as the trusted one (or the rollback reference). */
  | { type: 'cache-used'; role: string; version: number }
  /** A cached role did not verify (expired, rotated keys, stale) and was skipped. */
  | { type: 'cache-skipped'; role: string; code: TufErrorCode; message: string }
  /** Downloaded metadata that verification refused; nothing of it was persisted. */
  | { type: 'refused'; role: string; code: TufErrorCode; message: string }
  /** Verified metadata written to the store. */
  | { type: 'persisted'; role: string; version: number }
  /** Spec 5.3.11: a new root rotated timestamp or snapshot keys; their cached copies were deleted. */
  | { type: 'cache-deleted'; roles: string[]; rootVersion: number };

/** Cancellation for one call. */
export interface CallOptions {
  /** Stops this call (an AbortedError); shared work stops only when no other caller waits for it. */
  signal?: AbortSignal;
}

/** A target found by the delegation search, and the role that signed it. */
export interface TargetInfo {
  /** The target's length, hashes and `custom`, as the signing role lists them. */
  target: TargetFile;
  /** The name of the role whose metadata lists the target. */
  role: string;
}

/**
 * The TUF client: refreshes trusted metadata from a repository (spec 5.1–5.6), finds targets
 * through the delegation graph (5.6.7) and downloads them verified (5.7). Each role is persisted
 * right after it verifies; nothing unverified is stored. Concurrent calls share one refresh.
 */
export class Updater {
  private readonly options: UpdaterOptions;
  private readonly limits: UpdaterLimits;
  private trusted: TrustedMetadataSet | undefined;
  /** The refresh under way, shared by every caller until it settles. */
  private inflight: SharedTask<TrustedMetadataSet> | undefined;
  /**
   * Verified delegated-role bytes fetched during a session (one refresh and the look-ups on its
   * trusted set), by role name. Kept per trusted set, so a look-up still walking the previous
   * set never picks up bytes fetched for a newer one.
   */
  private readonly fetchedBytes = new WeakMap<TrustedMetadataSet, Map<string, Uint8Array>>();
  /** Delegated roles being loaded, per delegator and role, so concurrent look-ups fetch each once. */
  private readonly loading = new WeakMap<Metadata<Targets>, Map<string, SharedTask<Metadata<Targets>>>>();

  /** @throws {@link errors!UsageError | UsageError} a base URL does not end in `/`. */
  constructor(options: UpdaterOptions) {
    if (!options.offline && !options.metadataBaseUrl.endsWith('/')) {
      throw new UsageError(
        `metadataBaseUrl must end with "/", found ${JSON.stringify(options.metadataBaseUrl)}`,
      );
    }
    if (options.targetBaseUrl !== undefined && !options.targetBaseUrl.endsWith('/')) {
      throw new UsageError(`targetBaseUrl must end with "/", found ${JSON.stringify(options.targetBaseUrl)}`);
    }
    this.options = options;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
  }

  /** The trusted set of the last refresh (for status tools). */
  get trustedSet(): TrustedMetadataSet | undefined {
    return this.trusted;
  }

  /**
   * Runs the top-level client workflow (spec 5.1–5.6): root rotation, timestamp, snapshot,
   * targets. Throws a TufError saying which role failed and why.
   *
   * Calls made while a refresh is under way (from `refresh`, `getTargetInfo`, `listTargets`)
   * share it: one run of the workflow, one set of requests and store writes, and every caller
   * gets its result or its error. Once it has settled, the next call starts a new refresh (so a
   * failed one can be retried).
   * @throws {@link errors!StateError | StateError} the store holds no trusted root.
   * @throws {@link errors!FormatError | FormatError} a downloaded file is not valid metadata.
   * @throws {@link errors!ThresholdError | ThresholdError} a role is not signed by a threshold of
   *   its keys.
   * @throws {@link errors!ExpiredError | ExpiredError} the final root, or a new timestamp, snapshot
   *   or targets, is expired.
   * @throws {@link errors!RollbackError | RollbackError} a role's version went back.
   * @throws {@link errors!VersionMismatchError | VersionMismatchError} a file is not the version
   *   its parent role names.
   * @throws {@link errors!LengthOrHashError | LengthOrHashError} a file does not match the length
   *   or hashes its parent role lists.
   * @throws {@link errors!DownloadLimitError | DownloadLimitError} a server sent more bytes than
   *   allowed.
   * @throws {@link errors!NotFoundError | NotFoundError} the repository has no `timestamp.json`, or
   *   a file the metadata lists is missing.
   * @throws {@link errors!FetchError | FetchError} the transport failed.
   * @throws {@link errors!TimeoutError | TimeoutError} a download did not finish within
   *   `limits.timeoutMs`.
   * @throws {@link errors!AbortedError | AbortedError} `options.signal` fired.
   * @throws {@link errors!StorageError | StorageError} the store could not be read or written.
   */
  async refresh(options: CallOptions = {}): Promise<void> {
    await this.sharedRefresh(options.signal);
  }

  private sharedRefresh(signal: AbortSignal | undefined): Promise<TrustedMetadataSet> {
    if (this.inflight && !this.inflight.cancelled) return this.inflight.join(signal);
    const task = new SharedTask((s) => this.runRefresh(s), 'refresh');
    this.inflight = task;
    const settled = () => {
      if (this.inflight === task) this.inflight = undefined;
    };
    task.settled.then(settled, settled);
    return task.join(signal);
  }

  /** Reports an event; a hook that throws is ignored (see `onEvent`). */
  private emit(event: UpdaterEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch {
      // A logger must not decide what is trusted.
    }
  }

  /** Runs a verification step; a refusal is reported before it propagates. */
  private async verified<T>(role: string, step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (e) {
      if (e instanceof TufError) this.emit({ type: 'refused', role, code: e.code, message: e.message });
      throw e;
    }
  }

  private async persist(role: string, bytes: Uint8Array, version: number): Promise<void> {
    await this.options.store.write(role, bytes);
    this.emit({ type: 'persisted', role, version });
  }

  private async runRefresh(signal: AbortSignal): Promise<TrustedMetadataSet> {
    const now = (this.options.now ?? (() => new Date()))();
    const rootBytes = await this.options.store.read('root');
    if (!rootBytes)
      throw new StateError('no trusted root in the metadata store: initialise it with a root you trust');
    const trusted = await TrustedMetadataSet.create(rootBytes, now);
    this.fetchedBytes.set(trusted, new Map());
    this.trusted = trusted;
    if (this.options.offline) {
      await this.loadOffline(trusted);
      return trusted;
    }
    await this.updateRoot(trusted, signal);
    await this.updateTimestamp(trusted, signal);
    await this.updateSnapshot(trusted, signal);
    await this.updateTargets(trusted, signal);
    return trusted;
  }

  private async updateRoot(trusted: TrustedMetadataSet, signal: AbortSignal): Promise<void> {
    // 5.3.2–5.3.9: walk N+1, N+2, … until the repository has no next version.
    const first = trusted.root.signed.version;
    for (let v = first + 1; v <= first + this.limits.maxRootRotations; v++) {
      const bytes = await this.fetchMetadata(
        'root',
        rootFileName(v),
        this.limits.rootMaxLength,
        signal,
        true,
      );
      if (!bytes) break;
      const previous = trusted.root.signed;
      await this.verified('root', () => trusted.updateRoot(bytes));
      // 5.3.11: a rotated timestamp or snapshot key means the cached timestamp and snapshot may
      // be an attacker's fast-forwarded versions; they stop being rollback references. Checked at
      // every step and done before the new root is persisted, so that a refresh which stops
      // later (an expired final root, a bad next root, a crash) cannot leave a stored root whose
      // predecessor's rotation was never acted on.
      if (timestampOrSnapshotKeysRotated(previous, trusted.root.signed)) {
        await this.options.store.remove('timestamp');
        await this.options.store.remove('snapshot');
        this.emit({ type: 'cache-deleted', roles: ['timestamp', 'snapshot'], rootVersion: v });
      }
      await this.persist('root', bytes, v);
    }
    trusted.checkRootNotExpired(); // 5.3.10
  }

  private async updateTimestamp(trusted: TrustedMetadataSet, signal: AbortSignal): Promise<void> {
    // A cached timestamp is the rollback reference (5.4.3); if it does not verify or is expired,
    // it does not count. After a timestamp or snapshot key rotation there is none (5.3.11).
    await this.tryCached('timestamp', () =>
      this.loadCached('timestamp', async (b) => {
        await trusted.updateTimestamp(b);
        return trusted.timestamp?.signed.version;
      }),
    );
    const bytes = await this.fetchMetadata(
      'timestamp',
      TIMESTAMP_FILE_NAME,
      this.limits.timestampMaxLength,
      signal,
    );
    if (!bytes) throw new NotFoundError('timestamp.json is missing from the repository');
    if (await this.verified('timestamp', () => trusted.updateTimestamp(bytes))) {
      await this.persist('timestamp', bytes, trusted.timestamp?.signed.version ?? 0);
    }
  }

  private async updateSnapshot(trusted: TrustedMetadataSet, signal: AbortSignal): Promise<void> {
    const cached = await this.tryCached('snapshot', () =>
      this.loadCached('snapshot', async (b) => (await trusted.updateSnapshot(b, true)).signed.version),
    );
    if (cached) return;
    const meta = trusted.timestamp?.signed.snapshotMeta;
    if (!meta) throw new StateError('no trusted timestamp');
    const name = roleUrlName('snapshot', meta.version, trusted.root.signed.consistentSnapshot);
    const bytes = await this.fetchMetadata(
      'snapshot',
      name,
      meta.length ?? this.limits.snapshotMaxLength,
      signal,
    );
    if (!bytes) throw new NotFoundError(`${name} is missing from the repository`);
    const md = await this.verified('snapshot', () => trusted.updateSnapshot(bytes));
    await this.persist('snapshot', bytes, md.signed.version);
  }

  private async updateTargets(trusted: TrustedMetadataSet, signal: AbortSignal): Promise<void> {
    const cached = await this.tryCached('targets', () =>
      this.loadCached('targets', async (b) => (await trusted.updateTargets(b, true)).signed.version),
    );
    if (cached) return;
    const bytes = await this.fetchRole(trusted, 'targets', signal);
    const md = await this.verified('targets', () => trusted.updateTargets(bytes));
    await this.persist('targets', bytes, md.signed.version);
  }

  /** Loads the top-level roles from the store only, each verified as if freshly downloaded. */
  private async loadOffline(trusted: TrustedMetadataSet): Promise<void> {
    trusted.checkRootNotExpired();
    const need = async (role: string) => {
      const b = await this.options.store.read(role);
      if (!b) throw new NotFoundError(`offline verification: no cached ${role} metadata`);
      return b;
    };
    await trusted.updateTimestamp(await need('timestamp'));
    await trusted.updateSnapshot(await need('snapshot'));
    await trusted.updateTargets(await need('targets'));
  }

  /** Verifies the cached copy of `role`; its version, or undefined when nothing is cached. */
  private async loadCached(
    role: string,
    update: (b: Uint8Array) => Promise<number | undefined>,
  ): Promise<number | undefined> {
    const bytes = await this.options.store.read(role);
    if (!bytes) return undefined;
    return update(bytes);
  }

  /** Runs a cache load; a cached file that fails verification is skipped (we fetch instead). */
  private async tryCached(role: string, load: () => Promise<number | undefined>): Promise<boolean> {
    try {
      const version = await load();
      if (version === undefined) return false;
      this.emit({ type: 'cache-used', role, version });
      return true;
    } catch (e) {
      if (e instanceof TufError && e.code !== 'STORAGE') {
        this.emit({ type: 'cache-skipped', role, code: e.code, message: e.message });
        return false;
      }
      throw e;
    }
  }

  /** Downloads `VERSION.ROLE.json` (or `ROLE.json`) as snapshot lists it. */
  private async fetchRole(
    trusted: TrustedMetadataSet,
    role: string,
    signal: AbortSignal,
  ): Promise<Uint8Array> {
    const meta = trusted.snapshot?.signed.roleMeta(role);
    if (!meta) {
      throw new NotFoundError(
        `snapshot version ${trusted.snapshot?.signed.version} does not list ${metaFileName(role)}`,
      );
    }
    const name = roleUrlName(role, meta.version, trusted.root.signed.consistentSnapshot);
    const bytes = await this.fetchMetadata(role, name, meta.length ?? this.limits.targetsMaxLength, signal);
    if (!bytes) throw new NotFoundError(`${name} is missing from the repository`);
    return bytes;
  }

  /** Fetches a metadata file, bounded; undefined on 404/403 when `missingOk`. */
  private async fetchMetadata(
    role: string,
    name: string,
    maxLength: number,
    signal: AbortSignal,
    missingOk = false,
  ): Promise<Uint8Array | undefined> {
    const url = this.options.metadataBaseUrl + name;
    try {
      const bytes = await download(this.options.fetcher, url, {
        maxLength,
        timeoutMs: this.limits.timeoutMs,
        signal,
      });
      this.emit({ type: 'fetched', role, url, bytes: bytes.length });
      return bytes;
    } catch (e) {
      if (e instanceof TufError && e.code === 'NOT_FOUND') {
        this.emit({ type: 'not-found', role, url });
        if (missingOk) return undefined;
        throw new NotFoundError(`${name} is missing from the repository`);
      }
      throw e;
    }
  }

  /**
   * The trusted set to answer from: the one being refreshed (waiting for it), else the last
   * complete one, else a new refresh. Each caller keeps the set it got, whatever refreshes later.
   */
  private async ensureRefreshed(signal: AbortSignal | undefined): Promise<TrustedMetadataSet> {
    if (signal?.aborted) throw abortedError(signal, 'look-up');
    if (this.inflight && !this.inflight.cancelled) return this.inflight.join(signal);
    const t = this.trusted;
    if (t?.targets) return t;
    return this.sharedRefresh(signal);
  }

  /**
   * Spec 5.6.7: searches the delegation graph for `targetPath`, pre-order depth-first in listed
   * order, each role once; a matching terminating role ends the search after it and its
   * descendants. Returns undefined when no role on the trusted graph signs the path.
   * @throws {@link errors!TufError | TufError} whatever `refresh` throws, when no refresh has
   *   completed yet; and for a delegated role, what `refresh` throws for a targets role
   *   (ThresholdError, ExpiredError, VersionMismatchError, LengthOrHashError, FetchError,
   *   TimeoutError, …).
   * @throws {@link errors!AbortedError | AbortedError} `options.signal` fired.
   */
  async getTargetInfo(targetPath: string, options: CallOptions = {}): Promise<TargetInfo | undefined> {
    const signal = options.signal;
    const trusted = await this.ensureRefreshed(signal);
    const top = trusted.targets as Metadata<Targets>;
    const stack: { role: string; delegator: Metadata<Targets> | undefined }[] = [
      { role: 'targets', delegator: undefined },
    ];
    const visited = new Set<string>();
    while (stack.length > 0 && visited.size < this.limits.maxDelegations) {
      const { role, delegator } = stack.pop() as (typeof stack)[number];
      if (visited.has(role)) continue;
      const md = delegator ? await this.loadDelegated(trusted, role, delegator, signal) : top;
      visited.add(role);
      const target = md.signed.targets.get(targetPath);
      if (target) return { target, role };
      const delegations = md.signed.delegations;
      if (!delegations) continue;
      const children: typeof stack = [];
      for (const child of delegations.rolesForTarget(targetPath)) {
        children.push({ role: child.name, delegator: md });
        if (child.terminating) {
          stack.length = 0; // no later siblings, no backtracking
          break;
        }
      }
      stack.push(...children.reverse());
    }
    return undefined;
  }

  /**
   * Every target a look-up would find, with the role it resolves to: walks the whole delegation
   * graph (each role verified against its delegator), then resolves each path with the normal
   * search, so terminating roles and paths apply exactly as in `getTargetInfo`.
   * @throws {@link errors!TufError | TufError} as `getTargetInfo`, for every role on the graph.
   * @throws {@link errors!StateError | StateError} the graph has more than `maxRoles` roles.
   */
  async *listTargets(options: { maxRoles?: number } & CallOptions = {}): AsyncGenerator<TargetInfo> {
    const signal = options.signal;
    const trusted = await this.ensureRefreshed(signal);
    const maxRoles = options.maxRoles ?? 100_000;
    const paths = new Set<string>();
    const seen = new Set<string>();
    const stack: { role: string; delegator: Metadata<Targets> | undefined }[] = [
      { role: 'targets', delegator: undefined },
    ];
    while (stack.length > 0) {
      const { role, delegator } = stack.pop() as (typeof stack)[number];
      if (seen.has(role)) continue;
      if (seen.size >= maxRoles) throw new StateError(`more than ${maxRoles} roles: listing stopped`);
      seen.add(role);
      const md = delegator
        ? await this.loadDelegated(trusted, role, delegator, signal)
        : (trusted.targets as Metadata<Targets>);
      for (const p of md.signed.targets.keys()) paths.add(p);
      const d = md.signed.delegations;
      // Count before naming them: a bit_length of 32 would be four billion role names.
      const count = d?.roles?.length ?? d?.succinctRoles?.numberOfBins ?? 0;
      if (seen.size + stack.length + count > maxRoles) {
        throw new StateError(`more than ${maxRoles} roles: listing stopped`);
      }
      const children = d?.roles
        ? d.roles.map((r) => r.name)
        : d?.succinctRoles
          ? [...d.succinctRoles.getRoles()]
          : [];
      for (const name of children.reverse()) stack.push({ role: name, delegator: md });
    }
    for (const p of paths) {
      const info = await this.getTargetInfo(p, signal ? { signal } : {});
      if (info) yield info;
    }
  }

  /**
   * A delegated role verified against `delegator`, from this session, the store, or the
   * repository. Concurrent look-ups needing the same role of the same delegator share one load.
   */
  private loadDelegated(
    trusted: TrustedMetadataSet,
    role: string,
    delegator: Metadata<Targets>,
    signal: AbortSignal | undefined,
  ): Promise<Metadata<Targets>> {
    const known = trusted.getDelegated(role, delegator);
    if (known) return Promise.resolve(known);
    let byRole = this.loading.get(delegator);
    if (!byRole) {
      byRole = new Map();
      this.loading.set(delegator, byRole);
    }
    const pending = byRole.get(role);
    if (pending && !pending.cancelled) return pending.join(signal);
    const load = new SharedTask((s) => this.loadDelegatedOnce(trusted, role, delegator, s), role);
    byRole.set(role, load);
    // Once settled, the trusted set answers (success) or a later look-up tries again (failure).
    const settled = () => {
      if (byRole.get(role) === load) byRole.delete(role);
    };
    load.settled.then(settled, settled);
    return load.join(signal);
  }

  private async loadDelegatedOnce(
    trusted: TrustedMetadataSet,
    role: string,
    delegator: Metadata<Targets>,
    signal: AbortSignal,
  ): Promise<Metadata<Targets>> {
    let session = this.fetchedBytes.get(trusted);
    if (!session) {
      session = new Map();
      this.fetchedBytes.set(trusted, session);
    }
    // Bytes fetched earlier in this session are the repository's only copy of this version:
    // if they fail against this delegator, fetching again would not help.
    const fetched = session.get(role);
    if (fetched) return trusted.updateDelegatedTargets(fetched, role, delegator);
    if (this.options.offline) {
      const b = await this.options.store.read(role);
      if (!b) throw new NotFoundError(`offline verification: no cached ${role} metadata`);
      return trusted.updateDelegatedTargets(b, role, delegator);
    }
    let md: Metadata<Targets> | undefined;
    await this.tryCached(role, async () => {
      const b = await this.options.store.read(role);
      if (!b) return undefined;
      md = await trusted.updateDelegatedTargets(b, role, delegator, true);
      return md.signed.version;
    });
    if (md) return md;
    const bytes = await this.fetchRole(trusted, role, signal);
    const fresh = await this.verified(role, () => trusted.updateDelegatedTargets(bytes, role, delegator));
    session.set(role, bytes);
    await this.persist(role, bytes, fresh.signed.version);
    return fresh;
  }

  /**
   * The URL a target is fetched from (spec 5.7.2: hash-prefixed with consistent snapshots).
   * @throws {@link errors!UsageError | UsageError} no `targetBaseUrl` was configured.
   * @throws {@link errors!UnsupportedHashError | UnsupportedHashError} consistent snapshots are on
   *   and the target lists no supported hash.
   */
  targetUrl(target: TargetFile): string {
    const base = this.options.targetBaseUrl;
    if (base === undefined) throw new UsageError('no targetBaseUrl was configured');
    const urlPath = targetPathToUrlPath(target.path);
    const consistent = this.trusted?.root.signed.consistentSnapshot ?? false;
    if (!consistent || this.options.prefixTargetsWithHash === false) return base + urlPath;
    // The first supported hash the metadata lists: deterministic, never a random choice.
    const alg = [...target.hashes.keys()].find(isSupportedHashAlgorithm);
    const digest = alg === undefined ? undefined : target.hashes.get(alg);
    if (digest === undefined)
      throw new UnsupportedHashError(`target ${JSON.stringify(target.path)} lists no supported hash`);
    return base + hashPrefixedTargetPath(urlPath, digest);
  }

  /**
   * Spec 5.7: streams a target's bytes, at most `target.length`, and throws at the end unless the
   * length and every supported hash match. Consumers must not use the bytes before the stream
   * completes without error (write to a temporary file, then rename).
   * @throws {@link errors!UsageError | UsageError} the updater is offline, or has no
   *   `targetBaseUrl`.
   * @throws {@link errors!UnsupportedHashError | UnsupportedHashError} the target lists no
   *   supported hash algorithm.
   * @throws {@link errors!NotFoundError | NotFoundError} the repository has no such target file.
   * @throws {@link errors!DownloadLimitError | DownloadLimitError} the server sent more than
   *   `target.length` bytes.
   * @throws {@link errors!LengthOrHashError | LengthOrHashError} the bytes received do not match
   *   the length or hashes (spec 5.7.3).
   * @throws {@link errors!FetchError | FetchError} the transport failed.
   * @throws {@link errors!TimeoutError | TimeoutError} the download did not finish within
   *   `limits.timeoutMs`.
   * @throws {@link errors!AbortedError | AbortedError} the signal fired.
   */
  async *streamTarget(
    target: TargetFile,
    options?: ((received: number) => void) | (CallOptions & { onProgress?: (received: number) => void }),
  ): AsyncGenerator<Uint8Array> {
    const { onProgress, signal } =
      typeof options === 'function' ? { onProgress: options, signal: undefined } : (options ?? {});
    if (this.options.offline) throw new UsageError('offline verification does not download targets');
    if (![...target.hashes.keys()].some(isSupportedHashAlgorithm)) {
      throw new UnsupportedHashError(
        `target ${JSON.stringify(target.path)}: none of its hash algorithms (${[...target.hashes.keys()].join(', ')}) is supported`,
      );
    }
    const checker = target.checker();
    const url = this.targetUrl(target);
    try {
      for await (const c of boundedStream(this.options.fetcher, url, {
        maxLength: target.length,
        timeoutMs: this.limits.timeoutMs,
        ...(onProgress ? { onProgress } : {}),
        ...(signal ? { signal } : {}),
      })) {
        checker.update(c);
        yield c;
      }
    } catch (e) {
      if (e instanceof TufError && e.code === 'NOT_FOUND') {
        throw new NotFoundError(
          `target ${JSON.stringify(target.path)} is missing from the repository (${url})`,
        );
      }
      throw e;
    }
    checker.finish();
  }

  /**
   * Reads and verifies a whole target into memory (for small targets).
   * @throws {@link errors!TufError | TufError} as `streamTarget`.
   */
  async downloadTarget(target: TargetFile, options: CallOptions = {}): Promise<Uint8Array> {
    const out = new Uint8Array(target.length);
    let n = 0;
    for await (const c of this.streamTarget(target, options)) {
      out.set(c, n);
      n += c.length;
    }
    return out;
  }
}
