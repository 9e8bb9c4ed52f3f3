/**
 * The targets search of the client workflow (spec 5.6.7) over targets metadata that is already
 * trusted, with no fetching of its own: a publisher uses it to see which role, and so which
 * digest, every client will resolve a path to before it publishes (e.g. `tufa notary migrate`
 * checks that each migrated tag resolves to the digest Docker Content Trust resolved).
 * `Updater.getTargetInfo` performs the same walk while it verifies each role; the two are
 * compared on the same delegation graphs in the tests.
 */
import type { TargetFile } from './files.js';
import type { Delegations } from './roles.js';

/** The targets metadata the search reads, role by role (throws when a role cannot be had). */
export interface TargetsGraph {
  /** What `role` signs for `path`, or `undefined`. */
  target(role: string, path: string): Promise<TargetFile | undefined>;
  /** The delegations of `role`, if any. */
  delegations(role: string): Promise<Delegations | undefined>;
}

/** What the targets search found: the target entry and the role that signs it. */
export interface SearchResult {
  /** The role whose metadata lists the target. */
  role: string;
  /** The target entry as that role signs it. */
  target: TargetFile;
}

/**
 * Spec 5.6.7: pre-order depth-first from `targets`, delegations in listed order, each role
 * visited once (5.6.7.1), only delegations whose paths match (5.6.7.2); a matching terminating
 * delegation ends the search after it and its descendants (5.6.7.2.1). `undefined` when no role
 * on the path signs it. An error loading a role ends the search with that error, as a client's
 * look-up then fails. `maxRoles` is the client's limit (the updater's `maxDelegations`).
 */
export async function searchTargets(
  graph: TargetsGraph,
  path: string,
  maxRoles: number,
): Promise<SearchResult | undefined> {
  const stack = ['targets'];
  const visited = new Set<string>();
  while (stack.length > 0 && visited.size < maxRoles) {
    const role = stack.pop() as string;
    if (visited.has(role)) continue;
    visited.add(role);
    const target = await graph.target(role, path);
    if (target) return { role, target };
    const delegations = await graph.delegations(role);
    if (!delegations) continue;
    const children: string[] = [];
    for (const child of delegations.rolesForTarget(path)) {
      children.push(child.name);
      if (child.terminating) {
        stack.length = 0; // no later siblings, no backtracking
        break;
      }
    }
    stack.push(...children.reverse());
  }
  return undefined;
}
