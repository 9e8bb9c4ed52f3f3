/**
 * Rollback protection for the Notary reader across runs. A Notary client keeps the collection it
 * verified and refuses to load a lower version of any role (notary `TUFClient.tryLoadRemote`);
 * the reader keeps no metadata, so without a record a server (or anyone on the path) could send
 * an older collection that is still signed and unexpired, with tags it has since moved or
 * revoked. This is the record: for each role, the version and the content last verified from
 * one source, and the keys it was verified with. Pure: the caller stores it (the CLI under
 * $TUFA_HOME, after a verification succeeded).
 *
 * The rules, for a role verified now against its record:
 * - a lower version is refused (TUF 1.0 spec 5.3.5, 5.4.3.1 and 5.5.5 for the same attack;
 *   Notary's client has the same rule), however valid the older file still is: an older
 *   collection still within its expiry is exactly what a replay is.
 * - the same version with other content is refused too. One version names one document (spec
 *   5.4.3.1 discards an equal-version timestamp because "there shouldn't be any changes in the
 *   content"; notary-server always increments the version when it re-signs): a second document
 *   under a version already seen is a fork of the signed history, shown to this client and
 *   possibly others. Content is the canonical `signed` part: a re-encoding of the same
 *   document, or other signatures over it, is the same content.
 * - spec 5.3.11, the fast-forward recovery: when the root's timestamp or snapshot keys (or
 *   threshold) differ from the ones recorded, both records are dropped, so a repository can
 *   recover from an attacker who pushed those versions up by rotating the key
 *   (`forgetRotatedRecords`).
 * - any other role whose keys or threshold changed starts afresh too (except root, whose version
 *   never restarts): a delegation removed and created again with new keys starts at version 1
 *   in Notary. Only a holder of the delegating keys can change the keys, and the delegator
 *   itself is under these same rules, so the reset gives no one anything they did not have.
 * - a delegation recorded before that its delegator still lists must still be published in
 *   the snapshot (spec 5.5.5: hiding a role would let Docker fall back to `targets`'s copy of
 *   a tag); one its (verified) delegator no longer lists was removed and is forgotten.
 */
import { FormatError, RollbackError } from '../errors.js';
import { parseJson } from '../json/strict.js';
import { checkNotaryRoleName } from './source.js';

/** What one verification established about one role. */
export interface NotaryRoleRecord {
  /** `root`, `timestamp`, `snapshot`, `targets` or a delegation (`targets/releases`). */
  readonly role: string;
  readonly version: number;
  /** Hex sha256 of the canonical `signed` bytes. */
  readonly signedSha256: string;
  /** The keyids the role was verified with (sorted), as its delegator (or the root) lists them. */
  readonly keyids: readonly string[];
  readonly threshold: number;
}

/** Records by role name. */
export type NotaryRecords = ReadonlyMap<string, NotaryRoleRecord>;

type RoleKeys = { keyids: readonly string[]; threshold: number };

/** The same keys (in any order) and threshold. */
function sameKeys(a: RoleKeys, b: RoleKeys): boolean {
  const x = [...a.keyids].sort();
  const y = [...b.keyids].sort();
  return a.threshold === b.threshold && x.length === y.length && x.every((k, i) => k === y[i]);
}

/**
 * Throws RollbackError when `now` goes back from `before` (the rules above). `where` names the
 * source for the message.
 * @throws {@link errors!RollbackError | RollbackError} `now` goes back from `before`.
 */
export function checkNotaryRecord(
  before: NotaryRoleRecord | undefined,
  now: NotaryRoleRecord,
  where: string,
): void {
  if (before === undefined) return;
  if (now.role !== 'root' && !sameKeys(before, now)) return; // re-keyed: starts afresh
  if (now.version < before.version) {
    throw new RollbackError(
      `${now.role} version ${now.version} is older than version ${before.version} verified from ${where} before (a replay of older trust data)`,
    );
  }
  if (now.version === before.version && now.signedSha256 !== before.signedSha256) {
    throw new RollbackError(
      `${now.role} version ${now.version} is not the version ${before.version} verified from ${where} before (same version, other content: a fork of the signed history)`,
    );
  }
}

/**
 * Spec 5.3.11: if the timestamp and/or snapshot keys of the verified root differ from the ones
 * recorded, the timestamp and snapshot records are both dropped.
 */
export function forgetRotatedRecords(
  recorded: NotaryRecords,
  rootKeys: (role: 'timestamp' | 'snapshot') => RoleKeys,
): NotaryRecords {
  const rotated = (['timestamp', 'snapshot'] as const).some((role) => {
    const before = recorded.get(role);
    return before !== undefined && !sameKeys(before, rootKeys(role));
  });
  if (!rotated) return recorded;
  const out = new Map(recorded);
  out.delete('timestamp');
  out.delete('snapshot');
  return out;
}

/** Builds a record, keyids sorted. */
export function notaryRecord(
  role: string,
  version: number,
  signedSha256: string,
  keys: RoleKeys,
): NotaryRoleRecord {
  return { role, version, signedSha256, keyids: [...keys.keyids].sort(), threshold: keys.threshold };
}

const FORMAT = 'tufa-notary-versions/1';
const HEX64 = /^[0-9a-f]{64}$/;

/** The stored form: one JSON document naming its source, roles as an array (never object keys). */
export function serializeNotaryRecords(source: string, gun: string, records: NotaryRecords): Uint8Array {
  const roles = [...records.values()]
    .sort((a, b) => (a.role < b.role ? -1 : a.role > b.role ? 1 : 0))
    .map((r) => ({
      role: r.role,
      version: r.version,
      signedSha256: r.signedSha256,
      keyids: r.keyids,
      threshold: r.threshold,
    }));
  return new TextEncoder().encode(`${JSON.stringify({ format: FORMAT, source, gun, roles }, null, 1)}\n`);
}

/**
 * Parses what `serializeNotaryRecords` wrote, strictly: every field checked, the source and GUN
 * must be the ones asked for (a record copied to another place protects nothing there).
 */
export function parseNotaryRecords(
  bytes: Uint8Array,
  source: string,
  gun: string,
): Map<string, NotaryRoleRecord> {
  const bad = (what: string) => new FormatError(`not a Notary version record: ${what}`);
  let doc: unknown;
  try {
    doc = parseJson(bytes);
  } catch (e) {
    throw bad(e instanceof Error ? e.message : String(e));
  }
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(doc)) throw bad('expected a JSON object');
  if (doc['format'] !== FORMAT) throw bad(`expected format ${JSON.stringify(FORMAT)}`);
  if (doc['source'] !== source || doc['gun'] !== gun) {
    throw bad(
      `it is for ${JSON.stringify(doc['gun'])} from ${JSON.stringify(doc['source'])}, expected ${JSON.stringify(gun)} from ${JSON.stringify(source)}`,
    );
  }
  const roles = doc['roles'];
  if (!Array.isArray(roles)) throw bad('expected "roles" to be an array');
  const out = new Map<string, NotaryRoleRecord>();
  for (const [i, r] of roles.entries()) {
    const at = `roles[${i}]`;
    if (!isObject(r)) throw bad(`${at} is not an object`);
    const { role, version, signedSha256, keyids, threshold } = r;
    if (typeof role !== 'string') throw bad(`${at}.role is not a string`);
    try {
      checkNotaryRoleName(role);
    } catch {
      throw bad(`${at}.role ${JSON.stringify(role)} is not a Notary role name`);
    }
    if (out.has(role)) throw bad(`${role} is recorded twice`);
    if (!Number.isSafeInteger(version) || (version as number) < 1)
      throw bad(`${at}.version is not a version`);
    if (typeof signedSha256 !== 'string' || !HEX64.test(signedSha256))
      throw bad(`${at}.signedSha256 is not a sha256`);
    if (!Array.isArray(keyids) || !keyids.every((k) => typeof k === 'string')) {
      throw bad(`${at}.keyids is not a list of keyids`);
    }
    if (!Number.isSafeInteger(threshold) || (threshold as number) < 1)
      throw bad(`${at}.threshold is not a threshold`);
    out.set(
      role,
      notaryRecord(role, version as number, signedSha256, {
        keyids: keyids as string[],
        threshold: threshold as number,
      }),
    );
  }
  return out;
}
