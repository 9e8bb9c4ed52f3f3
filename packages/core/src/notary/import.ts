/**
 * Importing a verified Notary collection into a tufa Repository: the defaults a caller of the
 * migration planner (migrate.ts) would otherwise have to invent, and the edit that applies its
 * plan. `tufa notary migrate` is one caller; a registry importing Docker Content Trust data is
 * another.
 *
 * - Role mapping (`notaryRoleMapper`): which tufa role signs a Notary role's copy of a tag.
 * - The edit (`importNotaryCollection`): plan against the repository as it stands (staged edits
 *   included), then stage the plan's removals and imports. Nothing is published: run it inside
 *   `withRepository`, which re-runs it (re-planning) if another publisher got there first.
 * - Provenance (`notaryProvenance`): where the imported trust came from, in the shape reports use.
 */
import { TufError } from '../errors.js';
import type { TargetFile } from '../metadata/files.js';
import type { Repository } from '../repository/repository.js';
import { checkTagName } from '../repository/tag-name.js';
import { repositoryTargetsGraph } from '../repository/targets-graph.js';
import { type NotaryMigrationPlan, planNotaryMigration } from './migrate.js';
import type { NotaryCollection } from './reader.js';

/** Which tufa role signs the copy of `tag` that a Notary role signed. */
export type NotaryRoleMapper = (notaryRole: string, tag: string) => Promise<string>;

/**
 * The role mapping for `repo`, in this order:
 * 1. `roleMap` (Notary role → tufa role), when it names the Notary role. Mapping to `targets`
 *    means `targets` itself or, when it uses hash bins, the bin for the tag.
 * 2. A Notary delegation (`targets/releases`) goes to the tufa role that `targets` delegates to
 *    under its name without `targets/` (`releases`; tufa role names have no `/`, as they are
 *    file names).
 * 3. Everything else goes to `targets`, or to its hash bin for the tag.
 * The delegations of `targets` are read once, when the mapper is made: make it inside the edit.
 */
export async function notaryRoleMapper(
  repo: Repository,
  roleMap: ReadonlyMap<string, string> = new Map(),
): Promise<NotaryRoleMapper> {
  const top = await repo.getTargets('targets');
  const delegated = new Set((top.delegations?.roles ?? []).map((r) => r.name));
  return async (notaryRole, tag) => {
    const mapped = roleMap.get(notaryRole);
    if (mapped !== undefined && mapped !== 'targets') return mapped;
    if (mapped === undefined && notaryRole.startsWith('targets/')) {
      const short = notaryRole.slice('targets/'.length);
      if (delegated.has(short)) return short;
    }
    return repo.roleForTarget(tag);
  };
}

/** The tag-name policy for signing (`checkTagName`), as the planner's `checkName` wants it. */
export function tagNameProblem(name: string): string | undefined {
  try {
    checkTagName(name);
    return undefined;
  } catch (e) {
    if (e instanceof TufError) return e.message;
    throw e;
  }
}

/** Options of a Notary import into a tufa repository. */
export interface NotaryImportOptions {
  /** Also tags Docker Content Trust does not resolve, as `notary lookup` resolves them. */
  allRoles?: boolean;
  /** Replace what tufa signs with another digest (default: refuse those tags). */
  replace?: boolean;
  /** Notary role → tufa role (see notaryRoleMapper). */
  roleMap?: ReadonlyMap<string, string>;
  /**
   * Why tufa cannot sign a target of this name, or undefined. Default: `tagNameProblem`. A
   * caller with rules of its own should apply them on top of it, not instead.
   */
  checkName?: (name: string) => string | undefined;
  /** The client's limit of roles per search (default: the updater's). */
  maxRoles?: number;
}

/**
 * Plans the import of `collection` into `repo` (planNotaryMigration, with the role mapping
 * above) and stages it: removals first, then the imports, one `addTargets` per role. Returns the
 * plan. Throws what the planner throws (e.g. when Docker's own answer cannot be known).
 */
export async function importNotaryCollection(
  repo: Repository,
  collection: NotaryCollection,
  options: NotaryImportOptions = {},
): Promise<NotaryMigrationPlan> {
  const plan = await planNotaryMigration(collection, {
    allRoles: options.allRoles === true,
    replace: options.replace === true,
    tufaRoleFor: await notaryRoleMapper(repo, options.roleMap),
    checkName: options.checkName ?? tagNameProblem,
    repository: repositoryTargetsGraph(repo),
    ...(options.maxRoles !== undefined ? { maxRoles: options.maxRoles } : {}),
  });
  for (const r of plan.removals) await repo.removeTarget(r.tag, { role: r.tufaRole });
  const byRole = new Map<string, TargetFile[]>();
  for (const p of plan.imports) {
    const list = byRole.get(p.tufaRole);
    if (list) list.push(p.target);
    else byRole.set(p.tufaRole, [p.target]);
  }
  for (const [role, list] of byRole) await repo.addTargets(list, { role });
  return plan;
}

/** Where a collection's trust came from: what a report of a verification or an import shows. */
export interface NotaryProvenance {
  /** The notary-server URL or trust directory read. */
  source: string;
  /** The time expiry and certificates were judged at (ISO 8601). */
  asOf: string;
  trustAnchor: NotaryCollection['trustAnchor'];
  root: { version: number; keyIds: string[]; expires: string };
}

/**
 * The provenance record an import stores for a Notary collection: where it was read from, when, and
 * what anchored trust in it.
 */
export function notaryProvenance(c: NotaryCollection): NotaryProvenance {
  return {
    source: c.source,
    asOf: c.asOf.toISOString(),
    trustAnchor: c.trustAnchor,
    root: { version: c.root.version, keyIds: c.root.keyids, expires: c.root.expires.toISOString() },
  };
}
