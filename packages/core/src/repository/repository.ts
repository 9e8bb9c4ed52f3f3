/**
 * The repository side: create, edit, sign and publish TUF metadata.
 *
 * Edits are staged in memory; `publish` bumps the version and expiry of every role that
 * changed, signs with the signers it holds (thresholds enforced), regenerates snapshot and
 * timestamp only when needed, checks the result with the client's own verification
 * (TrustedMetadataSet), and writes every new file first and `timestamp.json` last.
 */

import { abortedError } from '../client/fetcher.js';
import { hexDigest } from '../crypto/hash.js';
import type { Key } from '../crypto/key.js';
import { Signature } from '../crypto/signature.js';
import type { Signer } from '../crypto/signer-type.js';
import {
  ConflictError,
  FormatError,
  NotFoundError,
  StaleVersionError,
  StateError,
  ThresholdError,
  TufError,
  UsageError,
  ValueError,
  VersionMismatchError,
} from '../errors.js';
import { MetaFile, type TargetFile } from '../metadata/files.js';
import {
  checkRoleFileName,
  LATEST_ROOT_FILE_NAME,
  metadataPath,
  metaFileName,
  roleStoragePath,
  rootFileName,
  TIMESTAMP_FILE_NAME,
} from '../metadata/layout.js';
import { Metadata, type VerificationResult, verifyThreshold } from '../metadata/metadata.js';
import {
  DelegatedRole,
  Delegations,
  Role,
  SuccinctRoles,
  TOP_LEVEL_ROLE_NAMES,
  type TopLevelRoleName,
} from '../metadata/roles.js';
import {
  type AnySigned,
  Root,
  Snapshot,
  SPECIFICATION_VERSION,
  Targets,
  Timestamp,
} from '../metadata/signed.js';
import { MergedBinTargets, targetsSignedBytes } from './bin-encoding.js';
import {
  unverifiedRootChain,
  verifiedRootChain,
  verifyDelegatedRole,
  verifyTopLevelRole,
} from './built-on.js';
import { defaultBitLength, HASH_BIN_PARENT } from './hash-bins.js';
import {
  DEFAULT_EXPIRY,
  type ExpiryPolicy,
  expiresAfter,
  type OnlineOrTargets,
  type PublishPlan,
  planPublish,
} from './publish-plan.js';
import { type SelfCheckInput, selfCheck } from './self-check.js';
import { describeChanges, newSigningRequest, type SigningRequest } from './signing-request.js';
import { StagedBin } from './staged-bin.js';
import type { RepositoryStorage } from './storage.js';
import { checkTagName, showTagName } from './tag-name.js';

const TIMESTAMP_PATH = metadataPath(TIMESTAMP_FILE_NAME);
const LATEST_ROOT_PATH = metadataPath(LATEST_ROOT_FILE_NAME);

/** A published file is the version its parent lists (spec 5.5.4, 5.6.4's version checks). */
function checkPublishedVersion(role: string, found: number, listed: number): void {
  if (found !== listed) {
    throw new VersionMismatchError(
      `published ${role}: expected version ${listed}, as listed, found ${found} (refusing to sign over metadata that does not verify)`,
    );
  }
}
/** The most hash bins this repository creates or walks: 2^16 roles. */
const MAX_BIT_LENGTH = 16;
/** Every sha256 hex prefix of one digit: the intermediate role is trusted for every path. */
const ALL_HASH_PREFIXES = [...'0123456789abcdef'];

/** Where a client's search for a path ends before it reaches the hash bins (TUF 5.6.7). */
export interface SearchedBeforeBins {
  /** The role listed before the bins where the search ends. */
  role: string;
  /** `signs`: the role signs the path itself; `terminating`: it is a terminating delegation for it. */
  why: 'signs' | 'terminating';
}

export { DEFAULT_EXPIRY, type ExpiryPolicy } from './publish-plan.js';

/** How a `Repository` signs and dates what it publishes. */
export interface RepositoryOptions {
  /**
   * Signers available to this process; each signs every role whose keys include its key. More can
   * be added with `addSigner`.
   */
  signers?: Iterable<Signer>;
  /** Overrides of `DEFAULT_EXPIRY`: how long each role's new metadata is valid. */
  expiry?: Partial<ExpiryPolicy>;
  /** The clock (for expiry and the self-check). */
  now?: () => Date;
  /**
   * `open` only: a root version this publisher pinned (its bytes). The published root chain is
   * verified from it, each version signed by the previous one's root keys and its own; without
   * it, the published root need only be signed by its own root keys. Either way, timestamp,
   * snapshot and each targets role are verified before anything is signed over them.
   */
  trustedRoot?: Uint8Array;
  /**
   * `open` only: read what is published without verifying it, to report on it (a status check
   * of a repository that no longer verifies). Such a repository cannot publish: nothing is ever
   * signed over metadata that was not verified (ADR 0032).
   */
  inspectOnly?: boolean;
}

/** What `Repository.create` needs: the keys of each top-level role, with thresholds. */
export interface CreateOptions extends RepositoryOptions {
  /** Public keys of each top-level role. */
  keys: Record<TopLevelRoleName, Key[]>;
  /** Signatures each role needs (default 1); at most the number of its keys. */
  thresholds?: Partial<Record<TopLevelRoleName, number>>;
  /** Default true: clients fetch `VERSION.ROLE.json` and hash-prefixed targets. */
  consistentSnapshot?: boolean;
}

/** What a publish wrote. */
export interface PublishResult {
  /** Paths written, in the order written (`metadata/timestamp.json` last). */
  written: string[];
  /** The new version of each role that changed. */
  versions: Map<string, number>;
}

/** Options of `Repository.publish`. */
export interface PublishOptions {
  /** Sign and publish a new timestamp even when nothing else changed. */
  forceTimestamp?: boolean;
  /** Sign and publish a new snapshot (and timestamp) even when no targets role changed. */
  forceSnapshot?: boolean;
  /** Stops the publish between two files (never after `timestamp.json`). */
  signal?: AbortSignal;
  /**
   * Runs under the storage lock once every file is written, before the lock is released, with
   * the storage whose lock is held: what it does there commits with the publish on a storage that
   * commits on release (the trust server's PostgreSQL store records its change feed entry so). If
   * it throws, the publish fails and this object keeps the state it had before it; files already
   * written stay written on a storage that does not roll back.
   */
  beforeRelease?: (result: PublishResult, storage: RepositoryStorage) => Promise<void>;
}

/** A change to a role that could not be signed here: what is missing, for an offline ceremony. */
export interface PendingRole {
  role: string;
  metadata: Metadata;
  status: VerificationResult[];
}

type TargetsEdit = (t: Targets) => Targets;

function copyTargets(
  t: Targets,
  change: {
    targets?: ReadonlyMap<string, TargetFile>;
    delegations?: Delegations | undefined;
    version?: number;
    expires?: Date;
  },
): Targets {
  return new Targets({
    version: change.version ?? t.version,
    specVersion: t.specVersion,
    expires: change.expires ?? t.expires,
    unrecognized: t.unrecognized,
    targets: change.targets ?? t.targets,
    delegations: 'delegations' in change ? change.delegations : t.delegations,
  });
}

/** `t` with the targets of `staged` added (a target of the same path replaced). */
function withTargets(t: Targets, staged: StagedBin): Targets {
  const next = new Map(t.targets);
  for (const a of staged.targets()) next.set(a.path, a);
  return copyTargets(t, { targets: next });
}

function* pathsOf(targets: Iterable<TargetFile>): Generator<string> {
  for (const t of targets) yield t.path;
}

function copyRoot(
  r: Root,
  change: {
    keys?: ReadonlyMap<string, Key>;
    roles?: ReadonlyMap<TopLevelRoleName, Role>;
    version?: number;
    expires?: Date;
  },
): Root {
  return new Root({
    version: change.version ?? r.version,
    specVersion: r.specVersion,
    expires: change.expires ?? r.expires,
    unrecognized: r.unrecognized,
    consistentSnapshot: r.consistentSnapshot,
    keys: change.keys ?? r.keys,
    roles: change.roles ?? r.roles,
  });
}

function sha256Meta(bytes: Uint8Array, version: number): MetaFile {
  return new MetaFile(version, bytes.length, new Map([['sha256', hexDigest('sha256', bytes)]]));
}

/**
 * A TUF repository being edited: stage changes (targets, delegations, key rotations), then
 * `publish` signs the roles that changed, checks the result as a client would, and writes it
 * through a `RepositoryStorage`, `timestamp.json` last (DESIGN rule 10). Pure: no file system or
 * clock of its own.
 */
export class Repository {
  private readonly storage: RepositoryStorage;
  private readonly expiry: ExpiryPolicy;
  private readonly now: () => Date;
  /** Opened with `inspectOnly`: nothing verified, so nothing may be published. */
  private readonly inspectOnly: boolean;
  /** Signers by public key material, so a signer serves whatever keyid metadata lists its key under. */
  private readonly signers = new Map<string, Signer>();

  private root: Metadata<Root>;
  /**
   * The published root and the version before it, as verified when opened: what published
   * top-level roles are checked against before they are built on (built-on.ts).
   */
  private rootChain: Metadata<Root>[];
  private timestamp: Metadata<Timestamp> | undefined;
  private snapshot: Metadata<Snapshot> | undefined;
  /** Targets roles loaded so far (published, or staged when in `changed`). */
  private readonly roles = new Map<string, Targets>();
  /** The published bytes of loaded roles (for the self-check's delegator chain). */
  private readonly published = new Map<string, Uint8Array>();
  /** The published models of loaded roles, verified: what decides their delegates' authenticity. */
  private readonly publishedModels = new Map<string, Targets>();
  /** Roles whose published version is being verified (their delegators being found). */
  private readonly verifying = new Set<string>();
  /** The timestamp bytes this repository was opened at: a publish fails if storage moved on. */
  private openedTimestamp: Uint8Array | undefined;
  /** The published snapshot's bytes (the self-check's rollback reference). */
  private snapshotBytes: Uint8Array | undefined;
  /**
   * The root under which this object's last publish verified, with the client's checks, the
   * timestamp, snapshot and targets it left published: while that is still the root and none is
   * staged, none of them needs re-signing, and checking that again is skipped.
   */
  private checkedUnder: Root | undefined;

  private stagedRoot: Root | undefined;
  /** Signatures collected elsewhere (offline ceremonies) for the staged version of a role. */
  private readonly stagedSignatures = new Map<string, Signature[]>();
  /** Metadata signed elsewhere (an applied signing request), published exactly as signed. */
  private readonly presigned = new Map<string, Metadata>();
  /** Roles staged by `stageSignedMetadata`: a shortfall of signatures there is refused input. */
  private readonly untrusted = new Set<string>();
  private readonly changed = new Set<string>();
  /**
   * Targets staged into hash bins and not yet merged into the bin's model: merged when the bin is
   * read (`getTargets`) or prepared, or, by `publish`, one bin at a time (signed, written and let
   * go before the next), so a bulk of a million tags never holds every bin's new model at once.
   */
  private readonly deferred = new Map<string, StagedBin>();

  private constructor(storage: RepositoryStorage, root: Metadata<Root>, options: RepositoryOptions) {
    this.storage = storage;
    this.root = root;
    this.rootChain = [root];
    this.expiry = { ...DEFAULT_EXPIRY, ...options.expiry };
    this.now = options.now ?? (() => new Date());
    this.inspectOnly = options.inspectOnly === true;
    for (const s of options.signers ?? []) this.addSigner(s);
  }

  /**
   * Starts a new repository (nothing is written until `publish`). Refuses to overwrite one.
   * @throws {@link errors!ConflictError | ConflictError} `storage` already holds a repository.
   * @throws {@link errors!UsageError | UsageError} a role has no key, or a threshold above its
   *   number of keys.
   */
  static async create(storage: RepositoryStorage, options: CreateOptions): Promise<Repository> {
    if (await storage.read(TIMESTAMP_PATH)) {
      throw new ConflictError(`a repository already exists here (${TIMESTAMP_PATH} is present)`);
    }
    const now = (options.now ?? (() => new Date()))();
    const expiry = { ...DEFAULT_EXPIRY, ...options.expiry };
    const keys = new Map<string, Key>();
    const roles = new Map<TopLevelRoleName, Role>();
    for (const name of TOP_LEVEL_ROLE_NAMES) {
      const roleKeys = options.keys[name];
      if (!roleKeys || roleKeys.length === 0) throw new UsageError(`the ${name} role needs at least one key`);
      const threshold = options.thresholds?.[name] ?? 1;
      if (threshold > roleKeys.length) {
        throw new UsageError(`the ${name} threshold ${threshold} exceeds its ${roleKeys.length} key(s)`);
      }
      for (const k of roleKeys) keys.set(k.keyid(), k);
      roles.set(name, new Role([...new Set(roleKeys.map((k) => k.keyid()))], threshold));
    }
    const root = new Root({
      version: 1,
      specVersion: SPECIFICATION_VERSION,
      expires: expiresAfter(now, expiry.root),
      consistentSnapshot: options.consistentSnapshot ?? true,
      keys,
      roles,
    });
    const repo = new Repository(storage, new Metadata(root), options);
    repo.stagedRoot = root;
    repo.roles.set(
      'targets',
      new Targets({
        version: 1,
        specVersion: SPECIFICATION_VERSION,
        expires: expiresAfter(now, expiry.targets),
        targets: new Map(),
      }),
    );
    repo.changed.add('targets');
    return repo;
  }

  /**
   * Starts a new repository from a root signed elsewhere (a trust server receiving a
   * publisher's root version 1, signed by a threshold of its own root keys). Nothing is written
   * until `publish`; the targets role must be staged too (`stageSignedMetadata`), and the
   * snapshot and timestamp keys it names must be among this repository's signers.
   * @throws {@link errors!ConflictError | ConflictError} `storage` already holds a repository.
   * @throws {@link errors!VersionMismatchError | VersionMismatchError} the root is not version 1.
   */
  static async createFromSignedRoot(
    storage: RepositoryStorage,
    root: Metadata<Root>,
    options: RepositoryOptions = {},
  ): Promise<Repository> {
    if (await storage.read(TIMESTAMP_PATH)) {
      throw new ConflictError(`a repository already exists here (${TIMESTAMP_PATH} is present)`);
    }
    // A client's trust starts at the first root it is given; a chain that starts anywhere but 1
    // would leave clients holding root 1 (from elsewhere) unable to follow it.
    if (root.signed.version !== 1) {
      throw new VersionMismatchError(
        `root: a new repository starts at version 1, found ${root.signed.version}`,
      );
    }
    const repo = new Repository(storage, root, options);
    repo.stagedRoot = root.signed;
    repo.presigned.set('root', root);
    repo.untrusted.add('root');
    return repo;
  }

  /**
   * Opens the repository published in `storage`.
   * @throws {@link errors!NotFoundError | NotFoundError} `storage` holds no repository, or a file
   *   it names is missing.
   * @throws {@link errors!FormatError | FormatError} a published file is not valid metadata.
   * @throws {@link errors!StorageError | StorageError} `storage` could not be read.
   */
  static async open(storage: RepositoryStorage, options: RepositoryOptions = {}): Promise<Repository> {
    const tsBytes = await storage.read(TIMESTAMP_PATH);
    if (!tsBytes) throw new NotFoundError(`no repository here (${TIMESTAMP_PATH} is missing)`);
    const rootBytes = await storage.read(LATEST_ROOT_PATH);
    if (!rootBytes) throw new NotFoundError(`${LATEST_ROOT_PATH} is missing`);
    // What this publisher will sign over is verified first (built-on.ts). root.json is written
    // before timestamp.json, so a newer versioned root may exist after a crash: the chain walks it.
    const chain = options.inspectOnly
      ? await unverifiedRootChain(storage, rootBytes)
      : await verifiedRootChain(storage, rootBytes, options.trustedRoot);
    const root = chain.at(-1) as Metadata<Root>;
    const repo = new Repository(storage, root, options);
    repo.rootChain = chain.slice(-2);
    repo.timestamp = Metadata.fromBytes(tsBytes, 'timestamp');
    if (!repo.inspectOnly) await verifyTopLevelRole(chain, 'timestamp', repo.timestamp);
    repo.openedTimestamp = tsBytes;
    const snMeta = repo.timestamp.signed.snapshotMeta;
    const snName = roleStoragePath('snapshot', snMeta.version, root.signed.consistentSnapshot);
    const snBytes = await storage.read(snName);
    if (!snBytes) throw new NotFoundError(`${snName} is missing`);
    repo.snapshot = Metadata.fromBytes(snBytes, 'snapshot');
    if (!repo.inspectOnly) {
      await snMeta.verifyLengthAndHashes(snBytes, snName);
      checkPublishedVersion('snapshot', repo.snapshot.signed.version, snMeta.version);
      await verifyTopLevelRole(chain, 'snapshot', repo.snapshot);
    }
    repo.snapshotBytes = snBytes;
    return repo;
  }

  /**
   * Adds a signer; from now on it signs every role whose keys include its public key, whatever
   * keyid the metadata lists it under.
   * @throws {@link errors!UsageError | UsageError} the signer's key is of a type tufa cannot
   *   verify.
   */
  addSigner(signer: Signer): void {
    const id = signer.key.materialId();
    if (id === undefined) throw new UsageError(`signer ${signer.keyid} has a key tufa cannot verify`);
    this.signers.set(id, signer);
  }

  /** The published root, signatures included. */
  get rootMetadata(): Metadata<Root> {
    return this.root;
  }

  /** The root as it will be published (staged changes included). */
  get currentRoot(): Root {
    return this.stagedRoot ?? this.root.signed;
  }

  /** The published timestamp, signatures included, once there is one. */
  get timestampMetadata(): Metadata<Timestamp> | undefined {
    return this.timestamp;
  }

  /** The published snapshot, signatures included, once there is one. */
  get snapshotMetadata(): Metadata<Snapshot> | undefined {
    return this.snapshot;
  }

  /** The storage path of a targets role. */
  private roleFile(role: string, version: number): string {
    return roleStoragePath(role, version, this.currentRoot.consistentSnapshot);
  }

  /**
   * A targets role (top-level or delegated) as it stands, staged edits included.
   * @throws {@link errors!NotFoundError | NotFoundError} the repository has no such targets role,
   *   or its file is missing.
   */
  async getTargets(role = 'targets'): Promise<Targets> {
    const additions = this.deferred.get(role);
    if (additions) {
      this.deferred.delete(role);
      const merged = withTargets(await this.loadTargets(role), additions);
      this.roles.set(role, merged);
      return merged;
    }
    return this.loadTargets(role);
  }

  /** A targets role as loaded or staged, without the additions deferred for it. */
  private async loadTargets(role: string): Promise<Targets> {
    const loaded = this.roles.get(role);
    if (loaded) return loaded;
    const meta = this.snapshot?.signed.roleMeta(role);
    if (!meta) throw new NotFoundError(`the repository has no targets role ${JSON.stringify(role)}`);
    const { bytes, md } = await this.readVerifiedRole(role);
    // Another load of the same role may have finished while this one verified.
    const raced = this.roles.get(role);
    if (raced) return raced;
    this.roles.set(role, md.signed);
    this.publishedModels.set(role, md.signed);
    this.published.set(role, bytes);
    return md.signed;
  }

  /**
   * The published version of targets role `role`, read and verified before anything is built on
   * it (built-on.ts): the length, hashes and version snapshot lists, and the signatures of the
   * keys its published delegators trust for it (each delegator verified first, the same way).
   */
  private async readVerifiedRole(role: string): Promise<{ bytes: Uint8Array; md: Metadata<Targets> }> {
    const meta = this.snapshot?.signed.roleMeta(role);
    if (!meta) throw new NotFoundError(`snapshot does not list ${role}`);
    const file = this.roleFile(role, meta.version);
    const bytes = await this.storage.read(file);
    if (!bytes) throw new NotFoundError(`${file} is missing`);
    if (this.inspectOnly) return { bytes, md: Metadata.fromBytes(bytes, 'targets') };
    try {
      await meta.verifyLengthAndHashes(bytes, file);
      const md = Metadata.fromBytes(bytes, 'targets');
      checkPublishedVersion(role, md.signed.version, meta.version);
      if (role === 'targets') {
        await verifyTopLevelRole(this.rootChain, 'targets', md);
      } else {
        await verifyDelegatedRole(role, md, await this.publishedDelegatorsOf(role));
      }
      return { bytes, md };
    } catch (e) {
      // A file that does not match the snapshot read earlier may be a publisher's that came
      // after it (a registry shows new tags at different times): that is a conflict, retried
      // from the new state; an unchanged timestamp makes it the refusal it is.
      if (e instanceof TufError && e.category === 'untrusted' && this.openedTimestamp) {
        const now = await this.storage.read(TIMESTAMP_PATH);
        if (!sameBytes(now, this.openedTimestamp)) {
          throw new ConflictError(
            `the repository changed while ${file} was read (another publisher wrote timestamp.json): open it again and retry`,
            { cause: e },
          );
        }
      }
      throw e;
    }
  }

  /**
   * The published version of targets role `name`, verified; undefined for a role not published.
   * Read even when an edit or an upload already replaced the role's model here.
   */
  private async publishedModel(name: string): Promise<Targets | undefined> {
    const known = this.publishedModels.get(name);
    if (known || !this.snapshot?.signed.roleMeta(name)) return known;
    if (!this.roles.has(name) && !this.deferred.has(name)) {
      await this.loadTargets(name);
      return this.publishedModels.get(name);
    }
    const { bytes, md } = await this.readVerifiedRole(name);
    this.publishedModels.set(name, md.signed);
    if (!this.published.has(name)) this.published.set(name, bytes);
    return md.signed;
  }

  /**
   * The published roles whose delegations name `role`, as published (staged edits to a delegator
   * do not decide whether its published delegate is authentic). A walk from `targets` that never
   * loads `role` itself or a role whose load is waiting on this walk (delegations may form cycles).
   */
  private async publishedDelegatorsOf(role: string): Promise<{ name: string; delegations: Delegations }[]> {
    const out: { name: string; delegations: Delegations }[] = [];
    const seen = new Set<string>([role, ...this.verifying]);
    this.verifying.add(role);
    try {
      const walk = async (name: string): Promise<void> => {
        if (seen.has(name)) return;
        seen.add(name);
        const d = (await this.publishedModel(name))?.delegations;
        if (!d) return;
        if (d.getRole(role)) out.push({ name, delegations: d });
        for (const child of d.roles ?? []) await walk(child.name);
      };
      await walk('targets');
    } finally {
      this.verifying.delete(role);
    }
    return out;
  }

  private async edit(role: string, fn: TargetsEdit): Promise<void> {
    const t = await this.getTargets(role);
    this.roles.set(role, fn(t));
    this.changed.add(role);
  }

  /**
   * The role a target belongs in: `role` when given; otherwise `targets`, or the hash bin that
   * `targets`' succinct delegation assigns the path to.
   */
  async roleForTarget(path: string, role?: string): Promise<string> {
    if (role !== undefined) return role;
    const bins = await this.hashBins();
    return bins ? bins.succinct.getRoleForTarget(path) : 'targets';
  }

  /**
   * The hash bins that take targets added without a role: `targets`' own succinct delegation, or
   * that of the intermediate role listed last by `targets` (`HASH_BIN_PARENT`, ADR 0025).
   */
  private async hashBins(): Promise<{ parent: string; succinct: SuccinctRoles } | undefined> {
    const d = (await this.getTargets('targets')).delegations;
    if (d?.succinctRoles) return { parent: 'targets', succinct: d.succinctRoles };
    const last = d?.roles?.at(-1);
    if (last?.name !== HASH_BIN_PARENT || !this.hasRole(last.name)) return undefined;
    const succinct = (await this.getTargets(last.name)).delegations?.succinctRoles;
    return succinct ? { parent: last.name, succinct } : undefined;
  }

  /**
   * The hash bins that take targets added without a role, and the role that delegates to them
   * (`targets`, or `HASH_BIN_PARENT` listed last by it: ADR 0025); undefined without bins.
   */
  async hashBinRoles(): Promise<{ parent: string; succinct: SuccinctRoles } | undefined> {
    return this.hashBins();
  }

  private hasRole(name: string): boolean {
    return this.roles.has(name) || this.snapshot?.signed.roleMeta(name) !== undefined;
  }

  /**
   * Where a client searching for `path` stops before it reaches the hash bins that `targets` lists
   * last under `parent` (pre-order depth-first, TUF 5.6.7): the first role that signs `path`, or
   * a terminating delegation for it; undefined when the search reaches the bins. A target put in
   * a bin that such a role hides would be signed but never found, or would silently change which
   * entry clients resolve.
   */
  async searchedBeforeBins(path: string, parent = HASH_BIN_PARENT): Promise<SearchedBeforeBins | undefined> {
    const seen = new Set<string>(['targets']);
    const visit = async (name: string): Promise<SearchedBeforeBins | undefined> => {
      const d = (await this.getTargets(name)).delegations;
      // Bins of targets itself: nothing is searched before them.
      if (name === 'targets' && d?.succinctRoles) return undefined;
      if (d?.succinctRoles) {
        const bin = d.succinctRoles.getRoleForTarget(path);
        if (this.hasRole(bin) && (await this.getTargets(bin)).targets.has(path))
          return { role: bin, why: 'signs' };
        return undefined;
      }
      for (const child of d?.roles ?? []) {
        if (name === 'targets' && child.name === parent) return undefined;
        if (seen.has(child.name) || !child.isDelegatedPath(path)) continue;
        seen.add(child.name);
        if (this.hasRole(child.name)) {
          if ((await this.getTargets(child.name)).targets.has(path))
            return { role: child.name, why: 'signs' };
          const nested = await visit(child.name);
          if (nested) return nested;
        }
        // 5.6.7.2.1: a terminating delegation ends the whole search, found or not.
        if (child.terminating) return { role: child.name, why: 'terminating' };
      }
      return undefined;
    };
    return visit('targets');
  }

  /**
   * Adds or replaces targets (one call for tens of thousands: each role is copied once).
   * A target outside a delegated role's `paths` is refused: clients would never find it there.
   * So is a name the tag-name policy refuses (`checkTagName`: TagNameError), before anything is
   * staged; names already signed are never checked again, so a repository that holds one can
   * still be edited and re-signed.
   * @throws {@link errors!TagNameError | TagNameError} a new target name breaks the tag-name
   *   policy.
   * @throws {@link errors!ConflictError | ConflictError} a target is already signed in the role and
   *   `replace` is not set.
   * @throws {@link errors!UsageError | UsageError} a delegated role is not trusted for a target's
   *   path.
   * @throws {@link errors!NotFoundError | NotFoundError} no role delegates to the role named.
   */
  async addTargets(
    targets: Iterable<TargetFile>,
    options: { role?: string; replace?: boolean } = {},
  ): Promise<void> {
    await this.stageTargets(targets, { ...options, checkNames: true });
  }

  /**
   * Stages `targets` in one pass over them (a bulk may be a generator that makes each target as
   * it is asked for): each is bucketed by role, its name checked when `checkNames`, and only
   * then is anything staged.
   */
  private async stageTargets(
    targets: Iterable<TargetFile>,
    options: { role?: string; replace?: boolean; checkNames?: boolean },
  ): Promise<void> {
    const bins = await this.hashBins();
    const isBin = (role: string) => bins?.succinct.isDelegatedRole(role) === true;
    // Targets bound for a hash bin are deferred (merged when the bin is read or published),
    // and bucketed already compact: a bulk stages a million tags without holding a million
    // TargetFiles or building a bin.
    const defer = (role: string) => isBin(role) && options.replace !== false;
    const byRole = new Map<string, TargetFile[] | StagedBin>();
    for (const t of targets) {
      if (options.checkNames) checkTagName(t.path);
      const role = options.role ?? (bins ? bins.succinct.getRoleForTarget(t.path) : 'targets');
      let list = byRole.get(role);
      if (!list) {
        list = defer(role) ? new StagedBin() : [];
        byRole.set(role, list);
      }
      list.push(t);
    }
    for (const [role, list] of byRole) {
      const paths = list instanceof StagedBin ? list.paths : pathsOf(list);
      // A bin picked by the path's own hash is the bin its delegator trusts for it: checking
      // again would hash every path a second time (a million, in a bulk).
      if (options.role !== undefined || !isBin(role)) await this.checkDelegatedPaths(role, paths);
      if (bins && bins.parent !== 'targets' && isBin(role)) await this.checkBinsReached(paths, bins.parent);
    }
    for (const [role, list] of byRole) {
      if (list instanceof StagedBin) {
        const pending = this.deferred.get(role);
        if (pending) pending.append(list);
        else this.deferred.set(role, list);
        this.changed.add(role);
        continue;
      }
      const current = await this.getTargets(role);
      const next = new Map(current.targets);
      for (const t of list) {
        if (options.replace === false && next.has(t.path)) {
          throw new ConflictError(`target ${JSON.stringify(t.path)} is already signed in ${role}`);
        }
        next.set(t.path, t);
      }
      this.roles.set(role, copyTargets(current, { targets: next }));
      this.changed.add(role);
    }
  }

  /** Refuses targets that clients would never find in a bin under `parent` (see searchedBeforeBins). */
  private async checkBinsReached(paths: Iterable<string>, parent: string): Promise<void> {
    for (const path of paths) {
      const hit = await this.searchedBeforeBins(path, parent);
      if (!hit) continue;
      const why =
        hit.why === 'signs' ? `${hit.role} signs it` : `${hit.role} is a terminating delegation for it`;
      throw new UsageError(
        `target ${JSON.stringify(path)} cannot go into the hash bins: clients search ${JSON.stringify(hit.role)} first and stop there (${why}); expected a path that no earlier delegation holds, so sign it into ${JSON.stringify(hit.role)} instead`,
      );
    }
  }

  /** Refuses targets that no delegator of `role` trusts it for. */
  private async checkDelegatedPaths(role: string, paths: Iterable<string>): Promise<void> {
    if (role === 'targets') return;
    const delegators = await this.delegatorsOf(role);
    if (delegators.length === 0) throw new NotFoundError(`no role delegates to ${JSON.stringify(role)}`);
    for (const path of paths) {
      const trusted = delegators.some(({ delegations }) => {
        if (delegations.succinctRoles) return delegations.succinctRoles.getRoleForTarget(path) === role;
        return delegations.roles?.find((r) => r.name === role)?.isDelegatedPath(path) ?? false;
      });
      if (!trusted) {
        throw new UsageError(
          `target ${JSON.stringify(path)} is outside the paths delegated to ${JSON.stringify(role)}`,
        );
      }
    }
  }

  /**
   * The roles whose delegations name `role`: a walk from `targets` through listed delegations,
   * each role loaded once. Hash bins are leaves here (their delegator is found without loading
   * them), so editing one bin of a million-target repository loads only that bin.
   */
  private async delegatorsOf(role: string): Promise<{ name: string; delegations: Delegations }[]> {
    const out: { name: string; delegations: Delegations }[] = [];
    const seen = new Set<string>();
    const walk = async (name: string): Promise<void> => {
      if (seen.has(name)) return;
      seen.add(name);
      const d = (await this.getTargets(name)).delegations;
      if (!d) return;
      if (d.getRole(role)) out.push({ name, delegations: d });
      for (const child of d.roles ?? []) {
        if (this.roles.has(child.name) || this.snapshot?.signed.roleMeta(child.name)) await walk(child.name);
      }
    };
    await walk('targets');
    return out;
  }

  /** The targets signed directly by a role (staged edits included). */
  async listTargets(role = 'targets'): Promise<TargetFile[]> {
    return [...(await this.getTargets(role)).targets.values()];
  }

  /**
   * The delegated roles (reachable from `targets` through listed delegations whose `paths` cover
   * `path`) that sign `path` themselves, staged edits included. Signing `path` into `targets`
   * would shadow each of them: clients search `targets` first (§5.6.7.1), so its entry wins and
   * the delegated signers' entry is never seen again. Hash bins are not searched: a path has one
   * bin, and it is where `roleForTarget` puts it.
   */
  async delegatedSignersOf(path: string): Promise<string[]> {
    const out: string[] = [];
    const seen = new Set<string>(['targets']);
    const walk = async (name: string): Promise<void> => {
      for (const child of (await this.getTargets(name)).delegations?.roles ?? []) {
        if (seen.has(child.name) || !child.isDelegatedPath(path)) continue;
        seen.add(child.name);
        if (!this.roles.has(child.name) && !this.snapshot?.signed.roleMeta(child.name)) continue;
        if ((await this.getTargets(child.name)).targets.has(path)) out.push(child.name);
        await walk(child.name);
      }
    };
    await walk('targets');
    return out;
  }

  /**
   * Every target in every role reachable from `targets`, with its role (publisher view, staged
   * edits included).
   * @throws {@link errors!UsageError | UsageError} a role delegates to more hash bins than this
   *   repository handles.
   * @throws {@link errors!NotFoundError | NotFoundError} a delegated role's file is missing.
   */
  async *walkTargets(): AsyncGenerator<{ role: string; target: TargetFile }> {
    const seen = new Set<string>();
    const stack = ['targets'];
    while (stack.length > 0) {
      const role = stack.pop() as string;
      if (seen.has(role)) continue;
      seen.add(role);
      const t = await this.getTargets(role);
      for (const target of t.targets.values()) yield { role, target };
      const d = t.delegations;
      if ((d?.succinctRoles?.bitLength ?? 0) > MAX_BIT_LENGTH) {
        throw new UsageError(
          `${role} delegates to ${d?.succinctRoles?.numberOfBins} hash bins: more than this repository handles`,
        );
      }
      const children = d?.roles
        ? d.roles.map((r) => r.name)
        : d?.succinctRoles
          ? [...d.succinctRoles.getRoles()]
          : [];
      stack.push(...children.reverse());
    }
  }

  /**
   * Stages the removal of target `path` from `options.role` (or the role `roleForTarget` picks).
   * @throws {@link errors!NotFoundError | NotFoundError} the role does not sign that target.
   */
  async removeTarget(path: string, options: { role?: string } = {}): Promise<void> {
    const role = await this.roleForTarget(path, options.role);
    const current = await this.getTargets(role);
    if (!current.targets.has(path))
      throw new NotFoundError(`target ${JSON.stringify(path)} is not in ${role}`);
    await this.edit(role, (t) => {
      const next = new Map(t.targets);
      next.delete(path);
      return copyTargets(t, { targets: next });
    });
  }

  /**
   * Adds (or replaces) a delegation from `delegator` to `role`, and creates the role if new.
   * @throws {@link errors!UsageError | UsageError} a keyid of the role has no public key in `keys`,
   *   `delegator` delegates with hash bins, or a new role's name holds control, format (bidi,
   *   zero-width) or separator characters.
   * @throws {@link errors!NotFoundError | NotFoundError} `delegator` is not a targets role of the
   *   repository.
   */
  async addDelegation(delegator: string, role: DelegatedRole, keys: Key[]): Promise<void> {
    checkRoleFileName(role.name);
    const byId = new Map(keys.map((k) => [k.keyid(), k]));
    for (const id of role.keyids) {
      if (!byId.has(id))
        throw new UsageError(`delegation to ${role.name}: no public key given for keyid ${id}`);
    }
    if (role.threshold > new Set(role.keyids).size) {
      throw new UsageError(
        `delegation to ${role.name}: threshold ${role.threshold} exceeds its ${role.keyids.length} key(s)`,
      );
    }
    const before = (await this.getTargets(delegator)).delegations?.roles?.find((r) => r.name === role.name);
    // A new role name is shown to people (delegation lists, signing reviews): like a tag, it
    // must not hide characters (DESIGN rule 13). A role that already exists stays editable.
    if (!before) checkVisibleRoleName(role.name);
    const bins = delegator === 'targets' ? await this.hashBins() : undefined;
    const binsParent = bins !== undefined && bins.parent !== 'targets';
    await this.edit(delegator, (t) => {
      if (t.delegations?.succinctRoles)
        throw new UsageError(`${delegator} delegates with hash bins; it cannot list roles too`);
      const allKeys = new Map(t.delegations?.keys ?? []);
      for (const [id, k] of byId) allKeys.set(id, k);
      const roles = [...(t.delegations?.roles ?? [])];
      const at = roles.findIndex((r) => r.name === role.name);
      if (at >= 0) roles[at] = role;
      // The hash bins' intermediate role stays last (ADR 0025): a new delegation is searched
      // before it, as it would be before targets' own tags.
      else if (binsParent) roles.splice(roles.length - 1, 0, role);
      else roles.push(role);
      return copyTargets(t, {
        delegations: new Delegations({
          keys: pruneKeys(allKeys, roles),
          roles,
          unrecognized: t.delegations?.unrecognized,
        }),
      });
    });
    await this.ensureRole(role.name);
    // New keys or a new threshold: the role must be signed again to satisfy them.
    const same = before && before.threshold === role.threshold && before.keyids.join() === role.keyids.join();
    if (before && !same) await this.edit(role.name, (t) => t);
  }

  /**
   * Stages the removal of the delegation from `delegator` to role `name`; the role's file stays in
   * storage, unlisted.
   * @throws {@link errors!NotFoundError | NotFoundError} `delegator` does not delegate to `name`.
   */
  async removeDelegation(delegator: string, name: string): Promise<void> {
    const t = await this.getTargets(delegator);
    const roles = (t.delegations?.roles ?? []).filter((r) => r.name !== name);
    if (roles.length === (t.delegations?.roles?.length ?? 0)) {
      throw new NotFoundError(`${delegator} does not delegate to ${JSON.stringify(name)}`);
    }
    await this.edit(delegator, (cur) =>
      copyTargets(cur, {
        delegations:
          roles.length === 0 && cur.delegations
            ? undefined
            : new Delegations({ keys: pruneKeys(cur.delegations?.keys ?? new Map(), roles), roles }),
      }),
    );
  }

  /**
   * TAP 15 hash bins: `delegator` delegates to 2^bitLength roles `PREFIX-XX` sharing `keys`;
   * targets added afterwards without a role go to their bin automatically.
   * @throws {@link errors!UsageError | UsageError} `delegator` already delegates, or the bin
   *   parameters are out of range.
   */
  async setSuccinctDelegation(
    delegator: string,
    init: { keys: Key[]; threshold?: number; bitLength: number; namePrefix: string },
  ): Promise<void> {
    if (init.bitLength > MAX_BIT_LENGTH) {
      throw new UsageError(
        `bit_length ${init.bitLength} would make ${2 ** init.bitLength} roles (at most ${MAX_BIT_LENGTH} bits here)`,
      );
    }
    const keyids = [...new Set(init.keys.map((k) => k.keyid()))];
    const succinct = new SuccinctRoles(keyids, init.threshold ?? 1, init.bitLength, init.namePrefix);
    const current = await this.getTargets(delegator);
    if (current.delegations)
      throw new UsageError(`${delegator} already delegates; remove its delegations first`);
    await this.edit(delegator, (t) =>
      copyTargets(t, {
        delegations: new Delegations({
          keys: new Map(init.keys.map((k) => [k.keyid(), k])),
          succinctRoles: succinct,
        }),
      }),
    );
    for (const bin of succinct.getRoles()) await this.ensureRole(bin);
  }

  /**
   * Moves every target of `targets` into TAP 15 hash bins (the layout for very large target
   * sets: adding one target then re-signs one bin, not the whole list). `bitLength` defaults to
   * `defaultBitLength` of the number of targets. When `targets` already lists delegated roles, the
   * bins go under a role `HASH_BIN_PARENT` listed after them (trusted for every path,
   * non-terminating, signed by the bins' keys), which delegates to them: a `delegations` object
   * holds `roles` or `succinct_roles`, never both (TAP 15). The delegated roles keep their tags
   * and are searched before the bins (ADR 0025).
   * @throws {@link errors!UsageError | UsageError} `targets` already uses hash bins; a role of
   *   that name is already delegated; an earlier delegation signs one of `targets`' tags or is
   *   terminating for it (clients would resolve it there, not in its bin); or `bitLength` is out
   *   of range.
   */
  async useHashBins(init: {
    keys: Key[];
    threshold?: number;
    bitLength?: number;
    namePrefix?: string;
  }): Promise<string[]> {
    const top = await this.getTargets('targets');
    if (await this.hashBins()) throw new UsageError('targets already uses hash bins');
    if (top.delegations?.succinctRoles)
      throw new UsageError('targets already delegates with succinct_roles; expected a list of roles or none');
    const listed = top.delegations?.roles ?? [];
    const moved = [...top.targets.values()];
    const bitLength = init.bitLength ?? defaultBitLength(moved.length);
    const namePrefix = init.namePrefix ?? 'bins';
    const succinctInit = {
      keys: init.keys,
      ...(init.threshold !== undefined ? { threshold: init.threshold } : {}),
      bitLength,
      namePrefix,
    };
    if (listed.length === 0) {
      await this.setSuccinctDelegation('targets', succinctInit);
    } else {
      for (const r of listed) {
        if (r.name === HASH_BIN_PARENT || r.name.startsWith(`${namePrefix}-`)) {
          throw new UsageError(
            `targets already delegates to ${JSON.stringify(r.name)}: expected no role named ${HASH_BIN_PARENT} or ${namePrefix}-…, the names of the hash bins and their parent`,
          );
        }
      }
      // A role of that name left in the snapshot by an earlier delegation would come back with
      // its old tags and delegations.
      if (this.hasRole(HASH_BIN_PARENT)) {
        throw new UsageError(
          `the repository already has a role ${JSON.stringify(HASH_BIN_PARENT)} (delegated once, now unlisted): expected none, to hold the hash bins`,
        );
      }
      if (bitLength > MAX_BIT_LENGTH) {
        throw new UsageError(
          `bit_length ${bitLength} would make ${2 ** bitLength} roles (at most ${MAX_BIT_LENGTH} bits here)`,
        );
      }
      await this.checkBinsReached(pathsOf(moved), HASH_BIN_PARENT);
      const keyids = [...new Set(init.keys.map((k) => k.keyid()))];
      await this.addDelegation(
        'targets',
        new DelegatedRole({
          name: HASH_BIN_PARENT,
          keyids,
          threshold: init.threshold ?? 1,
          terminating: false,
          pathHashPrefixes: ALL_HASH_PREFIXES,
        }),
        init.keys,
      );
      await this.setSuccinctDelegation(HASH_BIN_PARENT, succinctInit);
    }
    await this.edit('targets', (t) => copyTargets(t, { targets: new Map() }));
    await this.stageTargets(moved, {}); // names already signed: not checked again
    const bins = await this.hashBins();
    return bins ? [...bins.succinct.getRoles()] : [];
  }

  /**
   * Re-bins: every tag of the hash bins moves into 2^`bitLength` new bins, delegated in place of
   * the old ones by the same role (`targets`, or `HASH_BIN_PARENT`), with the same keys,
   * threshold and name prefix. Returns the new bins. Nothing is published: the bins are staged
   * like any bulk, so `publish` writes them one at a time.
   *
   * Every bin is signed anew, from empty: where a name exists in both layouts (`bins-3a` at 7
   * and at 8 bits: the same number of hex digits) it now covers other paths, so its old tags
   * are not kept, and its version continues from the published one. A bin of the old layout
   * that the new one does not name stays listed in snapshot at its last version, delegated by
   * nobody: a client refuses a snapshot that drops a targets role it saw (TUF 5.5.5), and one
   * never fetches a role no delegation names (ADR 0031).
   * @throws {@link errors!UsageError | UsageError} the repository has no hash bins, or
   *   `bitLength` is out of range.
   */
  async rebinHashBins(bitLength: number): Promise<string[]> {
    const bins = await this.hashBins();
    if (!bins) throw new UsageError('the repository has no hash bins to re-bin');
    if (!Number.isSafeInteger(bitLength) || bitLength < 1 || bitLength > MAX_BIT_LENGTH) {
      throw new UsageError(
        `bit_length must be a whole number from 1 to ${MAX_BIT_LENGTH}, found ${String(bitLength)}`,
      );
    }
    const old = bins.succinct;
    if (old.bitLength === bitLength) return [];
    // Every tag, kept compact; a bin not loaded is parsed and let go (never cached).
    const moved = new StagedBin();
    for (const role of old.getRoles()) {
      let source: Iterable<TargetFile>;
      if (this.roles.has(role) || this.deferred.has(role))
        source = (await this.getTargets(role)).targets.values();
      else if (this.snapshot?.signed.roleMeta(role)) {
        source = (await this.readVerifiedRole(role)).md.signed.targets.values();
      } else continue;
      for (const t of source) moved.push(t);
      this.roles.delete(role);
      this.published.delete(role);
      this.publishedModels.delete(role);
      this.deferred.delete(role);
      this.changed.delete(role);
    }
    const next = new SuccinctRoles(old.keyids, old.threshold, bitLength, old.namePrefix, old.unrecognized);
    await this.edit(bins.parent, (t) =>
      copyTargets(t, {
        delegations: new Delegations({
          keys: t.delegations?.keys ?? new Map(),
          succinctRoles: next,
          unrecognized: t.delegations?.unrecognized,
        }),
      }),
    );
    const now = this.now();
    for (const role of next.getRoles()) {
      const listed = this.snapshot?.signed.roleMeta(role);
      // From empty; a name the old layout had keeps counting its versions (publish signs
      // the listed version + 1).
      this.roles.set(
        role,
        new Targets({
          version: listed?.version ?? 1,
          specVersion: SPECIFICATION_VERSION,
          expires: expiresAfter(now, this.expiry.delegated),
          targets: new Map(),
        }),
      );
      this.changed.add(role);
    }
    await this.stageTargets(moved.targets(), {});
    return [...next.getRoles()];
  }

  /** Creates an empty targets role if the repository does not have it yet. */
  private async ensureRole(name: string): Promise<void> {
    if (this.roles.has(name) || this.snapshot?.signed.roleMeta(name)) return;
    this.roles.set(
      name,
      new Targets({
        version: 1,
        specVersion: SPECIFICATION_VERSION,
        expires: expiresAfter(this.now(), this.expiry.delegated),
        targets: new Map(),
      }),
    );
    this.changed.add(name);
  }

  /**
   * Changes the keys or threshold of a top-level role: adds `add`, removes `remove` (keyids),
   * sets `threshold`. Root changes need both the old and the new root thresholds to sign.
   * @throws {@link errors!NotFoundError | NotFoundError} a keyid to remove is not one of the
   *   role's.
   * @throws {@link errors!UsageError | UsageError} the role would have no keys left, or a threshold
   *   above its number of keys.
   */
  rotateKeys(role: TopLevelRoleName, change: { add?: Key[]; remove?: string[]; threshold?: number }): void {
    const root = this.currentRoot;
    const current = root.role(role);
    const removed = new Set(change.remove ?? []);
    for (const id of removed) {
      if (!current.keyids.includes(id)) throw new NotFoundError(`${role} has no key ${id}`);
    }
    const keyids = current.keyids.filter((id) => !removed.has(id));
    const keys = new Map(root.keys);
    for (const k of change.add ?? []) {
      const id = k.keyid();
      keys.set(id, k);
      if (!keyids.includes(id)) keyids.push(id);
    }
    const threshold = change.threshold ?? current.threshold;
    if (keyids.length === 0) throw new UsageError(`${role} would have no keys left`);
    if (threshold > keyids.length)
      throw new UsageError(`${role}: threshold ${threshold} exceeds its ${keyids.length} key(s)`);
    const roles = new Map(root.roles);
    roles.set(role, new Role(keyids, threshold, current.unrecognized));
    // Keys no role uses any more are dropped from root (revocation).
    const used = new Set([...roles.values()].flatMap((r) => r.keyids));
    for (const id of [...keys.keys()]) if (!used.has(id)) keys.delete(id);
    this.stagedRoot = copyRoot(root, { keys, roles });
  }

  /**
   * Changes the keys or threshold of a delegated role in its delegator's metadata.
   * @throws {@link errors!NotFoundError | NotFoundError} `delegator` does not delegate to `name`.
   * @throws {@link errors!UsageError | UsageError} `addDelegation` refuses the new keys and
   *   threshold.
   * @throws {@link errors!FormatError | FormatError} a threshold below 1.
   */
  async rotateDelegatedKeys(
    delegator: string,
    name: string,
    change: { add?: Key[]; remove?: string[]; threshold?: number },
  ): Promise<void> {
    const t = await this.getTargets(delegator);
    const role = t.delegations?.roles?.find((r) => r.name === name);
    if (!role || !t.delegations)
      throw new NotFoundError(`${delegator} does not delegate to ${JSON.stringify(name)}`);
    const removed = new Set(change.remove ?? []);
    const keyids = role.keyids.filter((id) => !removed.has(id));
    for (const k of change.add ?? []) if (!keyids.includes(k.keyid())) keyids.push(k.keyid());
    const next = new DelegatedRole({
      name,
      keyids,
      threshold: change.threshold ?? role.threshold,
      terminating: role.terminating,
      paths: role.paths,
      pathHashPrefixes: role.pathHashPrefixes,
      unrecognized: role.unrecognized,
    });
    const keys = [
      ...keyids.map((id) => t.delegations?.keys.get(id)).filter((k): k is Key => !!k),
      ...(change.add ?? []),
    ];
    await this.addDelegation(delegator, next, keys);
    // The role itself must be signed again, by its new keys.
    await this.edit(name, (cur) => cur);
  }

  /** Signatures gathered elsewhere for the staged version of a role (see signing requests). */
  addStagedSignatures(role: string, signatures: Iterable<Signature>): void {
    this.stagedSignatures.set(role, [...(this.stagedSignatures.get(role) ?? []), ...signatures]);
  }

  /**
   * The bytes of published metadata this object holds in memory: the timestamp, the snapshot and
   * every targets role it has read or written, each also held parsed. What keeping the object
   * costs grows in proportion (a trust server bounds the repositories it keeps by it).
   */
  get heldBytes(): number {
    let n = (this.openedTimestamp?.length ?? 0) + (this.snapshotBytes?.length ?? 0);
    for (const bytes of this.published.values()) n += bytes.length;
    return n;
  }

  /** Whether anything is staged for publishing. */
  get hasChanges(): boolean {
    return this.stagedRoot !== undefined || this.changed.size > 0;
  }

  /** Signs `signed` with every held signer whose key `delegatorKeys` authorises for the role. */
  private async signRole<T extends AnySigned>(
    role: string,
    signed: T,
    authorisers: { role: Role | SuccinctRoles; keys: ReadonlyMap<string, Key> }[],
    /** The canonical bytes of `signed`, when the caller wrote them already (a hash bin). */
    signedBytes?: Uint8Array,
  ): Promise<Metadata<T>> {
    const pre = this.presigned.get(role);
    // Metadata signed elsewhere keeps the canonical bytes of its received `signed`: what its
    // signatures are over, and not worth encoding again (a large targets role).
    const md = new Metadata<T>(
      signed,
      pre?.signatures.values(),
      undefined,
      signedBytes ?? (pre && pre.signed === signed ? pre.signedBytes() : undefined),
    );
    for (const s of this.stagedSignatures.get(role) ?? []) md.signatures.set(s.keyid, s);
    for (const { role: r, keys } of authorisers) {
      for (const keyid of r.keyids) {
        const material = keys.get(keyid)?.materialId();
        const signer = material === undefined ? undefined : this.signers.get(material);
        if (!signer) continue;
        // Keep a signature that verifies; replace anything else (a junk or stale one).
        const have = md.signatures.get(keyid);
        if (have && (await signer.key.verify(md.signedBytes(), have.sig))) continue;
        const sig = await signer.sign(md.signedBytes());
        md.signatures.set(keyid, new Signature(keyid, sig.sig));
      }
    }
    return md;
  }

  /** The delegating role and keys of a targets role, as they will be published. */
  private async authorisersOf(
    role: string,
  ): Promise<{ role: Role | SuccinctRoles; keys: ReadonlyMap<string, Key> }[]> {
    if (role === 'targets') {
      return [{ role: this.currentRoot.role('targets'), keys: this.currentRoot.keys }];
    }
    const out = [];
    for (const { delegations } of await this.delegatorsOf(role)) {
      const r = delegations.getRole(role);
      if (r) out.push({ role: r, keys: delegations.keys });
    }
    return out;
  }

  /**
   * Builds and signs everything that changed, without writing. Returns the new metadata in
   * publish order, or throws a UsageError naming the roles that lack signatures (unless
   * `allowPending`, which returns those as `pending` for an offline signing ceremony).
   * @throws {@link errors!UsageError | UsageError} a role lacks signatures (the keys that would
   *   sign were not given) and `allowPending` is not set.
   */
  async prepare(
    options: { allowPending?: boolean; forceTimestamp?: boolean; forceSnapshot?: boolean } = {},
  ): Promise<{
    files: { path: string; bytes: Uint8Array; role: string; version: number }[];
    pending: PendingRole[];
    prepared: Map<string, Metadata>;
  }> {
    for (const role of [...this.deferred.keys()]) await this.getTargets(role);
    return this.prepareWith(await this.plan(options), options, new Map());
  }

  /**
   * `prepare` for `plan`, except for the roles in `streamed`: already signed and written by
   * `publishStreamed`, they are listed in snapshot with the meta given and not signed again.
   */
  private async prepareWith(
    plan: PublishPlan,
    options: { allowPending?: boolean },
    streamed: ReadonlyMap<string, MetaFile>,
  ): Promise<{
    files: { path: string; bytes: Uint8Array; role: string; version: number }[];
    pending: PendingRole[];
    prepared: Map<string, Metadata>;
  }> {
    await this.checkPresignedPaths();
    const prepared = new Map<string, Metadata>();
    const files: { path: string; bytes: Uint8Array; role: string; version: number }[] = [];
    const pending: PendingRole[] = [];
    const oldRoot = this.root;

    // Root: signed by a threshold of the old and of the new root keys (spec 5.3.4).
    let newRoot: Metadata<Root> | undefined;
    if (plan.root && this.stagedRoot) {
      const { version, expires } = plan.root;
      const first = !this.timestamp;
      const signed: Root =
        this.presignedSigned<Root>('root') ?? copyRoot(this.stagedRoot, { version, expires });
      const rootRole = (r: Root) => ({ role: r.role('root'), keys: r.keys });
      newRoot = await this.signRole(
        'root',
        signed,
        first ? [rootRole(signed)] : [rootRole(oldRoot.signed), rootRole(signed)],
      );
      prepared.set('root', newRoot);
      if (this.checkedHere('root', options)) {
        const status = [await newRoot.delegateStatus('root', newRoot)];
        if (!first) status.unshift(await oldRoot.delegateStatus('root', newRoot));
        if (status.some((s) => !s.verified)) pending.push({ role: 'root', metadata: newRoot, status });
      }
      const bytes = newRoot.toBytes();
      files.push({ path: metadataPath(rootFileName(version)), bytes, role: 'root', version });
    }

    // Targets roles, each signed by every role that delegates to it.
    const snapshotMeta = new Map(this.snapshot?.signed.meta ?? []);
    for (const [role, meta] of streamed) snapshotMeta.set(metaFileName(role), meta);
    for (const [role, { version, expires }] of plan.targets) {
      if (streamed.has(role)) continue;
      const signed: Targets =
        this.presignedSigned<Targets>(role) ?? copyTargets(await this.getTargets(role), { version, expires });
      const authorisers = await this.authorisersOf(role);
      if (authorisers.length === 0) throw new UsageError(`no role delegates to ${JSON.stringify(role)}`);
      const md = await this.signRole(role, signed, authorisers);
      prepared.set(role, md);
      if (this.checkedHere(role, options)) {
        const status: VerificationResult[] = [];
        for (const a of authorisers) {
          status.push(await verifyThreshold(role, a.role, a.keys, md));
        }
        if (status.some((s) => !s.verified)) pending.push({ role, metadata: md, status });
      }
      const bytes = fileBytes(md);
      files.push({ path: this.roleFile(role, version), bytes, role, version });
      snapshotMeta.set(metaFileName(role), sha256Meta(bytes, version));
    }

    // Snapshot and timestamp: signed by their keys in the root that will be live.
    const rootAfter = newRoot?.signed ?? oldRoot.signed;
    const signOnline = async <T extends Snapshot | Timestamp>(signed: T): Promise<Metadata<T>> => {
      const authoriser = { role: rootAfter.role(signed.type), keys: rootAfter.keys };
      const md = await this.signRole(signed.type, signed, [authoriser]);
      const st = await verifyThreshold(signed.type, authoriser.role, authoriser.keys, md);
      prepared.set(signed.type, md);
      if (!st.verified) pending.push({ role: signed.type, metadata: md, status: [st] });
      return md;
    };
    let snapshotInfo = this.timestamp?.signed.snapshotMeta;
    if (plan.snapshot) {
      const { version, expires } = plan.snapshot;
      const signed = new Snapshot({
        version,
        specVersion: SPECIFICATION_VERSION,
        expires,
        meta: sortedMeta(snapshotMeta),
      });
      const md = await signOnline(signed);
      const bytes = fileBytes(md);
      files.push({
        path: roleStoragePath('snapshot', version, rootAfter.consistentSnapshot),
        bytes,
        role: 'snapshot',
        version,
      });
      snapshotInfo = sha256Meta(bytes, version);
    }
    if (plan.timestamp && snapshotInfo) {
      const { version, expires } = plan.timestamp;
      const signed = new Timestamp({
        version,
        specVersion: SPECIFICATION_VERSION,
        expires,
        snapshotMeta: snapshotInfo,
      });
      const md = await signOnline(signed);
      files.push({ path: TIMESTAMP_PATH, bytes: md.toBytes(), role: 'timestamp', version });
    }

    if (pending.length > 0 && !options.allowPending) {
      // Metadata staged from an untrusted source that lacks its signatures is refused input.
      const refused = pending.find((p) => this.untrusted.has(p.role));
      if (refused) {
        throw new ThresholdError(
          `${refused.role} version ${refused.metadata.signed.version}: ${refused.status
            .filter((s) => !s.verified)
            .map((s) => `${s.signed.length} of ${s.threshold} signatures needed`)
            .join('; ')}`,
        );
      }
      // The publisher's own shortfall, not untrusted input: the keys that would sign were not
      // given, so it is a UsageError (fix the call), not a ThresholdError (refuse what came in).
      throw new UsageError(
        `not enough signatures to publish: ${pending
          .map((p) => {
            const missing = new Set(
              p.status.flatMap((s) =>
                s.verified
                  ? []
                  : [
                      `${s.signed.length} of ${s.threshold} needed, unsigned: ${s.unsigned.join(', ') || 'none'}`,
                    ],
              ),
            );
            return `${p.role} (${[...missing].join('; ')})`;
          })
          .join('; ')}: the keys that would sign were not given`,
      );
    }
    return { files, pending, prepared };
  }

  /**
   * Whether `prepare` counts the signatures of `role` itself. Not for metadata staged from an
   * untrusted source (`stageSignedMetadata`) on the way to a publish: the publish's self-check
   * verifies every one of its signatures as a client would, before anything is written, and
   * refuses it with the client's ThresholdError; checking them here too verified each
   * signature of an upload twice. A signing request (`allowPending`) still reports them.
   */
  private checkedHere(role: string, options: { allowPending?: boolean }): boolean {
    return options.allowPending === true || !this.untrusted.has(role);
  }

  /** What the next publish signs (see `planPublish`), from this repository's state. */
  /** Nothing is signed over what was opened without verifying it (ADR 0032). */
  private refuseIfInspectOnly(): void {
    if (this.inspectOnly) {
      throw new UsageError(
        'this repository was opened for inspection only (inspectOnly), without verifying it: open it again to sign or publish',
      );
    }
  }

  private async plan(options: { forceTimestamp?: boolean; forceSnapshot?: boolean }): Promise<PublishPlan> {
    this.refuseIfInspectOnly();
    const staged = this.stagedRoot;
    const published =
      this.timestamp && this.snapshot ? { timestamp: this.timestamp, snapshot: this.snapshot } : undefined;
    const changed = new Map<string, number>();
    // A bin with deferred additions may not be loaded: its version is the one snapshot lists.
    for (const role of this.changed) changed.set(role, this.roles.get(role)?.version ?? 1);
    return planPublish({
      published: published && {
        root: { version: this.root.signed.version, snapshot: this.root.signed.role('snapshot') },
        snapshot: { version: published.snapshot.signed.version, expires: published.snapshot.signed.expires },
        timestamp: { version: published.timestamp.signed.version },
        listedVersion: (role) => published.snapshot.signed.roleMeta(role)?.version,
      },
      stagedRoot: staged && { version: staged.version, snapshot: staged.role('snapshot') },
      changed,
      // Keys and thresholds are all that decide acceptance, and the staged root has the ones the
      // root to be live will have (whether it is signed here or elsewhere).
      notAccepted:
        !published || (staged === undefined && this.checkedUnder === this.root.signed)
          ? new Set()
          : await this.rolesNeedingResign(new Metadata(staged ?? this.root.signed)),
      presigned: new Map(
        [...this.presigned].map(([role, md]) => [
          role,
          { version: md.signed.version, expires: md.signed.expires },
        ]),
      ),
      expiry: this.expiry,
      now: this.now(),
      forceSnapshot: options.forceSnapshot,
      forceTimestamp: options.forceTimestamp,
    });
  }

  /**
   * The top-level roles whose published metadata `root` does not accept, checked only for roles
   * not already being re-signed. Costs one verification each; the targets file is parsed only
   * when targets is not already loaded for an edit.
   */
  private async rolesNeedingResign(root: Metadata<Root>): Promise<Set<OnlineOrTargets>> {
    const out = new Set<OnlineOrTargets>();
    const check = async (role: OnlineOrTargets, md: () => Promise<Metadata>) => {
      const r = await root.delegateStatus(role, await md(), { stopAtThreshold: true });
      if (!r.verified) out.add(role);
    };
    if (this.timestamp) await check('timestamp', async () => this.timestamp as Metadata);
    if (this.snapshot) await check('snapshot', async () => this.snapshot as Metadata);
    if (!this.changed.has('targets') && this.snapshot?.signed.roleMeta('targets')) {
      await check('targets', async () =>
        Metadata.fromBytes(await this.publishedRoleBytes('targets'), 'targets'),
      );
    }
    return out;
  }

  /** The signed part of an applied signing request for `role` (its version is checked by the plan). */
  private presignedSigned<T extends AnySigned>(role: string): T | undefined {
    return this.presigned.get(role)?.signed as T | undefined;
  }

  /**
   * A signing request for the staged change to `role` (root by default): the exact metadata to
   * sign, the thresholds it must meet and a readable summary, for key holders to sign offline.
   * Signatures from the signers this repository holds are already in it.
   * @throws {@link errors!StateError | StateError} nothing is staged for `role`.
   */
  async createSigningRequest(role = 'root'): Promise<SigningRequest> {
    if (role === 'root' && !this.stagedRoot) this.stagedRoot = this.root.signed; // re-sign (e.g. to extend expiry)
    if (role !== 'root' && !['snapshot', 'timestamp'].includes(role)) await this.edit(role, (t) => t);
    const { prepared } = await this.prepare({ allowPending: true });
    const md = prepared.get(role);
    if (!md) throw new StateError(`nothing to sign for ${role}`);
    const required: Parameters<typeof newSigningRequest>[2] = [];
    let before: Root | Targets | undefined;
    if (role === 'root') {
      const first = !this.timestamp;
      before = first ? undefined : this.root.signed;
      const next = md.signed as Root;
      if (!first)
        required.push({
          by: `root version ${this.root.signed.version}`,
          role: this.root.signed.role('root'),
          keys: this.root.signed.keys,
        });
      required.push({
        by: `root version ${next.version}${first ? '' : ' (new)'}`,
        role: next.role('root'),
        keys: next.keys,
      });
    } else if (role === 'snapshot' || role === 'timestamp') {
      const r = this.currentRoot;
      required.push({ by: role, role: r.role(role), keys: r.keys });
    } else {
      before = this.published.has(role)
        ? Metadata.fromBytes(this.published.get(role) as Uint8Array, 'targets').signed
        : undefined;
      for (const a of await this.authorisersOf(role)) required.push({ by: role, role: a.role, keys: a.keys });
    }
    return newSigningRequest(md, role, required, describeChanges(before, md.signed as Root | Targets));
  }

  /**
   * Stages the metadata of a signed request for publishing, exactly as signed. `publish` then
   * checks its thresholds like any other role.
   * @throws {@link errors!UsageError | UsageError} the request's metadata is not of the type its
   *   role needs.
   */
  applySigningRequest(request: SigningRequest): void {
    const md = request.metadata;
    if (
      md.signed.type !==
      (request.role === 'root' || request.role === 'snapshot' || request.role === 'timestamp'
        ? request.role
        : 'targets')
    ) {
      throw new UsageError(`the request for ${request.role} holds ${md.signed.type} metadata`);
    }
    this.presigned.set(request.role, md);
    if (md.signed.type === 'root') this.stagedRoot = md.signed;
    else if (md.signed.type === 'targets') {
      this.roles.set(request.role, md.signed);
      this.changed.add(request.role);
    }
  }

  /**
   * Stages metadata signed elsewhere, from a source this repository does not trust (a trust
   * server's upload): a new root, or a new version of the targets role or a delegated role,
   * published exactly as signed. Its version must be the next one: the current version + 1, or 1
   * for a role not published yet. `publish` then checks the delegated paths of its targets, and
   * its self-check verifies the result as a client would, every signature and threshold of the
   * staged metadata included (once: a shortfall is the client's ThresholdError).
   * @throws {@link errors!UsageError | UsageError} `role` is snapshot or timestamp (this
   *   repository signs those).
   * @throws {@link errors!FormatError | FormatError} the metadata is not of the type `role` needs.
   * @throws {@link errors!UnsafeNameError | UnsafeNameError} a role name that cannot be a file name.
   * @throws {@link errors!StaleVersionError | StaleVersionError} its version is not above the
   *   current one (another publisher got there first).
   * @throws {@link errors!VersionMismatchError | VersionMismatchError} its version skips one.
   */
  stageSignedMetadata(role: string, md: Metadata): void {
    if (role === 'snapshot' || role === 'timestamp') {
      throw new UsageError(`${role} is signed by this repository's online keys; it cannot be staged`);
    }
    const type = role === 'root' ? 'root' : 'targets';
    if (md.signed.type !== type) {
      throw new FormatError(
        `expected ${type} metadata for the role ${JSON.stringify(role)}, found ${md.signed.type}`,
      );
    }
    if (role !== 'root') checkRoleFileName(role);
    const current =
      role === 'root'
        ? this.timestamp
          ? this.root.signed.version
          : 0
        : (this.snapshot?.signed.roleMeta(role)?.version ?? 0);
    const version = md.signed.version;
    if (version <= current) {
      throw new StaleVersionError(
        `${role}: version ${version} is not newer than the current version ${current} (re-read the repository and sign again)`,
        role,
        current,
      );
    }
    if (version !== current + 1) {
      throw new VersionMismatchError(`${role}: expected version ${current + 1}, found ${version}`);
    }
    this.presigned.set(role, md);
    this.untrusted.add(role);
    if (md.signed.type === 'root') this.stagedRoot = md.signed;
    else if (md.signed.type === 'targets') {
      this.roles.set(role, md.signed);
      this.changed.add(role);
    }
  }

  /**
   * Refuses a delegated role signed elsewhere that lists a target its delegators do not trust it
   * for: a client would never find that target there, so the upload is wrong (the same rule
   * `addTargets` applies to edits made here).
   */
  private async checkPresignedPaths(): Promise<void> {
    for (const [role, md] of this.presigned) {
      if (role === 'targets' || md.signed.type !== 'targets') continue;
      const delegators = await this.delegatorsOf(role);
      if (delegators.length === 0) throw new ValueError(`no role delegates to ${JSON.stringify(role)}`);
      for (const path of (md.signed as Targets).targets.keys()) {
        const trusted = delegators.some(({ delegations }) =>
          delegations.succinctRoles
            ? delegations.succinctRoles.getRoleForTarget(path) === role
            : (delegations.roles?.find((r) => r.name === role)?.isDelegatedPath(path) ?? false),
        );
        if (!trusted) {
          throw new ValueError(
            `${role}: target ${JSON.stringify(path)} is outside the paths its delegators trust it for`,
          );
        }
      }
    }
  }

  /**
   * Publishes everything that changed. Holds the storage lock, checks that nobody published
   * since this repository was opened, verifies the new metadata as a client would, then writes
   * every new file first and `metadata/timestamp.json` last.
   * @throws {@link errors!UsageError | UsageError} a role that changed lacks signatures (the keys
   *   that would sign were not given).
   * @throws {@link errors!ConflictError | ConflictError} another publisher holds the lock
   *   (PublishLockedError) or published since this repository was opened.
   * @throws {@link errors!TufError | TufError} the self-check refused the new metadata
   *   (ExpiredError, RollbackError, VersionMismatchError, …).
   * @throws {@link errors!StorageError | StorageError} storage could not be written.
   */
  async publish(options: PublishOptions = {}): Promise<PublishResult> {
    const { signal } = options;
    this.refuseIfInspectOnly();
    // Cancellation stops between two files, never inside one, and never after timestamp.json:
    // what was written before it is new files no client reads yet (DESIGN rule 10).
    const stopIfAborted = () => {
      if (signal?.aborted) throw abortedError(signal, 'publish');
    };
    stopIfAborted();
    // Hash bins with deferred additions are signed, written and let go one at a time, before
    // the snapshot that lists them: only where no client reads a bin file before that snapshot
    // (consistent snapshots: each version is a new file). Otherwise a failed self-check would
    // leave bins in place that the published snapshot does not match.
    if (this.deferred.size > 0 && this.root.signed.consistentSnapshot && this.currentRoot.consistentSnapshot)
      return this.publishStreamed(options, stopIfAborted);
    const { files, prepared } = await this.prepare(options);
    if (files.length === 0) return { written: [], versions: new Map() };
    stopIfAborted();
    const release = await this.storage.lock();
    try {
      this.checkNotMoved(await this.storage.read(TIMESTAMP_PATH));
      await selfCheck(this.selfCheckInput(files));
      const written = await this.writeFiles(files, stopIfAborted);
      const result = { written, versions: new Map(files.map((f) => [f.role, f.version])) };
      await options.beforeRelease?.(result, this.storage);
      this.commit(files, prepared);
      return result;
    } finally {
      await release();
    }
  }

  /**
   * `publish` of a change that adds targets to hash bins (a bulk of a million tags, or one tag),
   * bin by bin: under the lock, each bin is merged with its additions, signed, written as its new
   * version and let go before the next, and only its snapshot entry (version, length, sha256)
   * is kept. Then the rest is prepared as usual, the whole checked as a client would (each bin
   * read back and verified, a batch at a time), and the other files written, timestamp last.
   * A failure part-way leaves new bin files that no snapshot lists, as a crash would.
   */
  private async publishStreamed(options: PublishOptions, stopIfAborted: () => void): Promise<PublishResult> {
    const bins = [...this.deferred.keys()].sort();
    const plan = await this.plan(options);
    const release = await this.storage.lock();
    try {
      this.checkNotMoved(await this.storage.read(TIMESTAMP_PATH));
      const streamed = new Map<string, MetaFile>();
      const written: string[] = [];
      // Bin writes overlap the signing of the next bins (each write waits on an fsync), as many
      // as the storage allows; every one of them ends before anything that lists them is written.
      const inFlight = Math.max(1, this.storage.parallelWrites ?? 1);
      const writing: Promise<void>[] = [];
      // Every write started ends before the lock is released, whatever stopped the loop.
      let stopped: { error: unknown } | undefined;
      try {
        for (const role of bins) {
          stopIfAborted();
          const { path, bytes, version } = await this.signBin(role, plan, role === bins[0]);
          const write = this.storage.write(path, bytes);
          write.catch(() => undefined); // awaited below
          writing.push(write);
          written.push(path);
          streamed.set(role, sha256Meta(bytes, version));
          if (writing.length >= inFlight) await writing.shift();
        }
      } catch (e) {
        stopped = { error: e };
      }
      const results = await Promise.allSettled(writing);
      if (stopped) throw stopped.error;
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      stopIfAborted();
      const { files, prepared } = await this.prepareWith(plan, {}, streamed);
      await selfCheck({
        ...this.selfCheckInput(files),
        streamed: {
          roles: bins,
          read: async (role) => {
            const path = this.roleFile(role, (streamed.get(role) as MetaFile).version);
            const b = await this.storage.read(path);
            if (!b) throw new NotFoundError(`${path} is missing after it was written`);
            return b;
          },
        },
      });
      written.push(...(await this.writeFiles(files, stopIfAborted)));
      const versions = new Map(files.map((f) => [f.role, f.version]));
      for (const [role, meta] of streamed) versions.set(role, meta.version);
      await options.beforeRelease?.({ written, versions }, this.storage);
      this.commit(files, prepared);
      return { written, versions };
    } finally {
      await release();
    }
  }

  /**
   * One bin of `publishStreamed`: its current version merged with its deferred additions,
   * signed at the planned version and expiry, as file bytes; the model is let go (read again
   * from storage if asked for). With `checkThreshold` (the first bin), refuses a bin its
   * delegator's threshold does not accept, before anything is written: every bin of one
   * delegation has the same keys and so the same signers, and the self-check verifies every bin
   * before anything lists it (checking each here too cost ≈ 1 s of a 1M-tag bulk).
   */
  private async signBin(
    role: string,
    plan: PublishPlan,
    checkThreshold: boolean,
  ): Promise<{ path: string; bytes: Uint8Array; version: number }> {
    const planned = plan.targets.get(role);
    if (!planned) throw new StateError(`${role} has additions but is not planned for publishing`);
    const { version, expires } = planned;
    const current = await this.loadTargets(role);
    // The merged entries are a read-only view, and the signed bytes are written from the compact
    // entries directly (bin-encoding.ts): no TargetFile or JSON object per tag.
    const merged = new MergedBinTargets(current.targets, this.deferred.get(role) ?? new StagedBin());
    const signed = copyTargets(current, { targets: merged, version, expires });
    const authorisers = await this.authorisersOf(role);
    if (authorisers.length === 0) throw new UsageError(`no role delegates to ${JSON.stringify(role)}`);
    const md = await this.signRole(role, signed, authorisers, targetsSignedBytes(signed));
    for (const a of checkThreshold ? authorisers : []) {
      const st = await verifyThreshold(role, a.role, a.keys, md);
      if (!st.verified) {
        throw new UsageError(
          `not enough signatures to publish: ${role} (${st.signed.length} of ${st.threshold} needed, unsigned: ${st.unsigned.join(', ') || 'none'}): the keys that would sign were not given`,
        );
      }
    }
    this.roles.delete(role);
    this.published.delete(role);
    this.publishedModels.delete(role);
    return { path: this.roleFile(role, version), bytes: fileBytes(md, true), version };
  }

  /** Refuses to publish over a timestamp that another publisher wrote since this one opened. */
  private checkNotMoved(onDisk: Uint8Array | undefined): void {
    if (!sameBytes(onDisk, this.openedTimestamp)) {
      throw new ConflictError(
        'the repository changed since it was opened (another publisher wrote timestamp.json): open it again and retry',
      );
    }
  }

  /** What the self-check needs to verify `files` over what is published. */
  private selfCheckInput(files: { role: string; bytes: Uint8Array }[]): SelfCheckInput {
    return {
      now: this.now(),
      files,
      published:
        this.openedTimestamp && this.snapshotBytes
          ? { root: this.root.toBytes(), timestamp: this.openedTimestamp, snapshot: this.snapshotBytes }
          : undefined,
      publishedRole: (role) => this.publishedRoleBytes(role),
      delegatorsOf: async (role) => (await this.delegatorsOf(role)).map((d) => d.name),
    };
  }

  /** Writes `files`: every new file first, then `root.json`, `timestamp.json` last (rule 10). */
  private async writeFiles(
    files: { path: string; bytes: Uint8Array; role: string }[],
    stopIfAborted: () => void,
  ): Promise<string[]> {
    const written: string[] = [];
    const last = files.filter((f) => f.path === TIMESTAMP_PATH);
    const rootFile = files.filter((f) => f.role === 'root').at(-1);
    for (const f of files) {
      if (f.path === TIMESTAMP_PATH) continue;
      stopIfAborted();
      await this.storage.write(f.path, f.bytes);
      written.push(f.path);
    }
    stopIfAborted();
    if (rootFile) {
      await this.storage.write(LATEST_ROOT_PATH, rootFile.bytes);
      written.push(LATEST_ROOT_PATH);
    }
    stopIfAborted();
    for (const f of last) {
      await this.storage.write(f.path, f.bytes);
      written.push(f.path);
    }
    return written;
  }

  /**
   * Re-signs timestamp (and snapshot when it would expire first): for a cron job.
   * @throws {@link errors!StateError | StateError} there are staged changes (publish them instead).
   * @throws {@link errors!TufError | TufError} as `publish`.
   */
  async refreshTimestamp(options: Pick<PublishOptions, 'beforeRelease'> = {}): Promise<PublishResult> {
    if (this.hasChanges) throw new StateError('there are staged changes: publish them instead');
    return this.publish({ ...options, forceTimestamp: true });
  }

  private async publishedRoleBytes(role: string): Promise<Uint8Array> {
    return this.published.get(role) ?? (await this.readVerifiedRole(role)).bytes;
  }

  /** The published metadata of a role, signatures included (for status reports). */
  async publishedMetadata(role: string): Promise<Metadata> {
    if (role === 'root') return this.root;
    if (role === 'timestamp' && this.timestamp) return this.timestamp;
    if (role === 'snapshot' && this.snapshot) return this.snapshot;
    return Metadata.fromBytes(await this.publishedRoleBytes(role), 'targets');
  }

  /** After a successful publish, what was written becomes the published state. */
  private commit(files: { bytes: Uint8Array; role: string }[], prepared: Map<string, Metadata>): void {
    for (const f of files) {
      const md = prepared.get(f.role) as Metadata;
      if (f.role === 'root') {
        this.root = md as Metadata<Root>;
        this.rootChain = [md as Metadata<Root>];
      } else if (f.role === 'timestamp') {
        this.timestamp = md as Metadata<Timestamp>;
        this.openedTimestamp = f.bytes;
      } else if (f.role === 'snapshot') {
        this.snapshot = md as Metadata<Snapshot>;
        this.snapshotBytes = f.bytes;
      } else {
        this.roles.set(f.role, md.signed as Targets);
        this.published.set(f.role, f.bytes);
        this.publishedModels.set(f.role, md.signed as Targets);
      }
    }
    // The self-check verified timestamp, snapshot and targets, as now published, under this root.
    this.checkedUnder = this.root.signed;
    this.stagedRoot = undefined;
    this.stagedSignatures.clear();
    this.presigned.clear();
    this.untrusted.clear();
    this.changed.clear();
    this.deferred.clear();
  }
}

export { checkRoleFileName } from '../metadata/layout.js';

/**
 * The file form of metadata: python-tuf's indented layout, except for roles with more than
 * LARGE_ROLE entries, written compact: as canonical JSON when that is valid JSON (no raw control
 * characters, which PEM keys would bring), since its signed part is the bytes already signed and
 * writing 100k targets then costs no second encoding; else python-tuf's compact layout.
 * `compact` writes a smaller role compact too: hash bins published one at a time (ADR 0031),
 * machine-made files of about √N tags, where the indented layout was a second encoding of every
 * bin, about a tenth of a million-tag bulk's CPU time.
 */
const LARGE_ROLE = 1000;
function fileBytes(md: Metadata, compact = false): Uint8Array {
  const s = md.signed;
  const entries = s.type === 'targets' ? s.targets.size : s.type === 'snapshot' ? s.meta.size : 0;
  if (entries <= LARGE_ROLE && !compact) return md.toBytes('pretty');
  const canonical = md.toBytes('canonical');
  return hasControlByte(canonical) ? md.toBytes('compact') : canonical;
}

/**
 * Whether `bytes` hold a byte below 0x20 (raw in canonical JSON, invalid in JSON). A plain
 * loop: `some` with a callback per byte was 2 % of a million-tag bulk's time.
 */
function hasControlByte(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if ((bytes[i] as number) < 0x20) return true;
  return false;
}

function pruneKeys(keys: ReadonlyMap<string, Key>, roles: readonly DelegatedRole[]): Map<string, Key> {
  const used = new Set(roles.flatMap((r) => r.keyids));
  return new Map([...keys].filter(([id]) => used.has(id)));
}

function sortedMeta(m: Map<string, MetaFile>): Map<string, MetaFile> {
  return new Map([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Invisible or line-breaking characters: C0/C1 controls, format (bidi, zero-width), separators, lone surrogates. */
const HIDDEN_IN_NAME = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

/** Refuses a new delegated role name a person could not read as it is. */
function checkVisibleRoleName(name: string): void {
  const m = HIDDEN_IN_NAME.exec(name);
  if (m) {
    throw new UsageError(
      `role name ${showTagName(name)}: expected visible characters only, found ${showTagName(m[0])} at position ${m.index} (control, format or separator characters are refused in new role names)`,
    );
  }
}
