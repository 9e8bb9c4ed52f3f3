/**
 * A repository's configuration on this machine, `$TUFA_HOME/repos/GUN/config.json`: where it is
 * published and which key signs which role. Where: `publishRoot` (a directory; every
 * configuration before issues 14 and 15 has it, and a directory is still written that way so
 * older tufa versions keep reading it) or `publishTo` (`oci://REGISTRY/REPOSITORY`, or a trust
 * server's `https://…` URL), never both. A trust server signs snapshot and timestamp with keys it
 * holds, so its configurations name a targets key only. Parsed strictly when read (DESIGN rules 2 and 4):
 * the file is ours, so anything tufa does not write there (a missing or mistyped field, an
 * unknown one, a duplicate key) is refused with the file, the field, what was expected and what
 * was found, rather than half-used. Delegated role names are keys of a `Map`, so `constructor`,
 * `__proto__` or `0` are names like any other.
 */
import { isAbsolute } from 'node:path';
import {
  CorruptStateError,
  checkRoleFileName,
  parseJson,
  showTagName,
  TOP_LEVEL_ROLE_NAMES,
  TufError,
} from '@tufa/core';
import { type Location, parsePublishTo } from './locations.js';

/** The online roles whose keys a configuration names (root keys never go there). */
export const ONLINE_ROLES = ['targets', 'snapshot', 'timestamp'] as const;
export type OnlineRole = (typeof ONLINE_ROLES)[number];

export interface RepoConfig {
  gun: string;
  /** Where the repository is published: a publish root directory, a registry or a trust server. */
  publishTo: Location;
  /**
   * Signer references (URIs) for the online roles. None for snapshot and timestamp when
   * `publishTo` is a trust server: the server holds those keys.
   */
  keys: { targets: string; snapshot?: string; timestamp?: string };
  /** Signer references for delegated roles, by role name. */
  delegations: Map<string, string>;
  /**
   * The CA certificates (an absolute path to a PEM file) the registry or trust server of
   * `publishTo` is trusted with besides Node's bundled roots, as `--ca` gave it to `init` or
   * `attach`: the path, read again by every command, never the certificates themselves.
   */
  ca?: string;
}

const FIELDS = ['gun', 'publishRoot', 'publishTo', 'ca', 'keys', 'delegations'];

function isOnlineRole(role: string): role is OnlineRole {
  return (ONLINE_ROLES as readonly string[]).includes(role);
}

/** The configured signer reference for `role` (an online or a delegated role), if any. */
export function signerRefFor(config: RepoConfig, role: string): string | undefined {
  return isOnlineRole(role) ? config.keys[role] : config.delegations.get(role);
}

/** A value as the error shows it: its JSON type, and short scalars themselves (escaped). */
function found(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return v.length > 80 ? 'a long string' : `the string ${showTagName(v)}`;
  return `${typeof v} ${String(v)}`;
}

/** Parses and validates the bytes of `file`, the configuration of `gun`. */
export function parseRepoConfig(bytes: Uint8Array, file: string, gun: string): RepoConfig {
  const corrupt = (field: string, expected: string, value: unknown): never => {
    throw new CorruptStateError(file, field, `expected ${expected}, found ${found(value)}`);
  };
  let doc: unknown;
  try {
    doc = parseJson(bytes);
  } catch (e) {
    throw new CorruptStateError(file, '', `not valid JSON (${e instanceof Error ? e.message : String(e)})`, {
      cause: e,
    });
  }
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(doc)) return corrupt('', 'a JSON object', doc);
  for (const k of Object.keys(doc)) {
    if (!FIELDS.includes(k)) {
      throw new CorruptStateError(file, showTagName(k), `unknown field (expected only ${FIELDS.join(', ')})`);
    }
  }
  const field = (k: string): unknown => (Object.hasOwn(doc, k) ? doc[k] : undefined);
  const nonEmptyString = (v: unknown, path: string, what: string): string => {
    if (typeof v !== 'string' || v.length === 0) return corrupt(path, what, v);
    return v;
  };

  const gunField = nonEmptyString(field('gun'), 'gun', `the GUN ${JSON.stringify(gun)}`);
  if (gunField !== gun) corrupt('gun', `the GUN ${JSON.stringify(gun)}`, gunField);
  const publishTo = publishLocation(field('publishRoot'), field('publishTo'), corrupt);
  const caField = field('ca');
  if (caField !== undefined) {
    // A directory is read from disk: no TLS, so a CA there would be a mistake nobody notices.
    if (publishTo.kind === 'dir') corrupt('ca', 'no ca beside publishRoot (a directory has no TLS)', caField);
    if (typeof caField !== 'string' || !isAbsolute(caField)) {
      corrupt('ca', 'the absolute path of a PEM file of CA certificates', caField);
    }
  }
  // The roles whose keys this machine holds: a trust server holds snapshot's and timestamp's.
  const held: readonly OnlineRole[] = publishTo.kind === 'http' ? ['targets'] : ONLINE_ROLES;

  const keysField = field('keys');
  if (!isObject(keysField)) return corrupt('keys', `an object with ${ONLINE_ROLES.join(', ')}`, keysField);
  for (const k of Object.keys(keysField)) {
    if (!isOnlineRole(k)) {
      throw new CorruptStateError(
        file,
        `keys.${showTagName(k)}`,
        `unknown role (expected only ${ONLINE_ROLES.join(', ')}; delegated roles go in delegations)`,
      );
    }
  }
  const keys = {} as RepoConfig['keys'];
  for (const role of ONLINE_ROLES) {
    const value = Object.hasOwn(keysField, role) ? keysField[role] : undefined;
    if (!held.includes(role)) {
      if (value !== undefined) corrupt(`keys.${role}`, 'no key (the trust server holds it)', value);
      continue;
    }
    keys[role] = nonEmptyString(value, `keys.${role}`, 'a key reference (a string)');
  }

  // Configurations written before delegations existed have none.
  const delegationsField = Object.hasOwn(doc, 'delegations') ? doc['delegations'] : {};
  if (!isObject(delegationsField)) {
    return corrupt('delegations', 'an object of role name → key reference', delegationsField);
  }
  const delegations = new Map<string, string>();
  for (const role of Object.keys(delegationsField)) {
    const path = `delegations.${showTagName(role)}`;
    if ((TOP_LEVEL_ROLE_NAMES as readonly string[]).includes(role)) {
      corrupt(path, 'a delegated role name, not a top-level role', role);
    }
    try {
      checkRoleFileName(role);
    } catch (e) {
      if (!(e instanceof TufError)) throw e;
      corrupt(path, 'a role name tufa can publish (no "/", "\\", control characters, "." or "..")', role);
    }
    delegations.set(role, nonEmptyString(delegationsField[role], path, 'a key reference (a string)'));
  }
  return {
    gun: gunField,
    publishTo,
    keys,
    delegations,
    ...(caField !== undefined ? { ca: caField as string } : {}),
  };
}

/** `publishRoot` (a directory) or `publishTo` (a registry or a trust server): exactly one. */
function publishLocation(
  publishRoot: unknown,
  publishTo: unknown,
  corrupt: (field: string, expected: string, value: unknown) => never,
): Location {
  if (publishRoot !== undefined && publishTo !== undefined) {
    return corrupt('publishTo', 'no publishTo beside publishRoot (one place to publish)', publishTo);
  }
  if (publishTo === undefined) {
    if (typeof publishRoot !== 'string' || !isAbsolute(publishRoot)) {
      return corrupt('publishRoot', 'an absolute directory path', publishRoot);
    }
    return { kind: 'dir', dir: publishRoot };
  }
  const expected = 'oci://REGISTRY/REPOSITORY or https://TRUST-SERVER';
  if (typeof publishTo !== 'string' || !/^(oci|https?):\/\//i.test(publishTo)) {
    return corrupt('publishTo', expected, publishTo);
  }
  try {
    return parsePublishTo(publishTo);
  } catch (e) {
    // The location's own complaint (a malformed URL, plain http off loopback) names the rule.
    return corrupt('publishTo', `${expected} (${e instanceof Error ? e.message : String(e)})`, publishTo);
  }
}

/** The file form: a JSON object in a fixed field order, delegations sorted by name. */
export function repoConfigToBytes(c: RepoConfig): Uint8Array {
  // Object.fromEntries defines own properties, so a role named `__proto__` stays a field.
  const delegations = Object.fromEntries([...c.delegations].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const where =
    c.publishTo.kind === 'dir'
      ? { publishRoot: c.publishTo.dir }
      : { publishTo: c.publishTo.kind === 'oci' ? c.publishTo.location : c.publishTo.url };
  const keys = Object.fromEntries(ONLINE_ROLES.flatMap((r) => (c.keys[r] ? [[r, c.keys[r]]] : [])));
  const doc = { gun: c.gun, ...where, ...(c.ca !== undefined ? { ca: c.ca } : {}), keys, delegations };
  return new TextEncoder().encode(`${JSON.stringify(doc, null, 2)}\n`);
}
