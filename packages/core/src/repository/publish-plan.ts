/**
 * Publish planning: which roles a publish signs, with their new versions and expiry dates.
 *
 * A pure function of the published state, what is staged, the expiry policy and the time: it
 * reads, signs and verifies nothing. `Repository.prepare` gathers the inputs (the one that costs
 * signature checks, which published roles the new root still accepts, included) and then signs
 * exactly what the plan lists.
 */
import { UsageError } from '../errors.js';

const DAY = 86_400;

/** How long each role stays valid after it is signed, in seconds. */
export interface ExpiryPolicy {
  root: number;
  targets: number;
  snapshot: number;
  timestamp: number;
  /** Delegated targets roles (hash bins included). */
  delegated: number;
}

/**
 * How long new metadata is valid by default, per role: root a year, targets and delegated roles 90
 * days, snapshot a week, timestamp a day (python-tuf's defaults). A short timestamp bounds how long
 * a freeze attack can go unnoticed.
 */
export const DEFAULT_EXPIRY: ExpiryPolicy = {
  root: 365 * DAY,
  targets: 90 * DAY,
  snapshot: 7 * DAY,
  timestamp: DAY,
  delegated: 90 * DAY,
};

/** `seconds` after `now`, in whole seconds: TUF dates carry no fractions. */
export function expiresAfter(now: Date, seconds: number): Date {
  return new Date(Math.floor(now.getTime() / 1000) * 1000 + seconds * 1000);
}

/** A role's keys and threshold, as root lists them. */
export interface RoleKeys {
  readonly keyids: readonly string[];
  readonly threshold: number;
}

/** The top-level roles below root, whose published metadata a new root may stop accepting. */
export type OnlineOrTargets = 'targets' | 'snapshot' | 'timestamp';

/** What storage holds now. */
export interface PublishedState {
  root: { version: number; snapshot: RoleKeys };
  snapshot: { version: number; expires: Date };
  timestamp: { version: number };
  /** The version the published snapshot lists for a targets role (`ROLE.json`), if it lists it. */
  listedVersion(role: string): number | undefined;
}

export interface PlanInput {
  /** Undefined before the first publish. */
  published: PublishedState | undefined;
  /** The root to publish, when root changes (its own version counts only on the first publish). */
  stagedRoot: { version: number; snapshot: RoleKeys } | undefined;
  /** Targets roles edited since the last publish, in the order edited, each with its staged version. */
  changed: ReadonlyMap<string, number>;
  /** Roles whose published metadata the root to be live does not accept (their keys changed). */
  notAccepted: ReadonlySet<OnlineOrTargets>;
  /** Roles signed elsewhere (applied signing requests): published exactly as signed. */
  presigned: ReadonlyMap<string, { version: number; expires: Date }>;
  expiry: ExpiryPolicy;
  now: Date;
  forceSnapshot?: boolean | undefined;
  forceTimestamp?: boolean | undefined;
}

export interface PlannedRole {
  version: number;
  expires: Date;
}

export interface PublishPlan {
  root: PlannedRole | undefined;
  /** Targets roles to sign, in the order edited (a re-signed `targets` last). */
  targets: ReadonlyMap<string, PlannedRole>;
  snapshot: PlannedRole | undefined;
  timestamp: PlannedRole | undefined;
}

/**
 * Decides what a publish signs:
 * - root, when one is staged: version N+1 of the published root (the staged version itself on
 *   the first publish);
 * - each edited targets role, and `targets` when the new root no longer accepts it: the version
 *   the published snapshot lists + 1 (the staged version for a role never published);
 * - snapshot when any targets role is signed, when forced, on the first publish, when the new
 *   root no longer accepts it or changes its keys, or when it would expire before the next
 *   timestamp would (a timestamp must never name an expired snapshot);
 * - timestamp whenever snapshot or root is signed (so on the first publish too), when forced,
 *   or when the new root no longer accepts it.
 * A role signed elsewhere keeps its version and expiry; its version must be the one planned,
 * or it was signed for a state of the repository that has moved on: a UsageError, since running
 * the same publish again cannot help (unlike a ConflictError) — the role must be signed anew.
 */
export function planPublish(input: PlanInput): PublishPlan {
  const { published, expiry, now } = input;
  const planned = (role: string, version: number, seconds: number): PlannedRole => {
    const pre = input.presigned.get(role);
    if (!pre) return { version, expires: expiresAfter(now, seconds) };
    if (pre.version !== version) {
      throw new UsageError(
        `the signed ${role} is version ${pre.version}, but the repository now needs version ${version}: create a new signing request`,
      );
    }
    return { version, expires: pre.expires };
  };

  // Spec 5.3.4: root N+1 follows the published root N.
  const root = input.stagedRoot
    ? planned('root', published ? published.root.version + 1 : input.stagedRoot.version, expiry.root)
    : undefined;

  const targetsRoles = new Set(input.changed.keys());
  if (input.notAccepted.has('targets')) targetsRoles.add('targets');
  const targets = new Map<string, PlannedRole>();
  for (const role of targetsRoles) {
    const listed = published?.listedVersion(role);
    const version = listed !== undefined ? listed + 1 : (input.changed.get(role) ?? 1);
    targets.set(role, planned(role, version, role === 'targets' ? expiry.targets : expiry.delegated));
  }

  const nextTimestampExpires = expiresAfter(now, expiry.timestamp);
  const snapshotDue =
    published === undefined ||
    targets.size > 0 ||
    input.forceSnapshot === true ||
    input.notAccepted.has('snapshot') ||
    published.snapshot.expires.getTime() <= nextTimestampExpires.getTime() ||
    (input.stagedRoot !== undefined && keysChanged(published.root.snapshot, input.stagedRoot.snapshot));
  const snapshot = snapshotDue
    ? { version: (published?.snapshot.version ?? 0) + 1, expires: expiresAfter(now, expiry.snapshot) }
    : undefined;

  const timestampDue =
    snapshotDue || root !== undefined || input.forceTimestamp === true || input.notAccepted.has('timestamp');
  const timestamp = timestampDue
    ? { version: (published?.timestamp.version ?? 0) + 1, expires: nextTimestampExpires }
    : undefined;

  return { root, targets, snapshot, timestamp };
}

/** Whether a role's keyids (as listed) or threshold differ. */
function keysChanged(a: RoleKeys, b: RoleKeys): boolean {
  return (
    a.threshold !== b.threshold ||
    a.keyids.length !== b.keyids.length ||
    a.keyids.some((id, i) => id !== b.keyids[i])
  );
}
