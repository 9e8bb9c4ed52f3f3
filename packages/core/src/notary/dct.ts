/**
 * Which signed entry a Notary client resolves a tag to, from a verified collection: the way
 * Docker Content Trust does (`docker pull`, `docker trust inspect`), and the way `notary lookup`
 * does. Pure functions over `NotaryCollection`.
 *
 * Docker (docker/cli, `cli/command/image/trust.go`) asks the notary client for
 * `GetTargetByName(tag, "targets/releases", "targets")` and then refuses the answer unless its
 * role is `targets/releases` or `targets`. `GetTargetByName` (notary `client/client.go`) tries
 * the given roles in order; for each it walks that role's subtree breadth-first
 * (`tuf.Repo.WalkTargets`), skipping the subtrees of the other given roles, visiting only roles
 * whose paths allow the name, and stops at the first role that signs it. So, for one tag:
 *
 *   1. `targets/releases` signs it: that entry.
 *   2. else a delegation below `targets/releases` signs it: that entry is found first, and Docker
 *      then refuses the tag (it does not fall back to `targets`).
 *   3. else `targets` signs it: that entry.
 *   4. else another delegation (`targets/<team>`) signs it: found, and refused.
 *   5. else: no trust data.
 *
 * `notary lookup GUN TAG` calls `GetTargetByName(tag)` with no roles: one breadth-first walk of
 * the whole tree from `targets`, the first role that signs the tag wins.
 *
 * Roles that did not verify: Notary skips a delegation that is expired or short of its
 * threshold and aborts on any other failure. We cannot know what a role that did not verify
 * would have signed, so wherever it could change the answer the answer is refused (an error
 * for Docker's view; see `dctResolve`), never guessed.
 */
import type { NotaryCollection, NotaryTarget } from './reader.js';

/** The roles Docker Content Trust trusts for a tag, in the order it asks them. */
export const DCT_ROLES: readonly string[] = ['targets/releases', 'targets'];

const RELEASES = 'targets/releases';

function inReleasesSubtree(role: string): boolean {
  return role === RELEASES || role.startsWith(`${RELEASES}/`);
}

/** Roles that verified, in the order of Notary's breadth-first walk from `targets`. */
function walkOrder(c: NotaryCollection): Map<string, number> {
  // c.roles lists delegations in pre-order: for a tree, a stable sort by depth is breadth-first
  // (each level keeps its parents' order, then the order of their delegation lists).
  const names = ['targets', ...c.roles.map((r) => r.role).filter((r) => r.startsWith('targets/'))];
  const depth = (r: string) => r.split('/').length;
  const sorted = names
    .map((name, i) => ({ name, i }))
    .sort((a, b) => depth(a.name) - depth(b.name) || a.i - b.i);
  return new Map(sorted.map((x, i) => [x.name, i]));
}

/** Every verified copy of every tag, each list in Notary's breadth-first lookup order. */
export function notaryCopies(c: NotaryCollection): Map<string, NotaryTarget[]> {
  const order = walkOrder(c);
  const rank = (t: NotaryTarget) => order.get(t.role) ?? Number.MAX_SAFE_INTEGER;
  const byName = new Map<string, NotaryTarget[]>();
  for (const t of c.targets) {
    const list = byName.get(t.name);
    if (list) list.push(t);
    else byName.set(t.name, [t]);
  }
  for (const list of byName.values()) list.sort((a, b) => rank(a) - rank(b));
  return byName;
}

export interface DctResolution {
  /** The entry Docker Content Trust resolves the tag to, or `undefined`. */
  target: NotaryTarget | undefined;
  /** When some role signs the tag but Docker refuses it: why. */
  refusal: string | undefined;
  /** Every verified copy of the tag, in `notary lookup` order. */
  copies: NotaryTarget[];
}

/** Throws the error of a role that could change Docker's answer for any tag (see above). */
function checkDctRoles(c: NotaryCollection): void {
  const failed = c.failedRoles.find((f) => inReleasesSubtree(f.role) || f.role === 'targets');
  if (failed) throw failed.error;
}

/** Steps 1–5 above, over the copies of one tag in lookup order. */
function resolveCopies(copies: NotaryTarget[]): DctResolution {
  const releases = copies.find((t) => t.role === RELEASES);
  if (releases) return { target: releases, refusal: undefined, copies };
  const below = copies.find((t) => inReleasesSubtree(t.role));
  if (below) {
    return {
      target: undefined,
      refusal: `${below.role} signs it first, and Docker Content Trust accepts only ${DCT_ROLES.join(' and ')}`,
      copies,
    };
  }
  const top = copies.find((t) => t.role === 'targets');
  if (top) return { target: top, refusal: undefined, copies };
  const roles = [...new Set(copies.map((t) => t.role))];
  return {
    target: undefined,
    refusal:
      roles.length > 0
        ? `only ${roles.join(', ')} sign${roles.length === 1 ? 's' : ''} it, and Docker Content Trust accepts only ${DCT_ROLES.join(' and ')}`
        : undefined,
    copies,
  };
}

/**
 * What Docker Content Trust resolves each tag to (steps 1–5 above), by tag name. Throws the
 * role's error when `targets/releases` or a delegation below it did not verify: it could sign a
 * tag first, and Docker fails or answers differently then.
 */
export function dctResolveAll(c: NotaryCollection): Map<string, DctResolution> {
  checkDctRoles(c);
  const out = new Map<string, DctResolution>();
  for (const [name, copies] of notaryCopies(c)) out.set(name, resolveCopies(copies));
  return out;
}

/** `dctResolveAll` for one tag. */
export function dctResolve(c: NotaryCollection, tag: string): DctResolution {
  checkDctRoles(c);
  return resolveCopies(notaryCopies(c).get(tag) ?? []);
}

/**
 * What `docker pull` with DOCKER_CONTENT_TRUST=1 resolves `tag` to, or `undefined` when Docker
 * finds no trust data for it or refuses it. Throws as `dctResolve` does.
 */
export function dctLookup(collection: NotaryCollection, tag: string): NotaryTarget | undefined {
  return dctResolve(collection, tag).target;
}

/** Every tag Docker Content Trust would accept, one entry per tag, sorted by name. */
export function dctList(collection: NotaryCollection): NotaryTarget[] {
  const out: NotaryTarget[] = [];
  for (const r of dctResolveAll(collection).values()) if (r.target) out.push(r.target);
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * What `notary lookup` resolves a tag to, given its `copies` (from `notaryCopies`): the first in
 * the breadth-first walk of every role. `undefined` (with the reason) when a delegation did not
 * verify: it might sign the tag first.
 */
export function notaryLookup(
  c: NotaryCollection,
  copies: readonly NotaryTarget[],
): { target: NotaryTarget | undefined; refusal: string | undefined } {
  const failed = c.failedRoles[0];
  if (failed) {
    return {
      target: undefined,
      refusal: `${failed.role} did not verify, so which role signs it first is not known`,
    };
  }
  return { target: copies[0], refusal: undefined };
}
