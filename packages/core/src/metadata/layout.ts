/**
 * The file names of a published TUF repository, in one place for the repository that writes
 * them and the client that fetches them:
 *
 *   N.root.json                      every root version, whatever consistent_snapshot says (5.3.3)
 *   timestamp.json                   never versioned (5.4.1)
 *   N.snapshot.json | snapshot.json  versioned when root sets consistent_snapshot (5.5.1)
 *   N.ROLE.json | ROLE.json          targets and delegated roles, likewise (5.6.1)
 *   DIR/HASH.NAME                    a target's URL with consistent snapshots (5.7.2)
 *
 * A role name becomes one path segment differently on each side (DESIGN rule 9): a client
 * percent-encodes it into its URL (`roleNameToUrlSegment`); the repository writes the name
 * itself, which `checkRoleFileName` restricts to one safe file name, and a static server
 * decodes the client's encoding back to it. In repository storage every metadata file lives
 * under `metadata/`.
 */

import { roleNameToFileStem, roleNameToUrlSegment } from '../client/names.js';
import { UnsafeNameError } from '../errors.js';

/** The directory of a published repository that holds its metadata (targets are under `targets/`). */
export const METADATA_DIR = 'metadata';

/** Spec 5.4.1: the one file a client always fetches first, under this name only. */
export const TIMESTAMP_FILE_NAME = 'timestamp.json';

/**
 * The newest root under an unversioned name. Clients never fetch it (they walk `N.root.json`);
 * the repository writes it for `Repository.open` and for people looking at the directory.
 */
export const LATEST_ROOT_FILE_NAME = 'root.json';

/** Spec 5.3.3: root version N is `N.root.json`, consistent snapshots or not. */
export function rootFileName(version: number): string {
  return `${version}.root.json`;
}

/**
 * Spec 4.4 (snapshot `meta`): a targets role is listed under `ROLE.json`, its name as is.
 * This is a key in signed metadata, not a path: it is never encoded.
 */
export function metaFileName(role: string): string {
  return `${role}.json`;
}

/** Spec 5.5.1 / 5.6.1: `VERSION.ROLE.json` when root sets consistent_snapshot, else `ROLE.json`. */
function roleFileName(segment: string, version: number, consistentSnapshot: boolean): string {
  return consistentSnapshot ? `${version}.${segment}.json` : `${segment}.json`;
}

/**
 * The file a client fetches for snapshot or a targets role, relative to the metadata base URL:
 * the role name percent-encoded into one URL path segment.
 */
export function roleUrlName(role: string, version: number, consistentSnapshot: boolean): string {
  return roleFileName(roleNameToUrlSegment(role), version, consistentSnapshot);
}

/**
 * Spec 5.7.2: with consistent snapshots a target is fetched as `DIR/HASH.NAME`, where `urlPath`
 * is the target path already encoded for a URL (`targetPathToUrlPath`).
 */
export function hashPrefixedTargetPath(urlPath: string, digest: string): string {
  const slash = urlPath.lastIndexOf('/');
  return `${urlPath.slice(0, slash + 1)}${digest}.${urlPath.slice(slash + 1)}`;
}

/** The storage path of a metadata file named by this module (`metadata/NAME`). */
export function metadataPath(fileName: string): string {
  return `${METADATA_DIR}/${fileName}`;
}

/**
 * The storage path of snapshot or a targets role. The role name is the file name as is (clients
 * request it percent-encoded and servers decode it), so it must be one safe path segment.
 * @throws {@link errors!UnsafeNameError | UnsafeNameError} the name is not one safe path segment,
 *   or, without consistent snapshots, its file would be a root version's (`N.root`).
 */
export function roleStoragePath(role: string, version: number, consistentSnapshot: boolean): string {
  checkRoleFileName(role);
  // Without consistent snapshots a role's file is ROLE.json, and a delegated role named "3.root"
  // would write 3.root.json: root version 3, which every client probes for (spec 5.3.3). Its
  // targets metadata there would stop every client's root update, or replace a real root.
  if (!consistentSnapshot && /^[1-9][0-9]*\.root$/.test(role)) {
    throw new UnsafeNameError(
      `role name ${JSON.stringify(role)} cannot be published without consistent snapshots: its file ${role}.json is the name of root version ${role.slice(0, -'.root'.length)}`,
    );
  }
  return metadataPath(roleFileName(role, version, consistentSnapshot));
}

/**
 * A role name that can be a file name on any static host: no separators, dots-only or control
 * characters.
 * @throws {@link errors!UnsafeNameError | UnsafeNameError} the name could escape the metadata
 *   directory or is not a portable file name (DESIGN rule 9).
 */
export function checkRoleFileName(role: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
  if (role === '' || role === '.' || role === '..' || /[/\\\x00-\x1f\x7f]/.test(role) || role.length > 200) {
    throw new UnsafeNameError(
      `role name ${JSON.stringify(role)} cannot be published as a file (no "/", "\\", control characters, "." or ".."; at most 200 characters)`,
    );
  }
  roleNameToFileStem(role); // clients must be able to cache it too (their encoded names are longer)
  return role;
}
