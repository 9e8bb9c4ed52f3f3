/** Offline root ceremonies: `tufa root sign-request|sign|merge|publish`. */
import { writeFile } from 'node:fs/promises';
import { mergeSigningRequests, signingRequestToBytes, signSigningRequest, visible } from '@tufa/core';
import { writeFileAtomic } from '@tufa/core/node';
import { CliError, usage } from '../cli-error.js';
import { confirm } from '../confirm.js';
import type { Context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { loadPublicKey, loadSigner } from '../keys.js';
import { checkGun } from '../names.js';
import { type TrustedPrevious, trustedPreviousRoot } from '../previous-root.js';
import { openRepository } from '../repo.js';
import { secretsFromEnvironment } from '../secrets.js';
import { readRequest, requestSummary, summaryText, thresholdText } from '../signing-requests.js';

interface RequestOptions {
  out: string;
  addKey?: string[];
  removeKey?: string[];
  threshold?: number;
  rootKey?: string[];
}

export async function signRequest(ctx: Context, gunArg: string, opts: RequestOptions): Promise<number> {
  const gun = checkGun(gunArg);
  const secrets = secretsFromEnvironment();
  const { repo } = await openRepository(gun, {
    roles: ['snapshot', 'timestamp'],
    extraKeys: opts.rootKey ?? [],
    secrets,
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
}

/**
 * Signs a request someone else wrote, after showing what it signs (read from the metadata,
 * compared with a trusted previous root) and getting a yes: on a terminal by asking, otherwise
 * only with `--yes`. Nothing is signed or written before that.
 */
export async function sign(
  ctx: Context,
  file: string,
  opts: { key: string; out?: string; previous?: string; gun?: string; yes?: boolean },
): Promise<number> {
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
}

/** For summaries of commands that take no trusted root. */
const notCompared = (why: string): TrustedPrevious => ({ unavailable: why, notes: [] });

export async function merge(ctx: Context, files: string[], opts: { out: string }): Promise<number> {
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
}

export async function publish(ctx: Context, gunArg: string, file: string): Promise<number> {
  const gun = checkGun(gunArg);
  const request = await readRequest(file);
  // Only for the threshold count; publishing verifies the new root against the current one.
  const s = await requestSummary(request, notCompared('publish does not compare'));
  if (!s.complete) {
    throw new CliError(
      `${file} does not have enough signatures yet`,
      EXIT.UNTRUSTED,
      `tufa status ${gun} --request ${file}`,
    );
  }
  const { repo } = await openRepository(gun, {
    roles: ['targets', 'snapshot', 'timestamp'],
    secrets: secretsFromEnvironment(),
  });
  repo.applySigningRequest(request);
  const { written } = await repo.publish();
  ctx.out.result(
    { gun, published: { role: request.role, version: request.version }, written },
    () => `published ${request.role} version ${request.version} of ${gun}`,
  );
  return EXIT.OK;
}
