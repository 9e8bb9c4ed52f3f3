/**
 * Spec 5.3.11: after a root update, a rotation of the timestamp or snapshot keys makes the
 * client delete its trusted timestamp and snapshot (the fast-forward recovery). Pure: two roots
 * in, a yes or no out; the Updater does the deleting.
 */
import { canonicalBytes } from '../json/canonical.js';
import type { Root } from '../metadata/signed.js';

/** The roles whose key rotation starts the fast-forward recovery. */
const RECOVERY_ROLES = ['timestamp', 'snapshot'] as const;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The role's keys as keyid → canonical bytes of the key object that keyid names in `root`. */
function roleKeys(root: Root, role: (typeof RECOVERY_ROLES)[number]): Map<string, Uint8Array | undefined> {
  const out = new Map<string, Uint8Array | undefined>();
  for (const keyid of root.roles.get(role)?.keyids ?? []) {
    const key = root.keys.get(keyid);
    out.set(keyid, key === undefined ? undefined : canonicalBytes(key.toJSON()));
  }
  return out;
}

/**
 * Whether the timestamp or snapshot role differs between `before` and `after`: its threshold,
 * the set of its keyids, or the key object any of those keyids names (keyids are opaque labels:
 * the same label on a new public key is a rotation too). The order in which keyids are listed
 * is not a rotation. Any difference in either role means both cached files go (5.3.11).
 */
export function timestampOrSnapshotKeysRotated(before: Root, after: Root): boolean {
  for (const role of RECOVERY_ROLES) {
    if (before.roles.get(role)?.threshold !== after.roles.get(role)?.threshold) return true;
    const was = roleKeys(before, role);
    const now = roleKeys(after, role);
    if (was.size !== now.size) return true;
    for (const [keyid, bytes] of was) {
      if (!now.has(keyid)) return true;
      const next = now.get(keyid);
      if (bytes === undefined || next === undefined) {
        if (bytes !== next) return true;
      } else if (!sameBytes(bytes, next)) {
        return true;
      }
    }
  }
  return false;
}
