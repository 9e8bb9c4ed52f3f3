/**
 * When a repository moves its tags into TAP 15 hash bins.
 *
 * A flat top-level `targets` is re-signed whole on every change: with tens of thousands of tags,
 * signing one more re-signs megabytes (docs/performance.md). Hash bins (succinct delegations
 * from `targets` to `bins-0…bins-N`, signed by the targets key) make that one small bin. The
 * move happens once, when the tags signed directly by `targets` grow past a threshold, and only
 * when `targets` delegates nothing: hash bins are `targets`' only delegation (TAP 15: succinct
 * roles replace the list of delegated roles), so a repository that already delegates stays as
 * it is, and its publisher is told why.
 *
 * `decideHashBins` is the decision, pure; `applyHashBinPolicy` reads it off a repository and
 * makes the move (bins signed by the keys and threshold of the top-level targets role).
 */
import { UsageError } from '../errors.js';
import type { Targets } from '../metadata/signed.js';
import type { Repository } from './repository.js';

/** Tags signed directly by `targets` above which they move into hash bins, by default. */
export const DEFAULT_HASH_BIN_THRESHOLD = 10_000;

/** What top-level `targets` delegates to: nothing, hash bins, or a list of delegated roles. */
export type TargetsDelegation = 'none' | 'hash-bins' | 'roles';

/**
 * What the hash-bin policy decides from: how many tags top-level `targets` signs, what it delegates
 * to, and the size above which tags move into hash bins.
 */
export interface HashBinInput {
  /** Tags signed directly by top-level `targets`, after the edit. */
  targets: number;
  /** What top-level `targets` delegates to. */
  delegation: TargetsDelegation;
  /** Move above this many tags (a whole number of at least 1). */
  threshold: number;
}

/**
 * `move`: move the tags into hash bins now. `stay`: nothing to do (at or under the threshold,
 * or already in bins). `cannot-move`: above the threshold, but `targets` delegates to roles.
 * `reason` says which, for people.
 */
export type HashBinDecision =
  | { action: 'move'; reason: string }
  | { action: 'stay'; reason: string }
  | { action: 'cannot-move'; reason: string };

/** What `targets` delegates to (`delegation` of HashBinInput). */
export function targetsDelegation(top: Targets): TargetsDelegation {
  if (top.delegations?.succinctRoles) return 'hash-bins';
  return top.delegations ? 'roles' : 'none';
}

/**
 * The decision for `input` (see above). Throws UsageError for a threshold or count that is not a
 * whole number.
 * @throws {@link errors!UsageError | UsageError} `threshold` or `targets` is not a whole number in
 *   range.
 */
export function decideHashBins(input: HashBinInput): HashBinDecision {
  const { targets, delegation, threshold } = input;
  if (!Number.isSafeInteger(threshold) || threshold < 1) {
    throw new UsageError(
      `the hash bin threshold must be a whole number of at least 1 (found ${String(threshold)})`,
    );
  }
  if (!Number.isSafeInteger(targets) || targets < 0) {
    throw new UsageError(`the number of targets must be a whole number (found ${String(targets)})`);
  }
  if (delegation === 'hash-bins') return { action: 'stay', reason: 'targets already uses hash bins' };
  if (targets <= threshold) {
    return { action: 'stay', reason: `targets signs ${targets} tag(s), no more than ${threshold}` };
  }
  if (delegation === 'roles') {
    return {
      action: 'cannot-move',
      reason: `targets signs ${targets} tags, more than ${threshold}, but it delegates to other roles, and hash bins must be its only delegation: every change re-signs all ${targets}`,
    };
  }
  return { action: 'move', reason: `targets signs ${targets} tags, more than ${threshold}` };
}

/**
 * Applies the decision to `repo` as it stands (staged edits included): on `move`, moves every tag
 * of `targets` into hash bins signed by the top-level targets keys, at its threshold, and says
 * which bins were created. Nothing is published: the caller publishes with the rest of the edit.
 */
export async function applyHashBinPolicy(
  repo: Repository,
  threshold: number,
): Promise<HashBinDecision & { bins: string[] }> {
  const top = await repo.getTargets('targets');
  const decision = decideHashBins({
    targets: top.targets.size,
    delegation: targetsDelegation(top),
    threshold,
  });
  if (decision.action !== 'move') return { ...decision, bins: [] };
  const root = repo.currentRoot;
  const role = root.roles.get('targets');
  const keys = (role?.keyids ?? []).map((id) => root.keys.get(id)).filter((k) => k !== undefined);
  const bins = await repo.useHashBins({ keys, threshold: role?.threshold ?? 1 });
  return { ...decision, bins };
}
