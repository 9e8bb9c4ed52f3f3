/**
 * `tufa publish GUN --to LOCATION`: the GUN's published repository copied, byte for byte, to
 * another place (copy.ts): a directory into a registry, a registry back out to a directory (the
 * export that keeps nobody locked in), either one from a trust server. `--from` names the source
 * when this machine has no configuration for the GUN. The copy does not change where the GUN is
 * published unless `--switch` says so (ADR 0026).
 */
import { resolve } from 'node:path';
import { CliError, usage } from '../cli-error.js';
import { argument, defineCommand, option, type RegisteredCommand, requiredOption } from '../command.js';
import { copyRepository } from '../copy.js';
import { EXIT } from '../exit-codes.js';
import { exists } from '../files.js';
import { readRepoConfig, repoConfigPath, writeRepoConfig } from '../home.js';
import { locationId, parsePublishTo } from '../locations.js';
import { checkGun } from '../names.js';
import { connectionFlags, connectionGiven, connectionOptions } from '../registry.js';
import { publicationAt, serverCall, whereOf } from '../repo.js';

export const commands: readonly RegisteredCommand[] = [
  defineCommand({
    name: 'publish',
    description: "copy a repository's published metadata to another directory, registry or server",
    arguments: [argument('<gun>', 'repository name')],
    options: [
      requiredOption('--to <location>', 'where the copy goes: DIR or oci://REGISTRY/REPOSITORY'),
      option(
        '--from <location>',
        'where the repository is read: DIR, oci://… or https://TRUST-SERVER (default: where GUN is published)',
      ),
      option('--switch', 'afterwards publish GUN at --to (this machine then signs there)'),
      ...connectionOptions,
    ],
    async handler(ctx, [gunArg], opts) {
      const gun = checkGun(gunArg);
      const to = parsePublishTo(opts.to, '--to');
      if (to.kind === 'http') {
        throw usage(
          `--to ${locationId(to)}: a trust server signs snapshot and timestamp with keys it holds, so it takes uploads of the roles a publisher signs, never a copy of another repository`,
          `tufa init ${gun} --publish-to ${locationId(to)} … (a new repository there), or copy to a directory and serve it: tufa server --read-only DIR`,
        );
      }
      const setUp = exists(repoConfigPath(gun));
      const config = setUp ? await readRepoConfig(gun) : undefined;
      let fromLocation = config?.publishTo;
      if (opts.from !== undefined) fromLocation = parsePublishTo(opts.from, '--from');
      if (fromLocation === undefined) {
        throw new CliError(
          `${gun} is not set up on this machine: name where its repository is read`,
          EXIT.NOT_FOUND,
          `tufa publish ${gun} --from oci://REGISTRY/REPOSITORY|https://SERVER|DIR --to ${opts.to}`,
        );
      }
      if (opts.switch) {
        if (!config) {
          throw usage(
            `--switch changes where this machine publishes ${gun}, but ${gun} is not set up here`,
            `tufa attach ${gun} --publish-to ${opts.to} --targets-key KEY --snapshot-key KEY --timestamp-key KEY (after the copy)`,
          );
        }
        if (config.keys.snapshot === undefined || config.keys.timestamp === undefined) {
          throw usage(
            `--switch: ${gun} is published on a trust server, which holds its snapshot and timestamp keys; this machine could not sign those at ${opts.to}`,
            `copy without --switch, or rotate snapshot and timestamp to keys of your own in a root ceremony first`,
          );
        }
      }
      if (fromLocation.kind === 'dir' && to.kind === 'dir' && connectionGiven(opts)) {
        throw usage(
          '--ca, --insecure-registry and --token-realm-host apply to a registry (oci://) or a trust server (https://) only',
          'leave them out for a copy between directories',
        );
      }
      // One CA file for both ends (a PEM file may hold several certificates): the one given,
      // else the one this machine remembers for the GUN's registry or server.
      const given = opts.ca !== undefined ? resolve(opts.ca) : undefined;
      const ca = given ?? config?.ca;
      const connection = { ...connectionFlags(opts), ...(ca !== undefined ? { ca } : {}) };
      const source = await publicationAt(gun, fromLocation, connection);
      const destination = await publicationAt(gun, to, connection);
      const [fromName, toName] = [whereOf(source), whereOf(destination)];
      if (fromName === toName) throw usage(`--from and --to name the same place (${toName})`);
      let bar: ReturnType<typeof ctx.out.progress> | undefined;
      const result = await serverCall(source.location, gun, () =>
        copyRepository(source.storage, destination.storage, {
          from: fromName,
          to: toName,
          latestRootFile: to.kind === 'dir',
          onProgress: (done, total) => {
            bar ??= ctx.out.progress(`copying ${total} file(s) to ${toName}`, total);
            bar.update(done);
          },
        }),
      );
      bar?.end();
      if (opts.switch && config) {
        // The CA goes with the location it was given for; a directory has none.
        const { ca: _old, ...rest } = config;
        const remembered = to.kind === 'dir' ? undefined : (given ?? config.ca);
        await writeRepoConfig({
          ...rest,
          publishTo: to,
          ...(remembered !== undefined ? { ca: remembered } : {}),
        });
      }
      ctx.out.result(
        {
          gun,
          from: fromName,
          to: toName,
          copied: result.copied,
          upToDate: result.upToDate,
          versions: Object.fromEntries(result.versions),
          switched: opts.switch === true,
        },
        () =>
          [
            result.upToDate
              ? `${toName} already serves this state of ${gun}`
              : `copied ${result.copied.length} file(s) of ${gun} from ${fromName} to ${toName}`,
            ...(opts.switch ? [`${gun} is now published at ${toName}`] : []),
          ].join('\n'),
      );
      return EXIT.OK;
    },
  }),
];
