/** The `signed` portion of each role: `Root`, `Timestamp`, `Snapshot` and `Targets`. */
import { Key } from '../crypto/key.js';
import { FormatError } from '../errors.js';
import {
  type JsonObject,
  jsonObject,
  mapToObject,
  readBoolean,
  readField,
  readInteger,
  readObject,
  readString,
  unrecognized,
} from './fields.js';
import { MetaFile, type TargetFile } from './files.js';
import { metaFileName } from './layout.js';
import { ownFields, ownMap } from './own.js';
import { Delegations, Role, TOP_LEVEL_ROLE_NAMES, type TopLevelRoleName } from './roles.js';
import { TargetsMap } from './targets-map.js';
import { formatExpires, isExpiredAt, parseExpires } from './time.js';

/** The version of the TUF specification tufa writes; it reads any 1.x. */
export const SPECIFICATION_VERSION = '1.0.31';

/**
 * The `_type` of a role's `signed` part: one of the four top-level role types (a delegated role's
 * metadata is of type `targets`).
 */
export type RoleType = 'root' | 'timestamp' | 'snapshot' | 'targets';

/** The fields every role's `signed` part has (spec 4.2), as constructors take them. */
export interface SignedCommon {
  /** The metadata version, an integer of at least 1. */
  version: number;
  /** The `spec_version` the file claims; tufa reads any 1.x. */
  specVersion: string;
  /** When the metadata expires; whole seconds, UTC (DESIGN rule 3). */
  expires: Date;
  /** Fields this version does not know, re-emitted unchanged when the metadata is written. */
  unrecognized?: JsonObject | undefined;
}

const COMMON_FIELDS = ['_type', 'version', 'spec_version', 'expires'] as const;

function readCommon(
  o: JsonObject,
  type: RoleType,
  path: string,
): Required<Omit<SignedCommon, 'unrecognized'>> {
  const t = readString(readField(o, '_type', path), `${path}._type`);
  if (t !== type)
    throw new FormatError(
      `expected _type ${JSON.stringify(type)}, found ${JSON.stringify(t)}`,
      `${path}._type`,
    );
  const specVersion = readString(readField(o, 'spec_version', path), `${path}.spec_version`);
  const parts = specVersion.split('.');
  if (parts.length < 2 || parts.length > 3 || !parts.every((p) => /^\d+$/.test(p)) || parts[0] !== '1') {
    throw new FormatError(
      `expected a 1.x specification version, found ${JSON.stringify(specVersion)}`,
      `${path}.spec_version`,
    );
  }
  const version = readInteger(readField(o, 'version', path), `${path}.version`, 1);
  const expires = parseExpires(
    readString(readField(o, 'expires', path), `${path}.expires`),
    `${path}.expires`,
  );
  return { version, specVersion, expires };
}

/**
 * A role's `signed` part. Immutable: the constructors keep their own copies of the maps, lists
 * and unknown fields they are given (ADR 0012), so signed bytes computed once stay those of the
 * model.
 */
export abstract class Signed {
  abstract readonly type: RoleType;
  readonly version: number;
  readonly specVersion: string;
  readonly unrecognized: Readonly<JsonObject>;
  /** Milliseconds since the epoch: a Date is mutable (`setTime`), so none is kept or handed out. */
  readonly #expires: number;

  /**
   * Checks the common fields and keeps its own copy of the unknown ones (ADR 0012).
   * @throws {@link errors!FormatError | FormatError} a version below 1, or an invalid `expires`.
   */
  constructor(c: SignedCommon) {
    if (!Number.isSafeInteger(c.version) || c.version < 1)
      throw new FormatError(`version must be >= 1, found ${c.version}`);
    if (Number.isNaN(c.expires.getTime())) throw new FormatError('expires is not a valid date');
    this.version = c.version;
    this.specVersion = c.specVersion;
    this.#expires = c.expires.getTime();
    this.unrecognized = ownFields(c.unrecognized, () => 'signed');
  }

  /** When the role expires: a new Date on each read, so changing it changes nothing here. */
  get expires(): Date {
    return new Date(this.#expires);
  }

  /** Expired means `reference >= expires` (spec 5.3.10 and friends). */
  isExpired(reference: Date): boolean {
    return isExpiredAt(this.expires, reference);
  }

  /**
   * The common fields (`_type`, `spec_version`, `version`, `expires`) as JSON, for the `toJSON` of
   * subclasses.
   */
  protected commonJSON(): JsonObject {
    return {
      _type: this.type,
      spec_version: this.specVersion,
      version: this.version,
      expires: formatExpires(this.expires),
    };
  }

  /**
   * The `signed` object as JSON, with the fields this version does not know re-emitted unchanged;
   * its canonical form is what signatures cover.
   */
  abstract toJSON(): JsonObject;
}

const ROOT_FIELDS = [...COMMON_FIELDS, 'consistent_snapshot', 'keys', 'roles'] as const;

export class Root extends Signed {
  readonly type = 'root' as const;
  readonly consistentSnapshot: boolean;
  readonly keys: ReadonlyMap<string, Key>;
  readonly roles: ReadonlyMap<TopLevelRoleName, Role>;
  /** Whether `consistent_snapshot` was present (python-tuf omits nothing, but older writers may). */
  private readonly hadConsistentSnapshot: boolean;

  constructor(
    c: SignedCommon & {
      consistentSnapshot?: boolean | undefined;
      keys: ReadonlyMap<string, Key>;
      roles: ReadonlyMap<TopLevelRoleName, Role>;
    },
  ) {
    super(c);
    const roles = ownMap(c.roles);
    for (const name of TOP_LEVEL_ROLE_NAMES) {
      if (!roles.has(name)) throw new FormatError(`root must define the ${name} role`);
    }
    if (roles.size !== TOP_LEVEL_ROLE_NAMES.length)
      throw new FormatError('root defines roles other than the top-level four');
    this.hadConsistentSnapshot = c.consistentSnapshot !== undefined;
    this.consistentSnapshot = c.consistentSnapshot ?? false;
    this.keys = ownMap(c.keys);
    this.roles = roles;
  }

  /**
   * The keys and threshold of a top-level role. A Root always defines all four (its constructor
   * refuses one that does not), so this throws only for a name that is not a top-level role,
   * which only an untyped caller can pass.
   * @throws {@link errors!FormatError | FormatError} `name` is not a top-level role.
   */
  role(name: TopLevelRoleName): Role {
    const r = this.roles.get(name);
    if (!r) {
      throw new FormatError(
        `root version ${this.version} has no role ${JSON.stringify(name)} (expected one of ${TOP_LEVEL_ROLE_NAMES.join(', ')})`,
      );
    }
    return r;
  }

  /**
   * Validates a root `signed` object (spec 4.3); `path` names it in errors.
   * @throws {@link errors!FormatError | FormatError} not a valid root (a missing or extra top-level
   *   role, a bad key, a bad date, …).
   */
  static fromJSON(v: unknown, path = 'signed'): Root {
    const o = readObject(v, path);
    const common = readCommon(o, 'root', path);
    const consistentSnapshot = Object.hasOwn(o, 'consistent_snapshot')
      ? readBoolean(o['consistent_snapshot'], `${path}.consistent_snapshot`)
      : undefined;
    const keysObj = readObject(readField(o, 'keys', path), `${path}.keys`);
    const keys = new Map<string, Key>();
    for (const id of Object.keys(keysObj)) keys.set(id, Key.fromJSON(keysObj[id], `${path}.keys.${id}`));
    const rolesObj = readObject(readField(o, 'roles', path), `${path}.roles`);
    const roles = new Map<TopLevelRoleName, Role>();
    for (const name of Object.keys(rolesObj)) {
      if (!(TOP_LEVEL_ROLE_NAMES as readonly string[]).includes(name)) {
        throw new FormatError(
          `expected only root, timestamp, snapshot and targets, found ${JSON.stringify(name)}`,
          `${path}.roles`,
        );
      }
      roles.set(name as TopLevelRoleName, Role.fromJSON(rolesObj[name], `${path}.roles.${name}`));
    }
    for (const name of TOP_LEVEL_ROLE_NAMES) {
      if (!roles.has(name)) throw new FormatError(`required role ${name} is missing`, `${path}.roles`);
    }
    return new Root({
      ...common,
      consistentSnapshot,
      keys,
      roles,
      unrecognized: unrecognized(o, ROOT_FIELDS),
    });
  }

  /**
   * The `signed` object as JSON, with the fields this version does not know re-emitted unchanged;
   * its canonical form is what signatures cover.
   */
  toJSON(): JsonObject {
    return jsonObject(
      {
        ...this.commonJSON(),
        consistent_snapshot: this.hadConsistentSnapshot ? this.consistentSnapshot : undefined,
        keys: mapToObject(this.keys, (k) => k.toJSON()),
        roles: mapToObject(this.roles, (r) => r.toJSON()),
      },
      this.unrecognized,
    );
  }
}

const TIMESTAMP_FIELDS = [...COMMON_FIELDS, 'meta'] as const;

export class Timestamp extends Signed {
  readonly type = 'timestamp' as const;
  readonly snapshotMeta: MetaFile;
  /** `meta` entries other than snapshot.json, kept so they are re-emitted. */
  private readonly otherMeta: Readonly<JsonObject>;

  constructor(c: SignedCommon & { snapshotMeta: MetaFile; otherMeta?: JsonObject }) {
    super(c);
    this.snapshotMeta = c.snapshotMeta;
    this.otherMeta = ownFields(c.otherMeta, () => 'signed.meta');
  }

  /**
   * Validates a timestamp `signed` object (spec 4.6); `path` names it in errors.
   * @throws {@link errors!FormatError | FormatError} not a valid timestamp (no `snapshot.json`
   *   entry in `meta`, a bad date, …).
   */
  static fromJSON(v: unknown, path = 'signed'): Timestamp {
    const o = readObject(v, path);
    const common = readCommon(o, 'timestamp', path);
    const meta = readObject(readField(o, 'meta', path), `${path}.meta`);
    const snapshotMeta = MetaFile.fromJSON(
      readField(meta, 'snapshot.json', `${path}.meta`),
      `${path}.meta.snapshot.json`,
    );
    const otherMeta = unrecognized(meta, ['snapshot.json']);
    return new Timestamp({
      ...common,
      snapshotMeta,
      otherMeta,
      unrecognized: unrecognized(o, TIMESTAMP_FIELDS),
    });
  }

  /**
   * The `signed` object as JSON, with the fields this version does not know re-emitted unchanged;
   * its canonical form is what signatures cover.
   */
  toJSON(): JsonObject {
    const meta = jsonObject({ 'snapshot.json': this.snapshotMeta.toJSON() }, this.otherMeta);
    return jsonObject({ ...this.commonJSON(), meta }, this.unrecognized);
  }
}

const SNAPSHOT_FIELDS = [...COMMON_FIELDS, 'meta'] as const;

export class Snapshot extends Signed {
  readonly type = 'snapshot' as const;
  /** Keyed by file name, `ROLE.json`. */
  readonly meta: ReadonlyMap<string, MetaFile>;

  constructor(c: SignedCommon & { meta: ReadonlyMap<string, MetaFile> }) {
    super(c);
    this.meta = ownMap(c.meta);
  }

  /**
   * Validates a snapshot `signed` object (spec 4.4); `path` names it in errors.
   * @throws {@link errors!FormatError | FormatError} not a valid snapshot (a bad `meta` entry, a
   *   bad date, …).
   */
  static fromJSON(v: unknown, path = 'signed'): Snapshot {
    const o = readObject(v, path);
    const common = readCommon(o, 'snapshot', path);
    const metaObj = readObject(readField(o, 'meta', path), `${path}.meta`);
    const meta = new Map<string, MetaFile>();
    for (const name of Object.keys(metaObj))
      meta.set(name, MetaFile.fromJSON(metaObj[name], `${path}.meta.${name}`));
    return new Snapshot({ ...common, meta, unrecognized: unrecognized(o, SNAPSHOT_FIELDS) });
  }

  /**
   * The `signed` object as JSON, with the fields this version does not know re-emitted unchanged;
   * its canonical form is what signatures cover.
   */
  toJSON(): JsonObject {
    return jsonObject(
      { ...this.commonJSON(), meta: mapToObject(this.meta, (m) => m.toJSON()) },
      this.unrecognized,
    );
  }

  /** The meta entry for a targets role (`targets` or a delegated role). */
  roleMeta(role: string): MetaFile | undefined {
    return this.meta.get(metaFileName(role));
  }
}

const TARGETS_FIELDS = [...COMMON_FIELDS, 'targets', 'delegations'] as const;

export class Targets extends Signed {
  readonly type = 'targets' as const;
  readonly targets: ReadonlyMap<string, TargetFile>;
  readonly delegations: Delegations | undefined;

  constructor(
    c: SignedCommon & { targets: ReadonlyMap<string, TargetFile>; delegations?: Delegations | undefined },
  ) {
    super(c);
    // Not a copy when the map is already a model's: a new version of a 100k-target role shares
    // it, and a parsed role's lazy map (ADR 0008) is never built eagerly.
    this.targets = ownMap(c.targets);
    this.delegations = c.delegations;
  }

  /**
   * Validates a targets `signed` object (spec 4.5); `path` names it in errors.
   * @throws {@link errors!FormatError | FormatError} not a valid targets object (a bad target entry
   *   or delegation, a bad date, …).
   */
  static fromJSON(v: unknown, path = 'signed'): Targets {
    const o = readObject(v, path);
    const common = readCommon(o, 'targets', path);
    const targetsObj = readObject(readField(o, 'targets', path), `${path}.targets`);
    // Validated now, each TargetFile built when first read (see targets-map.ts).
    const targets = new TargetsMap(targetsObj, `${path}.targets`);
    const delegations = Object.hasOwn(o, 'delegations')
      ? Delegations.fromJSON(o['delegations'], `${path}.delegations`)
      : undefined;
    return new Targets({ ...common, targets, delegations, unrecognized: unrecognized(o, TARGETS_FIELDS) });
  }

  /**
   * The `signed` object as JSON, with the fields this version does not know re-emitted unchanged;
   * its canonical form is what signatures cover.
   */
  toJSON(): JsonObject {
    return jsonObject(
      {
        ...this.commonJSON(),
        targets: mapToObject(this.targets, (t) => t.toJSON()),
        delegations: this.delegations?.toJSON(),
      },
      this.unrecognized,
    );
  }
}

/** The `signed` part of any role. */
export type AnySigned = Root | Timestamp | Snapshot | Targets;
