/**
 * When a repository moves its tags into TAP 15 hash bins.
 *
 * A flat top-level `targets` is re-signed whole on every change: with tens of thousands of tags,
 * signing one more re-signs megabytes (docs/performance.md). Hash bins (succinct delegations
 * to `bins-0…bins-N`, signed by the targets key) make that one small bin. The move happens once,
 * when the tags signed directly by `targets` grow past a threshold. When `targets` delegates
 * nothing, the bins are its own delegation; when it already lists delegated roles, the bins go
 * under a role `bins` listed after them (TAP 15: a `delegations` object holds roles or succinct
 * roles, never both), so the delegated roles keep their tags and are searched first. A tag that
 * an earlier delegation would hide from its bin keeps the tags where they are (ADR 0025).
 *
 * `decideHashBins` is the decision, pure; `applyHashBinPolicy` reads it off a repository and
 * makes the move (bins signed by the keys and threshold of the top-level targets role).
 */
import { UsageError } from '../errors.js';
import type { Targets } from '../metadata/signed.js';
import type { Repository } from './repository.js';

/**
 * The delegated role that holds the hash bins when `targets` already lists delegated roles (a
 * `delegations` object holds `roles` or `succinct_roles`, never both: TAP 15). ADR 0025.
 */
export const HASH_BIN_PARENT = 'bins';

/**
 * Tags signed directly by `targets` above which they move into hash bins, by default. At 2,000
 * tags a flat targets role is ~300 KB that every client refetches and re-parses after any change,
 * against ~16 KB (snapshot + one bin) binned: one more request per look-up buys a twentieth of
 * the bytes (ADR 0025, amended).
 */
export const DEFAULT_HASH_BIN_THRESHOLD = 2_000;

/**
 * The bit length (2^bits hash bins) for `count` targets: about √count bins of about √count
 * targets each, between 2 and 2^16 bins. An update (a client's refresh after one tag changed, a
 * publisher adding one) moves timestamp + snapshot + one bin; snapshot grows with the number of
 * bins and a bin with the targets per bin, and a snapshot entry and a target entry are of the
 * same size (≈ 170 and ≈ 150 bytes), so the sum is least near √count bins (measured by
 * bench/hash-bin-count.mjs: ADR 0025).
 */
export function defaultBitLength(count: number): number {
  return Math.min(16, Math.max(1, Math.round(Math.log2(Math.max(2, count)) / 2)));
}

/**
 * The bit length to re-bin to when `count` tags are in bins of `bitLength` bits, or undefined to
 * keep them: a repository is re-binned when √count calls for at least four times the bins it
 * has (two bits more). One bit off costs an update 3–44 % more bytes, two bits about twice as
 * many (ADR 0025's table), and re-binning re-signs every tag once, so it waits for the larger
 * gap. Bins are never merged back into fewer (ADR 0031).
 */
export function rebinBitLength(bitLength: number, count: number): number | undefined {
  const wanted = defaultBitLength(count);
  return wanted - bitLength >= 2 ? wanted : undefined;
}

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
 * or already in bins). `cannot-move`: above the threshold, but a delegation searched before the
 * bins would hide one of the tags from clients. `rebin`: the repository outgrew its bins, and
 * every tag moves into more of them (`rebinBitLength`). `reason` says which, for people.
 */
export type HashBinDecision =
  | { action: 'move'; reason: string }
  | { action: 'rebin'; reason: string }
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
      action: 'move',
      reason: `targets signs ${targets} tags, more than ${threshold}; its delegated roles come first, the bins go under role ${HASH_BIN_PARENT} listed after them`,
    };
  }
  return { action: 'move', reason: `targets signs ${targets} tags, more than ${threshold}` };
}

/**
 * Applies the decision to `repo` as it stands (staged edits included): on `move`, moves every tag
 * of `targets` into hash bins signed by the top-level targets keys, at its threshold, and says
 * which bins were created. Nothing is published: the caller publishes with the rest of the edit.
 *
 * `expected`, when given, is the number of tags `targets` will sign once an edit not yet staged
 * is applied: the decision and the number of bins are made for it. A bulk of a million tags
 * then moves an empty or small `targets` into bins first and goes straight into them, never
 * held as one flat role (the tags it adds are checked as any tag added to bins is). In a
 * repository that has bins already, it is a lower bound of the tags in them (a bulk knows its
 * own size; counting the rest would parse every bin), and past `rebinBitLength` the tags are
 * re-binned (`Repository.rebinHashBins`). Without `expected`, bins are kept as they are.
 */
export async function applyHashBinPolicy(
  repo: Repository,
  threshold: number,
  options: { expected?: number } = {},
): Promise<HashBinDecision & { bins: string[] }> {
  const top = await repo.getTargets('targets');
  const layout = await repo.hashBinRoles();
  if (layout) {
    const { bitLength } = layout.succinct;
    const bits = options.expected === undefined ? undefined : rebinBitLength(bitLength, options.expected);
    if (bits === undefined) return { action: 'stay', reason: 'targets already uses hash bins', bins: [] };
    const bins = await repo.rebinHashBins(bits);
    return {
      action: 'rebin',
      reason: `at least ${options.expected} tags in ${2 ** bitLength} hash bins, where about √N calls for ${2 ** bits}: re-binned, every tag signed again in its new bin`,
      bins,
    };
  }
  const count = options.expected ?? top.targets.size;
  const decision = decideHashBins({
    targets: count,
    delegation: targetsDelegation(top),
    threshold,
  });
  if (decision.action !== 'move') return { ...decision, bins: [] };
  if (targetsDelegation(top) === 'roles') {
    // A tag that an earlier delegation signs or ends the search for would be lost in its bin
    // (or would change which entry clients resolve): keep the layout, say which tag and why.
    for (const t of top.targets.values()) {
      const hit = await repo.searchedBeforeBins(t.path);
      if (!hit) continue;
      const why = hit.why === 'signs' ? 'also signs it' : 'is a terminating delegation for it';
      return {
        action: 'cannot-move',
        reason: `targets signs ${top.targets.size} tags, more than ${threshold}, but clients search ${JSON.stringify(hit.role)} before the hash bins and it ${why}: ${JSON.stringify(t.path)}; every change re-signs all ${top.targets.size}`,
        bins: [],
      };
    }
  }
  const root = repo.currentRoot;
  const role = root.roles.get('targets');
  const keys = (role?.keyids ?? []).map((id) => root.keys.get(id)).filter((k) => k !== undefined);
  const bins = await repo.useHashBins({
    keys,
    threshold: role?.threshold ?? 1,
    bitLength: defaultBitLength(count),
  });
  return { ...decision, bins };
}
