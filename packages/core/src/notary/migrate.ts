/**
 * Plans the import of a verified Notary collection into a tufa repository (`tufa notary
 * migrate`). Pure: it reads the collection and the repository as it stands (through callbacks)
 * and says what to add and what to remove; the caller edits, signs and publishes.
 *
 * The one rule: after the import, every TUF client resolves each tag to the digest Docker
 * Content Trust resolved (dct.ts). A TUF client searches `targets` first, then the delegations
 * in order (spec 5.6.7); Docker asks `targets/releases` first. Importing every copy of a tag
 * that several Notary roles sign would therefore make clients resolve `targets`' copy where
 * Docker resolved `targets/releases`' one. So:
 *
 * - one live copy per tag: the one Docker resolves (with `allRoles`, for tags Docker does not
 *   resolve, the one `notary lookup` resolves), in the tufa role its Notary role maps to;
 * - the other copies are recorded in the imported target's provenance
 *   (`custom.notary.shadowed`), never signed as targets;
 * - before anything is planned, the tufa search (`searchTargets`, the client's own walk) is
 *   run over the repository as it would be after the import: if a client would find another
 *   digest first (a copy tufa already signs in a role searched earlier, e.g. from an earlier
 *   migration), that copy is removed when `replace` is given and the tag refused otherwise; if
 *   no client would reach the destination role for the tag (its paths, a terminating
 *   delegation, a role the client cannot load), the tag is refused. A tag is never imported
 *   where it would resolve to anything but Docker's digest.
 */
import { DEFAULT_LIMITS } from '../client/updater.js';
import { TufError } from '../errors.js';
import { TargetFile } from '../metadata/files.js';
import { searchTargets, type TargetsGraph } from '../metadata/search.js';
import { dctResolveAll, notaryLookup } from './dct.js';
import type { NotaryCollection, NotaryTarget } from './reader.js';

/** Options of the Notary migration planner. */
export interface NotaryMigrationOptions {
  /** Tags Docker does not resolve too: the copy `notary lookup` resolves. */
  allRoles: boolean;
  /** Replace what tufa signs with another digest: in the destination role, and in roles a client searches first. */
  replace: boolean;
  /** The tufa role that signs a Notary role's copy of `tag` (a hash bin when `targets` uses them). */
  tufaRoleFor(notaryRole: string, tag: string): Promise<string>;
  /** Why tufa cannot sign a target of this name, or `undefined` when it can. */
  checkName(name: string): string | undefined;
  /** The tufa repository as it stands; throws for a role it does not have. */
  repository: TargetsGraph;
  /** The client's limit of roles per search. Default: the updater's. */
  maxRoles?: number;
}

/**
 * One tag the migration will sign in tufa: the Notary copy it comes from and the tufa role it goes
 * to.
 */
export interface PlannedImport {
  /** The tag (target name). */
  tag: string;
  /** The copy Docker resolves (or `notary lookup`, with `allRoles`). */
  source: NotaryTarget;
  /** The tufa role that will sign it. */
  tufaRole: string;
  /** What to sign, provenance in `custom.notary`. */
  target: TargetFile;
  /** The other verified copies, recorded in the provenance only. */
  shadowed: NotaryTarget[];
}

/**
 * What a migration would do, computed before anything is staged: the imports, the copies to remove,
 * and what is left alone and why.
 */
export interface NotaryMigrationPlan {
  /** The tags to sign in tufa. */
  imports: PlannedImport[];
  /** Copies tufa signs that a client would find before the import (only with `replace`). */
  removals: { tag: string; tufaRole: string; digest: string | null }[];
  /** Tags that already resolve to the same digest in tufa. */
  unchanged: { tag: string; tufaRole: string }[];
  refused: { tag: string; role: string; reason: string }[];
}

function sha256Of(t: { hashes: ReadonlyMap<string, string> }): string | undefined {
  return t.hashes.get('sha256');
}

function sameFile(a: TargetFile, b: NotaryTarget | TargetFile): boolean {
  const h = sha256Of(a);
  return h !== undefined && h === sha256Of(b) && a.length === b.length;
}

function digestOf(t: TargetFile): string | null {
  const h = sha256Of(t);
  return h === undefined ? null : `sha256:${h}`;
}

/** The target to sign for `source`, its provenance and the copies it shadows in `custom.notary`. */
function importedTarget(c: NotaryCollection, source: NotaryTarget, shadowed: NotaryTarget[]): TargetFile {
  const notary: Record<string, unknown> = {
    rootKeyIds: c.root.keyids,
    source: c.source,
    asOf: c.asOf.toISOString(),
    role: source.role,
  };
  if (source.custom !== undefined) notary['custom'] = source.custom;
  if (shadowed.length > 0) {
    notary['shadowed'] = shadowed.map((s) => ({ role: s.role, digest: s.digest ?? null, length: s.length }));
  }
  const hashes = new Map([...source.hashes].filter(([a]) => a === 'sha256' || a === 'sha512'));
  const extra: NonNullable<ConstructorParameters<typeof TargetFile>[3]> = Object.create(null);
  extra['custom'] = { notary };
  return new TargetFile(source.name, source.length, hashes, extra);
}

/** The plan for `collection` (see above). Throws when Docker's own answer cannot be known. */
export async function planNotaryMigration(
  collection: NotaryCollection,
  options: NotaryMigrationOptions,
): Promise<NotaryMigrationPlan> {
  const maxRoles = options.maxRoles ?? DEFAULT_LIMITS.maxDelegations;
  const plan: NotaryMigrationPlan = { imports: [], removals: [], unchanged: [], refused: [] };
  const resolved = dctResolveAll(collection);
  const names = [...resolved.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const tag of names) {
    const r = resolved.get(tag);
    if (r === undefined) continue;
    const refuse = (role: string, reason: string) => plan.refused.push({ tag, role, reason });
    let source = r.target;
    if (source === undefined) {
      const first = r.copies[0]?.role ?? 'targets';
      if (!options.allRoles) {
        refuse(
          first,
          `${r.refusal ?? 'not resolved by Docker Content Trust'} (--all-roles imports it as notary lookup resolves it)`,
        );
        continue;
      }
      const lookup = notaryLookup(collection, r.copies);
      if (lookup.target === undefined) {
        refuse(first, lookup.refusal ?? 'notary lookup resolves nothing');
        continue;
      }
      source = lookup.target;
    }
    const nameProblem = options.checkName(tag);
    if (nameProblem !== undefined) {
      refuse(source.role, nameProblem);
      continue;
    }
    if (sha256Of(source) === undefined) {
      refuse(source.role, 'no sha256 digest');
      continue;
    }
    const chosen = source;
    const shadowed = r.copies.filter((t) => t !== chosen);
    let tufaRole: string;
    let existing: TargetFile | undefined;
    try {
      tufaRole = await options.tufaRoleFor(chosen.role, tag);
      existing = await options.repository.target(tufaRole, tag);
    } catch (e) {
      if (!(e instanceof TufError)) throw e;
      refuse(chosen.role, e.message);
      continue;
    }
    const target = importedTarget(collection, chosen, shadowed);
    const unchanged = existing !== undefined && sameFile(existing, chosen);
    if (existing !== undefined && !unchanged && !options.replace) {
      refuse(chosen.role, `tufa already signs it in ${tufaRole} with ${digestOf(existing)} (use --replace)`);
      continue;
    }

    // What a client would resolve the tag to after the import: the destination holds `target`,
    // roles whose copy is planned for removal hold none.
    const removed = new Set<string>();
    const after: TargetsGraph = {
      target: async (role, path) => {
        if (path !== tag) return options.repository.target(role, path);
        if (role === tufaRole) return unchanged ? existing : target;
        return removed.has(role) ? undefined : options.repository.target(role, path);
      },
      delegations: (role) => options.repository.delegations(role),
    };
    const removals: NotaryMigrationPlan['removals'] = [];
    /** 'import', 'resolves already', or why the tag is refused. */
    let verdict = 'import';
    let resolvedIn = tufaRole;
    for (;;) {
      let found: Awaited<ReturnType<typeof searchTargets>>;
      try {
        found = await searchTargets(after, tag, maxRoles);
      } catch (e) {
        if (!(e instanceof TufError)) throw e;
        verdict = `a tufa client's look-up of it would fail (${e.message})`;
        break;
      }
      if (found === undefined) {
        verdict = `tufa clients would not find it in ${tufaRole}: no delegation from targets leads there for this name within ${maxRoles} roles, or a terminating delegation ends the search first`;
        break;
      }
      if (found.role === tufaRole) break;
      if (sameFile(found.target, chosen)) {
        // Another role already signs the same digest and is searched first: it resolves right.
        verdict = 'resolves already';
        resolvedIn = found.role;
        break;
      }
      if (!options.replace) {
        verdict = `a tufa client would resolve it to ${digestOf(found.target)} in ${found.role}, which it searches before ${tufaRole} (use --replace to remove that copy)`;
        break;
      }
      removed.add(found.role);
      removals.push({ tag, tufaRole: found.role, digest: digestOf(found.target) });
    }
    if (verdict === 'resolves already') {
      plan.removals.push(...removals);
      plan.unchanged.push({ tag, tufaRole: resolvedIn });
    } else if (verdict !== 'import') {
      refuse(chosen.role, verdict);
    } else {
      plan.removals.push(...removals);
      if (unchanged) plan.unchanged.push({ tag, tufaRole });
      else plan.imports.push({ tag, source: chosen, tufaRole, target, shadowed });
    }
  }
  return plan;
}
