/** `Role` (root's role entries), `DelegatedRole`, `SuccinctRoles` (TAP 15) and `Delegations`. */

import { hexDigest, textDigest } from '../crypto/hash.js';
import { Key } from '../crypto/key.js';
import { FormatError } from '../errors.js';
import {
  type JsonObject,
  jsonObject,
  mapToObject,
  readArray,
  readBoolean,
  readField,
  readInteger,
  readObject,
  readString,
  readStringArray,
  unrecognized,
} from './fields.js';
import { ownFields, ownList, ownMap } from './own.js';
import { matchPathPattern } from './pathmatch.js';

/**
 * The four top-level roles root lists (spec 2.1); no delegated role may take one of these names.
 */
export const TOP_LEVEL_ROLE_NAMES = ['root', 'timestamp', 'snapshot', 'targets'] as const;
/** The name of a top-level role. */
export type TopLevelRoleName = (typeof TOP_LEVEL_ROLE_NAMES)[number];

const ROLE_FIELDS = ['keyids', 'threshold'] as const;

/**
 * A role's keys and threshold, as root lists them for the top-level roles. Like every model
 * here, immutable: it keeps its own frozen copies of the lists and fields it is given (ADR 0012).
 */
export class Role {
  /** Keyids of the keys authorised for the role; opaque when verifying (DESIGN rule 6). */
  readonly keyids: readonly string[];
  /** How many distinct authorised keys must sign (at least 1; DESIGN rule 5). */
  readonly threshold: number;
  readonly unrecognized: Readonly<JsonObject>;

  /**
   * Keeps its own copies of the lists and fields it is given (ADR 0012).
   * @throws {@link errors!FormatError | FormatError} `threshold` is not an integer of at least 1.
   */
  constructor(keyids: readonly string[], threshold: number, unrecognizedFields?: JsonObject) {
    if (!Number.isSafeInteger(threshold) || threshold < 1) {
      throw new FormatError(`threshold must be >= 1, found ${threshold}`);
    }
    this.keyids = ownList(keyids);
    this.threshold = threshold;
    this.unrecognized = ownFields(unrecognizedFields, () => 'role');
  }

  /**
   * Reads `keyids` and `threshold`, the fields every kind of role has; for the `fromJSON` of
   * subclasses.
   * @throws {@link errors!FormatError | FormatError} either field is missing or invalid.
   */
  protected static readCommon(o: JsonObject, path: string): { keyids: string[]; threshold: number } {
    const keyids = readStringArray(readField(o, 'keyids', path), `${path}.keyids`);
    const threshold = readInteger(readField(o, 'threshold', path), `${path}.threshold`, 1);
    return { keyids, threshold };
  }

  /**
   * Validates a role entry of root; `path` names it in errors.
   * @throws {@link errors!FormatError | FormatError} not a valid role entry.
   */
  static fromJSON(v: unknown, path: string): Role {
    const o = readObject(v, path);
    const { keyids, threshold } = Role.readCommon(o, path);
    return new Role(keyids, threshold, unrecognized(o, ROLE_FIELDS));
  }

  /** The object as JSON, with the fields this version does not know re-emitted unchanged. */
  toJSON(): JsonObject {
    return jsonObject({ keyids: [...this.keyids], threshold: this.threshold }, this.unrecognized);
  }
}

const DELEGATED_FIELDS = [
  'name',
  'keyids',
  'threshold',
  'terminating',
  'paths',
  'path_hash_prefixes',
] as const;
const HEX_PREFIX = /^[0-9a-f]*$/;

export class DelegatedRole extends Role {
  readonly name: string;
  readonly terminating: boolean;
  readonly paths: readonly string[] | undefined;
  readonly pathHashPrefixes: readonly string[] | undefined;

  /**
   * Keeps its own copies of the lists and fields it is given (ADR 0012).
   * @throws {@link errors!FormatError | FormatError} an invalid threshold, or both `paths` and
   *   `pathHashPrefixes` given.
   */
  constructor(init: {
    name: string;
    keyids: readonly string[];
    threshold: number;
    terminating: boolean;
    paths?: readonly string[] | undefined;
    pathHashPrefixes?: readonly string[] | undefined;
    unrecognized?: JsonObject | undefined;
  }) {
    super(init.keyids, init.threshold, init.unrecognized);
    if (init.paths !== undefined && init.pathHashPrefixes !== undefined) {
      throw new FormatError(
        `delegated role ${JSON.stringify(init.name)} has both paths and path_hash_prefixes`,
      );
    }
    this.name = init.name;
    this.terminating = init.terminating;
    this.paths = init.paths && ownList(init.paths);
    this.pathHashPrefixes = init.pathHashPrefixes && ownList(init.pathHashPrefixes);
  }

  /**
   * Validates an entry of `delegations.roles`; `path` names it in errors.
   * @throws {@link errors!FormatError | FormatError} not a valid delegated role (both `paths` and
   *   `path_hash_prefixes`, a prefix that is not hex, …).
   */
  static override fromJSON(v: unknown, path: string): DelegatedRole {
    const o = readObject(v, path);
    const name = readString(readField(o, 'name', path), `${path}.name`);
    const { keyids, threshold } = Role.readCommon(o, path);
    const terminating = readBoolean(readField(o, 'terminating', path), `${path}.terminating`);
    const hasPaths = Object.hasOwn(o, 'paths');
    const hasPrefixes = Object.hasOwn(o, 'path_hash_prefixes');
    if (hasPaths && hasPrefixes) {
      throw new FormatError('expected either paths or path_hash_prefixes, found both', path);
    }
    const paths = hasPaths ? readStringArray(o['paths'], `${path}.paths`) : undefined;
    const pathHashPrefixes = hasPrefixes
      ? readStringArray(o['path_hash_prefixes'], `${path}.path_hash_prefixes`)
      : undefined;
    pathHashPrefixes?.forEach((p, i) => {
      if (!HEX_PREFIX.test(p)) {
        throw new FormatError(
          `expected a lower-case hex prefix, found ${JSON.stringify(p)}`,
          `${path}.path_hash_prefixes[${i}]`,
        );
      }
    });
    return new DelegatedRole({
      name,
      keyids,
      threshold,
      terminating,
      paths,
      pathHashPrefixes,
      unrecognized: unrecognized(o, DELEGATED_FIELDS),
    });
  }

  override toJSON(): JsonObject {
    return jsonObject(
      {
        name: this.name,
        keyids: [...this.keyids],
        threshold: this.threshold,
        terminating: this.terminating,
        paths: this.paths && [...this.paths],
        path_hash_prefixes: this.pathHashPrefixes && [...this.pathHashPrefixes],
      },
      this.unrecognized,
    );
  }

  /** Spec 5.6.7.2: whether this role is trusted for `targetPath` (by paths, or by hash prefix). */
  isDelegatedPath(targetPath: string): boolean {
    if (this.paths) return this.paths.some((p) => matchPathPattern(targetPath, p));
    if (this.pathHashPrefixes) {
      const h = hexDigest('sha256', new TextEncoder().encode(targetPath));
      return this.pathHashPrefixes.some((p) => h.startsWith(p));
    }
    return false;
  }
}

const SUCCINCT_FIELDS = ['keyids', 'threshold', 'bit_length', 'name_prefix'] as const;

/**
 * TAP 15 succinct hash bins: 2^bit_length roles named `PREFIX-XX` (hex, zero-padded), each
 * trusted for the targets whose sha256 (of the path) starts with its bin number. They share
 * keys and threshold and are never terminating.
 */
export class SuccinctRoles extends Role {
  readonly bitLength: number;
  readonly namePrefix: string;
  private readonly suffixLength: number;

  /**
   * Keeps its own copies of the lists and fields it is given (ADR 0012).
   * @throws {@link errors!FormatError | FormatError} an invalid threshold, or `bitLength` outside
   *   1–32.
   */
  constructor(
    keyids: readonly string[],
    threshold: number,
    bitLength: number,
    namePrefix: string,
    extra?: JsonObject,
  ) {
    super(keyids, threshold, extra);
    if (!Number.isSafeInteger(bitLength) || bitLength < 1 || bitLength > 32) {
      throw new FormatError(`bit_length must be within 1–32, found ${bitLength}`);
    }
    this.bitLength = bitLength;
    this.namePrefix = namePrefix;
    this.suffixLength = Math.ceil(bitLength / 4);
  }

  /**
   * Validates `delegations.succinct_roles` (TAP 15); `path` names it in errors.
   * @throws {@link errors!FormatError | FormatError} not a valid succinct roles object
   *   (`bit_length` outside 1–32, …).
   */
  static override fromJSON(v: unknown, path: string): SuccinctRoles {
    const o = readObject(v, path);
    const { keyids, threshold } = Role.readCommon(o, path);
    const bitLength = readInteger(readField(o, 'bit_length', path), `${path}.bit_length`, 1);
    if (bitLength > 32)
      throw new FormatError(`expected at most 32, found ${bitLength}`, `${path}.bit_length`);
    const namePrefix = readString(readField(o, 'name_prefix', path), `${path}.name_prefix`);
    return new SuccinctRoles(keyids, threshold, bitLength, namePrefix, unrecognized(o, SUCCINCT_FIELDS));
  }

  override toJSON(): JsonObject {
    return jsonObject(
      {
        keyids: [...this.keyids],
        threshold: this.threshold,
        bit_length: this.bitLength,
        name_prefix: this.namePrefix,
      },
      this.unrecognized,
    );
  }

  /** How many bins there are: 2^bit_length. */
  get numberOfBins(): number {
    return 2 ** this.bitLength;
  }

  /** The name of bin number `bin`: the prefix, a dash and the bin number in zero-padded hex. */
  roleName(bin: number): string {
    return `${this.namePrefix}-${bin.toString(16).padStart(this.suffixLength, '0')}`;
  }

  /** The bin role trusted for `targetPath`. */
  getRoleForTarget(targetPath: string): string {
    // The first 32 bits of the sha256, read from the bytes: a bulk asks this for a million
    // paths, and the hex string of every digest was a third of the cost.
    const h = textDigest('sha256', targetPath);
    const first32 =
      (((h[0] as number) << 24) | ((h[1] as number) << 16) | ((h[2] as number) << 8) | (h[3] as number)) >>>
      0;
    return this.roleName(Math.floor(first32 / 2 ** (32 - this.bitLength)));
  }

  /** Every bin name, in bin order. */
  *getRoles(): Generator<string> {
    for (let i = 0; i < this.numberOfBins; i++) yield this.roleName(i);
  }

  /** Whether `name` is exactly one of the bin names (same prefix, suffix of the right width, in range). */
  isDelegatedRole(name: string): boolean {
    const prefix = `${this.namePrefix}-`;
    if (!name.startsWith(prefix)) return false;
    const suffix = name.slice(prefix.length);
    if (suffix.length !== this.suffixLength || !/^[0-9a-f]+$/.test(suffix)) return false;
    return Number.parseInt(suffix, 16) < this.numberOfBins;
  }
}

const DELEGATIONS_FIELDS = ['keys', 'roles', 'succinct_roles'] as const;

/**
 * The `delegations` of a targets role (spec 4.5): the keys it trusts and either the listed roles,
 * searched in order, or TAP 15 succinct hash bins.
 */
export class Delegations {
  /** The keys delegated roles may be signed with, by keyid. */
  readonly keys: ReadonlyMap<string, Key>;
  /** In listed order: the order is the delegation search order (spec 5.6.7.2). */
  readonly roles: readonly DelegatedRole[] | undefined;
  /** The hash bins, when the delegation uses succinct roles instead of `roles`. */
  readonly succinctRoles: SuccinctRoles | undefined;
  readonly unrecognized: Readonly<JsonObject>;

  /**
   * Keeps its own copies of the lists and fields it is given (ADR 0012).
   * @throws {@link errors!FormatError | FormatError} both or neither of `roles` and
   *   `succinctRoles`, or a role name listed twice or reserved for a top-level role.
   */
  constructor(init: {
    keys: ReadonlyMap<string, Key>;
    roles?: readonly DelegatedRole[] | undefined;
    succinctRoles?: SuccinctRoles | undefined;
    unrecognized?: JsonObject | undefined;
  }) {
    if ((init.roles === undefined) === (init.succinctRoles === undefined)) {
      throw new FormatError('delegations need exactly one of roles and succinct_roles');
    }
    const seen = new Set<string>();
    for (const r of init.roles ?? []) {
      if (seen.has(r.name))
        throw new FormatError(`delegated role name ${JSON.stringify(r.name)} is listed twice`);
      if ((TOP_LEVEL_ROLE_NAMES as readonly string[]).includes(r.name)) {
        throw new FormatError(
          `delegated role name ${JSON.stringify(r.name)} is reserved for a top-level role`,
        );
      }
      seen.add(r.name);
    }
    this.keys = ownMap(init.keys);
    this.roles = init.roles && ownList(init.roles);
    this.succinctRoles = init.succinctRoles;
    this.unrecognized = ownFields(init.unrecognized, () => 'delegations');
  }

  /**
   * Validates a `delegations` object; `path` names it in errors.
   * @throws {@link errors!FormatError | FormatError} not valid delegations (both or neither of
   *   `roles` and `succinct_roles`, a role name listed twice or reserved for a top-level role, an
   *   invalid key or role).
   */
  static fromJSON(v: unknown, path: string): Delegations {
    const o = readObject(v, path);
    const keysObj = readObject(readField(o, 'keys', path), `${path}.keys`);
    const keys = new Map<string, Key>();
    for (const id of Object.keys(keysObj)) keys.set(id, Key.fromJSON(keysObj[id], `${path}.keys.${id}`));
    const hasRoles = Object.hasOwn(o, 'roles');
    const hasSuccinct = Object.hasOwn(o, 'succinct_roles');
    if (hasRoles === hasSuccinct)
      throw new FormatError('expected exactly one of roles and succinct_roles', path);
    let roles: DelegatedRole[] | undefined;
    if (hasRoles) {
      roles = readArray(o['roles'], `${path}.roles`).map((r, i) =>
        DelegatedRole.fromJSON(r, `${path}.roles[${i}]`),
      );
    }
    const succinctRoles = hasSuccinct
      ? SuccinctRoles.fromJSON(o['succinct_roles'], `${path}.succinct_roles`)
      : undefined;
    try {
      return new Delegations({
        keys,
        roles,
        succinctRoles,
        unrecognized: unrecognized(o, DELEGATIONS_FIELDS),
      });
    } catch (e) {
      if (e instanceof FormatError) throw new FormatError(e.message, path);
      throw e;
    }
  }

  /** The object as JSON, with the fields this version does not know re-emitted unchanged. */
  toJSON(): JsonObject {
    return jsonObject(
      {
        keys: mapToObject(this.keys, (k) => k.toJSON()),
        roles: this.roles?.map((r) => r.toJSON()),
        succinct_roles: this.succinctRoles?.toJSON(),
      },
      this.unrecognized,
    );
  }

  /** The delegated role (listed or a succinct bin) with this name, if any. */
  getRole(name: string): DelegatedRole | SuccinctRoles | undefined {
    if (this.roles) return this.roles.find((r) => r.name === name);
    return this.succinctRoles?.isDelegatedRole(name) ? this.succinctRoles : undefined;
  }

  /**
   * The roles to search for `targetPath`, in order, with whether each terminates the search
   * (spec 5.6.7.2). Succinct bins yield exactly one, non-terminating.
   */
  *rolesForTarget(targetPath: string): Generator<{ name: string; terminating: boolean }> {
    if (this.roles) {
      for (const r of this.roles) {
        if (r.isDelegatedPath(targetPath)) yield { name: r.name, terminating: r.terminating };
      }
    } else if (this.succinctRoles) {
      yield { name: this.succinctRoles.getRoleForTarget(targetPath), terminating: false };
    }
  }
}
