/** `tufa delegation add|remove|list`. */
import { DelegatedRole, visible } from '@tufa/core';
import { usage } from '../cli-error.js';
import { argument, defineCommand, option, type RegisteredCommand, requiredOption } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { readRepoConfig, writeRepoConfig } from '../home.js';
import { loadPublicKey, signerIfPrivate, toUri } from '../keys.js';
import { checkGun } from '../names.js';
import { collect, positiveInt } from '../options.js';
import { connectionFlags, connectionOptions } from '../registry.js';
import { openRepository, transaction } from '../repo.js';
import { secretsFromEnvironment } from '../secrets.js';

export const commands: readonly RegisteredCommand[] = [
  defineCommand({
    name: 'add',
    description: 'add or update a delegated role',
    arguments: [argument('<gun>'), argument('<role>', 'delegated role name')],
    options: [
      requiredOption(
        '-k, --key <ref>',
        'key of the role: a key name, path, public key file or URI (repeatable)',
        {
          parse: collect,
        },
      ),
      option('--paths <pattern>', 'tag patterns the role may sign, shell-style (repeatable)', {
        parse: collect,
      }),
      option('--threshold <n>', 'signatures required', { parse: positiveInt, default: 1 }),
      option('--terminating', 'stop the search at this role'),
      option('--delegator <role>', 'the delegating role', { default: 'targets' }),
      ...connectionOptions,
    ],
    async handler(ctx, [gunArg, role], opts) {
      const gun = checkGun(gunArg);
      if (['root', 'targets', 'snapshot', 'timestamp'].includes(role))
        throw usage(`${role} is a top-level role, not a delegation`);
      const secrets = secretsFromEnvironment();
      const keys: import('@tufa/core').Key[] = [];
      for (const ref of opts.key) keys.push(await loadPublicKey(ref, secrets));
      const keyids = [...new Set(keys.map((k) => k.keyid()))];
      if (opts.threshold < 1 || opts.threshold > keyids.length) {
        throw usage(`--threshold ${opts.threshold} needs that many distinct keys (have ${keyids.length})`);
      }
      const paths = opts.paths ?? ['*'];
      // The role's first version must be signed by its own key(s): clients need it in snapshot.
      const privateRefs: string[] = [];
      for (const ref of opts.key) if (await signerIfPrivate(ref, secrets)) privateRefs.push(ref);
      if (privateRefs.length < opts.threshold) {
        throw usage(
          `the first version of ${role} must be signed by ${opts.threshold} of its keys, but only public keys were given`,
          `tufa delegation add ${gun} ${role} --key PRIVATE-KEY-NAME …  (run it where the ${role} key is)`,
        );
      }
      const { written } = await transaction(
        gun,
        {
          roles: [opts.delegator, 'snapshot', 'timestamp', role],
          extraKeys: privateRefs,
          secrets,
          connection: connectionFlags(opts),
        },
        (repo) =>
          repo.addDelegation(
            opts.delegator,
            new DelegatedRole({
              name: role,
              keyids,
              threshold: opts.threshold,
              terminating: opts.terminating === true,
              paths,
            }),
            keys,
          ),
      );
      // Remember a signing key for the role when one was given as a private key reference.
      const config = await readRepoConfig(gun);
      const ref = privateRefs[0];
      if (ref && !config.delegations.has(role)) {
        config.delegations.set(role, toUri(ref));
        await writeRepoConfig(config);
      }
      ctx.out.result(
        {
          gun,
          delegation: {
            role,
            delegator: opts.delegator,
            keyids,
            threshold: opts.threshold,
            terminating: opts.terminating === true,
            paths,
          },
          written,
        },
        () =>
          `delegated ${visible(paths.join(', '))} in ${gun} to ${visible(role)} (${keyids.length} key(s), threshold ${opts.threshold})`,
      );
      return EXIT.OK;
    },
  }),
  defineCommand({
    name: 'remove',
    description: 'remove a delegated role',
    arguments: [argument('<gun>'), argument('<role>')],
    options: [
      option('--delegator <role>', 'the delegating role', { default: 'targets' }),
      ...connectionOptions,
    ],
    async handler(ctx, [gunArg, role], opts) {
      const gun = checkGun(gunArg);
      const { written } = await transaction(
        gun,
        {
          roles: [opts.delegator, 'snapshot', 'timestamp'],
          secrets: secretsFromEnvironment(),
          connection: connectionFlags(opts),
        },
        (repo) => repo.removeDelegation(opts.delegator, role),
      );
      const config = await readRepoConfig(gun);
      config.delegations.delete(role);
      await writeRepoConfig(config);
      ctx.out.result(
        { gun, removed: role, written },
        () => `removed delegation ${visible(role)} from ${gun}`,
      );
      return EXIT.OK;
    },
  }),
  defineCommand({
    name: 'list',
    description: 'list delegated roles',
    arguments: [argument('<gun>')],
    options: [
      option('--delegator <role>', 'the delegating role', { default: 'targets' }),
      ...connectionOptions,
    ],
    async handler(ctx, [gunArg], opts) {
      const gun = checkGun(gunArg);
      const { repo } = await openRepository(gun, {
        roles: [],
        secrets: secretsFromEnvironment(),
        connection: connectionFlags(opts),
      });
      const d = (await repo.getTargets(opts.delegator)).delegations;
      const roles = (d?.roles ?? []).map((r) => ({
        role: r.name,
        keyids: [...r.keyids],
        threshold: r.threshold,
        terminating: r.terminating,
        paths: r.paths ?? null,
        pathHashPrefixes: r.pathHashPrefixes ?? null,
      }));
      const bins = d?.succinctRoles
        ? {
            namePrefix: d.succinctRoles.namePrefix,
            bitLength: d.succinctRoles.bitLength,
            keyids: [...d.succinctRoles.keyids],
          }
        : null;
      ctx.out.result(
        { gun, delegator: opts.delegator, roles, hashBins: bins },
        () =>
          [
            ...roles.map(
              (r) =>
                `${visible(r.role)}\tthreshold ${r.threshold}\t${r.terminating ? 'terminating' : ''}\t${visible((r.paths ?? r.pathHashPrefixes ?? []).join(' '))}`,
            ),
            ...(bins ? [`hash bins ${visible(bins.namePrefix)}-* (${2 ** bins.bitLength} bins)`] : []),
          ].join('\n') || `${opts.delegator} delegates nothing`,
      );
      return EXIT.OK;
    },
  }),
];
