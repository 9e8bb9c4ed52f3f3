/** Offline root ceremonies: `tufa root sign-request|sign|merge|publish`. */
import { writeFile } from 'node:fs/promises';
import { mergeSigningRequests, signingRequestToBytes, signSigningRequest, visible } from '@tufa/core';
import { writeFileAtomic } from '@tufa/core/node';
import { CliError, usage } from '../cli-error.js';
import { argument, defineCommand, option, type RegisteredCommand, requiredOption } from '../command.js';
import { confirm } from '../confirm.js';
import { EXIT } from '../exit-codes.js';
import { loadPublicKey, loadSigner } from '../keys.js';
import { checkGun } from '../names.js';
import { collect, positiveInt } from '../options.js';
import { type TrustedPrevious, trustedPreviousRoot } from '../previous-root.js';
import { connectionFlags, connectionOptions } from '../registry.js';
import { openRepository } from '../repo.js';
import { secretsFromEnvironment } from '../secrets.js';
import { readRequest, requestSummary, summaryText, thresholdText } from '../signing-requests.js';

/** For summaries of commands that take no trusted root. */
const notCompared = (why: string): TrustedPrevious => ({ unavailable: why, notes: [] });

export const commands: readonly RegisteredCommand[] = [
  defineCommand({
    name: 'sign-request',
    description: 'create a request to sign the next root version',
    arguments: [argument('<gun>')],
    options: [
      requiredOption('-o, --out <file>', 'write the signing request here'),
      option('--add-key <ref>', 'add a root key (repeatable)', { parse: collect }),
      option('--remove-key <keyid>', 'remove a root key (repeatable)', { parse: collect }),
      option('--threshold <n>', 'new root threshold', { parse: positiveInt }),
      option('--root-key <ref>', 'sign now with this root key too (repeatable)', { parse: collect }),
      ...connectionOptions,
    ],
    async handler(ctx, [gunArg], opts) {
      const gun = checkGun(gunArg);
      const secrets = secretsFromEnvironment();
      const { repo } = await openRepository(gun, {
        roles: ['snapshot', 'timestamp'],
        extraKeys: opts.rootKey ?? [],
        secrets,
        connection: connectionFlags(opts),
      });
      if (opts.addKey?.length || opts.removeKey?.length || opts.threshold !== undefined) {
        const add = [];
        for (const ref of opts.addKey ?? []) add.push(await loadPublicKey(ref, secrets));
        repo.rotateKeys('root', {
          add,
          ...(opts.removeKey ? { remove: opts.removeKey } : {}),
          ...(opts.threshold !== undefined ? { threshold: opts.threshold } : {}),
        });
      }
      const request = await repo.createSigningRequest('root');
      await writeFileAtomic(opts.out, signingRequestToBytes(request), { mode: 0o644 });
      // Compared with the root this machine publishes: the one the request replaces.
      const s = await requestSummary(request, {
        root: repo.rootMetadata.signed,
        source: `the root this machine publishes for ${gun}`,
        notes: [],
      });
      ctx.out.result({ request: opts.out, ...s }, () => `wrote ${opts.out}\n${summaryText(s)}`);
      return EXIT.OK;
    },
  }),
  /**
   * Signs a request someone else wrote, after showing what it signs (read from the metadata,
   * compared with a trusted previous root) and getting a yes: on a terminal by asking, otherwise
   * only with `--yes`. Nothing is signed or written before that.
   */
  defineCommand({
    name: 'sign',
    description: 'review a root signing request and sign it (on the offline machine)',
    arguments: [argument('<request>', 'signing request file')],
    options: [
      requiredOption('-k, --key <ref>', 'the key to sign with'),
      option(
        '--previous <root.json>',
        'the root the request replaces, which you trust: show the changes against it and check its threshold',
      ),
      option(
        '--gun <gun>',
        'compare with the root this machine last verified (or publishes) for this repository',
      ),
      option('-y, --yes', 'sign without asking (after reviewing what the command prints)'),
      option('-o, --out <file>', 'write the signed request here (default: in place)'),
    ],
    async handler(ctx, [file], opts) {
      const request = await readRequest(file);
      if (request.role !== 'root' || request.metadata.signed.type !== 'root') {
        throw usage(
          `tufa root sign signs root requests; ${file} is a request for ${visible(request.role)} (${request.metadata.signed.type} metadata)`,
        );
      }
      const gun = opts.gun === undefined ? undefined : checkGun(opts.gun);
      const previous = await trustedPreviousRoot(request.version, request.signedSha256, {
        previous: opts.previous,
        gun,
      });
      const before = await requestSummary(request, previous);
      ctx.out.review(`About to sign ${visible(file)}:\n${summaryText(before)}`);
      await confirm(`Sign root version ${request.version}? [y/N] `, `${file} was not signed`, opts.yes);
      const signer = await loadSigner(opts.key, secretsFromEnvironment());
      const signed = await signSigningRequest(request, signer);
      const out = opts.out ?? file;
      await writeFile(out, signingRequestToBytes(signed));
      const s = await requestSummary(signed, previous);
      ctx.out.result({ request: out, ...s }, () =>
        [`signed with ${signer.keyid}; wrote ${visible(out)}`, ...thresholdText(s)].join('\n'),
      );
      return EXIT.OK;
    },
  }),
  defineCommand({
    name: 'merge',
    description: 'merge signatures from several copies of a request',
    arguments: [argument('<requests...>', 'signed copies of one request')],
    options: [requiredOption('-o, --out <file>', 'write the merged request here')],
    async handler(ctx, [files], opts) {
      const requests = [];
      for (const f of files) requests.push(await readRequest(f));
      const [first, ...rest] = requests;
      if (!first) throw new CliError('no requests given', EXIT.USAGE);
      const merged = await mergeSigningRequests(first, ...rest);
      await writeFile(opts.out, signingRequestToBytes(merged));
      const s = await requestSummary(
        merged,
        notCompared(`merge does not compare (tufa status --request ${opts.out} --previous ROOT.json does)`),
      );
      ctx.out.result(
        { request: opts.out, ...s },
        () => `merged ${files.length} request(s) into ${opts.out}\n${summaryText(s)}`,
      );
      return EXIT.OK;
    },
  }),
  defineCommand({
    name: 'publish',
    description: 'publish a fully signed request',
    arguments: [argument('<gun>'), argument('<request>')],
    options: [...connectionOptions],
    async handler(ctx, [gunArg, file], opts) {
      const gun = checkGun(gunArg);
      const request = await readRequest(file);
      // Only for the threshold count; publishing verifies the new root against the current one.
      const s = await requestSummary(request, notCompared('publish does not compare'));
      if (!s.complete) {
        throw new CliError(
          `${file} does not have enough signatures yet`,
          EXIT.UNTRUSTED,
          `tufa status ${gun} --request ${file}`,
          'THRESHOLD',
        );
      }
      const { repo, publication } = await openRepository(gun, {
        roles: ['targets', 'snapshot', 'timestamp'],
        secrets: secretsFromEnvironment(),
        connection: connectionFlags(opts),
      });
      repo.applySigningRequest(request);
      const { written } = await publication.publish(repo);
      ctx.out.result(
        { gun, published: { role: request.role, version: request.version }, written },
        () => `published ${request.role} version ${request.version} of ${gun}`,
      );
      return EXIT.OK;
    },
  }),
];
