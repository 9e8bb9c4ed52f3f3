/** `tufa status` (versions, expiry, thresholds, signatures) and `tufa timestamp` (cron). */
import { type Metadata, Root, type VerificationResult, visible } from '@tufa/core';
import { usage } from '../cli-error.js';
import { argument, defineCommand, option, type RegisteredCommand } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { checkGun } from '../names.js';
import { trustedPreviousRoot } from '../previous-root.js';
import { openRepository } from '../repo.js';
import { secretsFromEnvironment } from '../secrets.js';
import { readRequest, requestSummary, summaryText } from '../signing-requests.js';

export const commands: readonly RegisteredCommand[] = [
  defineCommand({
    name: 'status',
    description: 'versions, expiry, thresholds and signatures of each role',
    arguments: [argument('[gun]', 'repository (not needed with --request)')],
    options: [
      option('--request <file>', 'show who signed a signing request instead'),
      option(
        '--previous <root.json>',
        'with --request: the root it replaces, to check against (else the root this machine trusts for GUN)',
      ),
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
      const gun = checkGun(gunArg);
      const { repo } = await openRepository(gun, { roles: [], secrets: secretsFromEnvironment() });
      const root = repo.rootMetadata;
      const now = new Date();
      const roles: {
        role: string;
        version: number;
        expires: string;
        expired: boolean;
        threshold: number;
        signed: string[];
        missing: string[];
        verified: boolean;
      }[] = [];
      const add = (md: Metadata, r: VerificationResult) =>
        roles.push({
          role: r.role,
          version: md.signed.version,
          expires: md.signed.expires.toISOString(),
          expired: md.signed.isExpired(now),
          threshold: r.threshold,
          signed: r.signed,
          missing: r.unsigned,
          verified: r.verified,
        });
      for (const name of ['root', 'targets', 'snapshot', 'timestamp']) {
        const md = await repo.publishedMetadata(name);
        add(md, await root.delegateStatus(name, md));
      }
      const targets = await repo.publishedMetadata('targets');
      for (const d of (targets.signed as { delegations?: { roles?: { name: string }[] } }).delegations
        ?.roles ?? []) {
        const md = await repo.publishedMetadata(d.name);
        add(md, await targets.delegateStatus(d.name, md));
      }
      const consistent = root.signed instanceof Root ? root.signed.consistentSnapshot : true;
      ctx.out.result({ gun, consistentSnapshot: consistent, roles }, () =>
        [
          `${gun}`,
          ...roles.map(
            (r) =>
              `  ${visible(r.role).padEnd(12)} v${String(r.version).padEnd(5)} expires ${r.expires}${r.expired ? ' (EXPIRED)' : ''}  ${r.signed.length}/${r.threshold} signatures${r.verified ? '' : ' (threshold NOT met)'}${r.missing.length ? `; missing ${visible(r.missing.join(', '))}` : ''}`,
          ),
        ].join('\n'),
      );
      return EXIT.OK;
    },
  }),
  defineCommand({
    name: 'timestamp',
    description: 're-sign timestamp (and snapshot if due); safe from cron',
    arguments: [argument('<gun>')],
    options: [],
    async handler(ctx, [gunArg]) {
      const gun = checkGun(gunArg);
      const { repo } = await openRepository(gun, {
        roles: ['snapshot', 'timestamp'],
        secrets: secretsFromEnvironment(),
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
