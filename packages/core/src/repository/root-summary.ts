/**
 * What a root signer approves, derived from the root metadata alone — never from what a signing
 * request says about it (its free-text `changes`, its `required` thresholds and `keys`), which
 * whoever wrote or carried the request could have edited (DESIGN rule 13). Pure: a ceremony UI
 * renders the result (escaping every string in it, see `visible`), the CLI does the same.
 *
 * Changes are computed against a previous root the *caller* trusts. Keys are compared by their
 * public-key material, not by keyid: keyids are opaque labels (spec 4.2, DESIGN rules 5 and 6),
 * so a new root may reuse a trusted key's keyid for another key, and a comparison by keyid
 * would then show nothing while the key was swapped.
 */
import type { Key } from '../crypto/key.js';
import { canonicalString } from '../json/canonical.js';
import type { TopLevelRoleName } from '../metadata/roles.js';
import type { Root } from '../metadata/signed.js';

/**
 * One key a root lists, for a person to compare out of band before trusting or signing the root.
 */
export interface RootKeySummary {
  /** The keyid as the metadata lists it. */
  keyid: string;
  keytype: string;
  scheme: string;
  /** The top-level roles this key is authorised for; empty when no role uses it. */
  roles: string[];
  /**
   * The keyid tufa computes from the key itself (sha256 of its canonical JSON). When it differs
   * from `keyid`, the metadata names the key by another id: allowed, but a signer comparing
   * keyids with their own must know that the listed id does not identify this key.
   */
  computedKeyid: string;
}

/** One top-level role of a root: its threshold and keyids. */
export interface RootRoleSummary {
  role: string;
  threshold: number;
  keyids: string[];
  /** Keyids the role lists that the root's `keys` does not hold (they can never sign). */
  missingKeys: string[];
}

/** A key a top-level role gains or loses between two roots. */
export interface RootKeyChange {
  role: string;
  /** The keyid in the root that has the key: the new root for an addition, the previous one for a removal. */
  keyid: string;
  keytype: string;
  scheme: string;
  /** The keyid computed from the key (see `RootKeySummary.computedKeyid`). */
  computedKeyid: string;
}

/**
 * What changes between a previous root and this one: keys, thresholds, expiry, consistent
 * snapshots. What a key holder reads before signing a root rotation.
 */
export interface RootComparison {
  /** The version of the root compared against. */
  previousVersion: number;
  /** Keys a role gains: public-key material the previous root did not authorise for it. */
  added: RootKeyChange[];
  /** Keys a role loses. */
  removed: RootKeyChange[];
  /** Roles whose threshold changes. */
  thresholds: { role: string; before: number; after: number }[];
  /** The change of expiry (ISO 8601), or null when it is the same. */
  expires: { before: string; after: string } | null;
  /** The change of `consistent_snapshot`, or null when it is the same. */
  consistentSnapshot: { before: boolean; after: boolean } | null;
}

/**
 * A root summarised for a person: version, expiry, keys and roles, with the keyids tufa computes
 * beside the ones listed.
 */
export interface RootSummary {
  version: number;
  specVersion: string;
  /** ISO 8601. */
  expires: string;
  consistentSnapshot: boolean;
  /** Every key the root lists, in its order, whether a role uses it or not. */
  keys: RootKeySummary[];
  roles: RootRoleSummary[];
  /** Top-level fields tufa does not interpret: signed all the same, and other clients may read them. */
  unrecognizedFields: string[];
  /** Against the trusted previous root, when one was given. */
  comparison: RootComparison | null;
}

/** Identifies a key by its public-key material; a key tufa cannot use by its whole key object. */
function identity(key: Key): string {
  return key.materialId() ?? `key:${canonicalString(key.toJSON())}`;
}

/** The keys a role authorises in `root`, by identity (a key listed twice counts once). */
function roleKeys(root: Root, role: TopLevelRoleName): Map<string, { keyid: string; key: Key | undefined }> {
  const out = new Map<string, { keyid: string; key: Key | undefined }>();
  for (const keyid of root.roles.get(role)?.keyids ?? []) {
    const key = root.keys.get(keyid);
    const id = key ? identity(key) : `missing:${keyid}`;
    if (!out.has(id)) out.set(id, { keyid, key });
  }
  return out;
}

function change(role: string, keyid: string, key: Key | undefined): RootKeyChange {
  return {
    role,
    keyid,
    keytype: key?.keytype ?? 'missing',
    scheme: key?.scheme ?? 'missing',
    computedKeyid: key?.keyid() ?? '',
  };
}

function compare(previous: Root, root: Root): RootComparison {
  const added: RootKeyChange[] = [];
  const removed: RootKeyChange[] = [];
  const thresholds: RootComparison['thresholds'] = [];
  for (const [role, r] of root.roles) {
    const before = roleKeys(previous, role);
    const after = roleKeys(root, role);
    for (const [id, k] of after) if (!before.has(id)) added.push(change(role, k.keyid, k.key));
    for (const [id, k] of before) if (!after.has(id)) removed.push(change(role, k.keyid, k.key));
    const old = previous.roles.get(role);
    if (old && old.threshold !== r.threshold)
      thresholds.push({ role, before: old.threshold, after: r.threshold });
  }
  return {
    previousVersion: previous.version,
    added,
    removed,
    thresholds,
    expires:
      previous.expires.getTime() === root.expires.getTime()
        ? null
        : { before: previous.expires.toISOString(), after: root.expires.toISOString() },
    consistentSnapshot:
      previous.consistentSnapshot === root.consistentSnapshot
        ? null
        : { before: previous.consistentSnapshot, after: root.consistentSnapshot },
  };
}

/**
 * Everything `root` says, and what changes against `previous` — a root the caller trusts (the
 * one the request replaces), never one a request supplied.
 */
export function summarizeRoot(root: Root, previous?: Root): RootSummary {
  const rolesOf = new Map<string, string[]>();
  for (const [role, r] of root.roles) {
    for (const keyid of new Set(r.keyids)) rolesOf.set(keyid, [...(rolesOf.get(keyid) ?? []), role]);
  }
  return {
    version: root.version,
    specVersion: root.specVersion,
    expires: root.expires.toISOString(),
    consistentSnapshot: root.consistentSnapshot,
    keys: [...root.keys].map(([keyid, key]) => ({
      keyid,
      keytype: key.keytype,
      scheme: key.scheme,
      roles: rolesOf.get(keyid) ?? [],
      computedKeyid: key.keyid(),
    })),
    roles: [...root.roles].map(([role, r]) => ({
      role,
      threshold: r.threshold,
      keyids: [...r.keyids],
      missingKeys: r.keyids.filter((id) => !root.keys.has(id)),
    })),
    unrecognizedFields: Object.keys(root.unrecognized),
    comparison: previous ? compare(previous, root) : null,
  };
}
