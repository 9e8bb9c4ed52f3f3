/** `tufa status` (versions, expiry, thresholds, signatures) and `tufa timestamp` (cron). */
import {
  type Metadata,
  type Repository,
  Root,
  type Targets,
  type VerificationResult,
  visible,
} from '@tufa/core';
import { usage } from '../cli-error.js';
import { argument, defineCommand, option, type RegisteredCommand } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { parseWithin, relativeTime, withinFor } from '../expiry-check.js';
import { readRepoConfig } from '../home.js';
import { checkGun } from '../names.js';
import { trustedPreviousRoot } from '../previous-root.js';
import { connectionFlags, connectionOptions } from '../registry.js';
import { openRepository, refuseAt, whereOf } from '../repo.js';
import { secretsFromEnvironment } from '../secrets.js';
import { readRequest, requestSummary, summaryText } from '../signing-requests.js';

export const commands: readonly RegisteredCommand[] = [
  defineCommand({
    name: 'status',
    description: 'versions, expiry, thresholds and signatures of each role',
    arguments: [argument('[gun]', 'repository (not needed with --request)')],
    options: [
      option('--request <file>', 'show who signed a signing request instead'),
      option('--check', 'exit 9 when a role is expired or expires soon (for cron and monitoring)'),
      option(
        '--within <role=duration...>',
        'with --check: warn this long before ROLE expires, e.g. timestamp=6h (ROLE may be delegated)',
      ),
      option(
        '--previous <root.json>',
        'with --request: the root it replaces, to check against (else the root this machine trusts for GUN)',
      ),
      ...connectionOptions,
    ],
    async handler(ctx, [gunArg], opts) {
      if (opts.request) {
        const request = await readRequest(opts.request);
        // Compared with --previous, or with the root this machine trusts for GUN when one is named.
        const previous =
          request.metadata.signed.type === 'root'
            ? await trustedPreviousRoot(request.version, request.signedSha256, {
                previous: opts.previous,
                gun: gunArg === undefined ? undefined : checkGun(gunArg),
              })
            : { unavailable: 'only root requests are compared', notes: [] };
        const s = await requestSummary(request, previous);
        ctx.out.result({ request: opts.request, ...s }, () => summaryText(s));
        return EXIT.OK;
      }
      if (gunArg === undefined)
        throw usage('name the repository (or give --request FILE)', 'tufa status GUN');
      if (!opts.check && opts.within !== undefined)
        throw usage('--within applies to --check only', 'tufa status GUN --check --within timestamp=12h');
      const within = parseWithin(opts.within ?? []);
      const gun = checkGun(gunArg);
      // A report, of a repository that may no longer verify (that is what --check finds).
      const { repo, config, publication } = await openRepository(gun, {
        roles: [],
        secrets: secretsFromEnvironment(),
        connection: connectionFlags(opts),
        inspectOnly: true,
      });
      const where = whereOf(publication);
      const roles = await roleStatuses(repo, new Date(), within);
      const root = repo.rootMetadata.signed;
      const consistent = root instanceof Root ? root.consistentSnapshot : true;
      const due = roles.filter((r) => r.due);
      const unverified = roles.filter((r) => !r.verified);
      ctx.out.result(
        {
          gun,
          // Where this machine publishes it, as init and attach report it.
          repository: where,
          ca: config.ca ?? null,
          consistentSnapshot: consistent,
          roles,
          ...(opts.check
            ? {
                check: {
                  ok: due.length === 0 && unverified.length === 0,
                  due: due.map((r) => r.role),
                  unverified: unverified.map((r) => r.role),
                },
              }
            : {}),
        },
        () =>
          statusText(
            `${visible(gun)}, published at ${visible(where)} (${KIND[config.publishTo.kind]}${config.ca ? `, CA ${visible(config.ca)}` : ''})`,
            roles,
            opts.check === true,
          ),
      );
      if (!opts.check) return EXIT.OK;
      // A role whose signatures no longer meet its threshold is worse than one about to expire.
      if (unverified.length > 0) return EXIT.UNTRUSTED;
      return due.length > 0 ? EXIT.EXPIRING : EXIT.OK;
    },
  }),
  defineCommand({
    name: 'timestamp',
    description: 're-sign timestamp (and snapshot if due); safe from cron',
    arguments: [argument('<gun>')],
    options: [...connectionOptions],
    async handler(ctx, [gunArg], opts) {
      const gun = checkGun(gunArg);
      refuseAt(
        await readRepoConfig(gun),
        ['http'],
        'the trust server re-signs timestamp (and snapshot) itself, before they expire: there is nothing to run here',
        `tufa status ${gun} (shows when the server last re-signed)`,
      );
      const { repo } = await openRepository(gun, {
        roles: ['snapshot', 'timestamp'],
        secrets: secretsFromEnvironment(),
        connection: connectionFlags(opts),
      });
      const { written, versions } = await repo.refreshTimestamp();
      ctx.out.result(
        { gun, written, versions: Object.fromEntries(versions) },
        () => `re-signed ${[...versions].map(([r, v]) => `${r} v${v}`).join(', ')} for ${gun}`,
      );
      return EXIT.OK;
    },
  }),
];

/** A role as `tufa status` shows it. */
interface RoleStatus {
  role: string;
  /** The role that delegates to it (null for top-level roles). */
  delegatedBy: string | null;
  hashBin: boolean;
  version: number;
  expires: string;
  /** Seconds until it expires (negative: expired). */
  expiresIn: number;
  expired: boolean;
  /** Expired, or expires within its warning period (`--check`). */
  due: boolean;
  threshold: number;
  signed: string[];
  missing: string[];
  verified: boolean;
}

/**
 * Every published role: the top-level ones, then the delegation tree breadth first (listed
 * roles in order, hash bins in bin order), each checked against the role that delegates to it.
 */
async function roleStatuses(
  repo: Repository,
  now: Date,
  within: ReadonlyMap<string, number>,
): Promise<RoleStatus[]> {
  const out: RoleStatus[] = [];
  const add = (md: Metadata, r: VerificationResult, delegatedBy: string | null, hashBin: boolean) => {
    const expiresIn = Math.floor((md.signed.expires.getTime() - now.getTime()) / 1000);
    out.push({
      role: r.role,
      delegatedBy,
      hashBin,
      version: md.signed.version,
      expires: md.signed.expires.toISOString(),
      expiresIn,
      expired: md.signed.isExpired(now),
      due: expiresIn <= withinFor(within, r.role, delegatedBy !== null),
      threshold: r.threshold,
      signed: r.signed,
      missing: r.unsigned,
      verified: r.verified,
    });
  };
  const root = repo.rootMetadata;
  for (const name of ['root', 'targets', 'snapshot', 'timestamp']) {
    const md = await repo.publishedMetadata(name);
    add(md, await root.delegateStatus(name, md), null, false);
  }
  const snapshot = repo.snapshotMetadata?.signed;
  const seen = new Set(['targets']);
  const queue: { name: string; md: Metadata }[] = [
    { name: 'targets', md: await repo.publishedMetadata('targets') },
  ];
  for (let next = queue.shift(); next; next = queue.shift()) {
    const delegations = (next.md.signed as Targets).delegations;
    if (!delegations) continue;
    const bins = delegations.succinctRoles;
    const children = bins ? [...bins.getRoles()] : (delegations.roles ?? []).map((r) => r.name);
    for (const child of children) {
      // A role delegated to but never published (no tags yet) has no file to show.
      if (seen.has(child) || !snapshot?.roleMeta(child)) continue;
      seen.add(child);
      const md = await repo.publishedMetadata(child);
      add(md, await next.md.delegateStatus(child, md), next.name, bins !== undefined);
      queue.push({ name: child, md });
    }
  }
  return out;
}

function roleLine(r: RoleStatus, check: boolean): string {
  const when = `expires ${r.expires} (${relativeTime(r.expiresIn)})${r.expired ? ' EXPIRED' : check && r.due ? ' DUE' : ''}`;
  return `  ${visible(r.role).padEnd(12)} v${String(r.version).padEnd(5)} ${when}  ${r.signed.length}/${r.threshold} signatures${r.verified ? '' : ' (threshold NOT met)'}${r.missing.length ? `; missing ${visible(r.missing.join(', '))}` : ''}`;
}

/**
 * The human form: one line a role, except hash bins, which are summed up in one line (there may
 * be thousands) with any bin that is expired, due or short of signatures listed after it.
 */
/** What kind of place a repository is published at, as `status` says it. */
const KIND = { dir: 'a directory', oci: 'a registry', http: 'a trust server' } as const;

function statusText(heading: string, roles: readonly RoleStatus[], check: boolean): string {
  const lines = [heading];
  const bins = roles.filter((r) => r.hashBin);
  for (const r of roles) if (!r.hashBin) lines.push(roleLine(r, check));
  if (bins.length > 0) {
    const first = bins.reduce((a, b) => (b.expiresIn < a.expiresIn ? b : a));
    lines.push(
      `  ${bins.length} hash bins (${visible(bins[0]?.role ?? '')} … ${visible(bins[bins.length - 1]?.role ?? '')}), delegated by ${visible(first.delegatedBy ?? '')}: the first expires ${first.expires} (${relativeTime(first.expiresIn)})`,
    );
    for (const r of bins) if (r.expired || (check && r.due) || !r.verified) lines.push(roleLine(r, check));
  }
  if (check) {
    const due = roles.filter((r) => r.due || !r.verified);
    lines.push(
      due.length === 0
        ? 'check: every role is signed and none expires within its warning period'
        : `check: ${due.length} role${due.length === 1 ? '' : 's'} need${due.length === 1 ? 's' : ''} attention: ${visible(due.map((r) => r.role).join(', '))}`,
    );
  }
  return lines.join('\n');
}
