/** Offline root ceremonies: `tufa root sign-request|sign|merge|publish`. */
import { readFile, writeFile } from 'node:fs/promises';
import {
  describeChanges,
  describeSigned,
  Metadata,
  mergeSigningRequests,
  type Root,
  type SigningRequest,
  signingRequestFromBytes,
  signingRequestStatus,
  signingRequestToBytes,
  signSigningRequest,
  type Targets,
} from '@tufa/core';
import { writeFileAtomic } from '@tufa/core/node';
import { CliError } from '../cli-error.js';
import { EXIT } from '../exit-codes.js';
import { loadPublicKey, loadSigner } from '../keys.js';
import type { Context } from '../main.js';
import { checkGun } from '../names.js';
import { openRepository } from '../repo.js';
import { secretsFromEnvironment } from '../secrets.js';

export async function readRequest(file: string): Promise<SigningRequest> {
  const bytes = await readFile(file).catch(() => {
    throw new CliError(`cannot read ${file}`, EXIT.NOT_FOUND);
  });
  return signingRequestFromBytes(new Uint8Array(bytes));
}

/**
 * What a request asks for. `signing` and the root thresholds are read from the metadata itself
 * (and from `previous`, a root the signer trusts); `claimedChanges` is only what the request's
 * author says, shown as such: a tampered request cannot hide what it changes.
 */
export async function requestSummary(r: SigningRequest, previousFile?: string) {
  let previous: Root | undefined;
  if (previousFile) {
    const bytes = new Uint8Array(
      await readFile(previousFile).catch(() => {
        throw new CliError(`cannot read ${previousFile}`, EXIT.NOT_FOUND);
      }),
    );
    previous = Metadata.fromBytes(bytes, 'root').signed;
  }
  const status = await signingRequestStatus(r, previous ? { previous } : {});
  const signed = r.metadata.signed as Root | Targets;
  return {
    role: r.role,
    version: r.version,
    signedSha256: r.signedSha256,
    signing: describeSigned(signed),
    changes: previous && signed.type === 'root' ? describeChanges(previous, signed) : null,
    claimedChanges: r.changes,
    thresholds: status.map((s) => ({
      by: s.role,
      threshold: s.threshold,
      signed: s.signed,
      missing: s.unsigned,
      met: s.verified,
      claimed: s.claimed,
    })),
    complete: status.every((s) => s.verified),
  };
}

export function summaryText(s: Awaited<ReturnType<typeof requestSummary>>): string {
  return [
    `${s.role} version ${s.version}  (sha256 of what is signed: ${s.signedSha256})`,
    '  what you sign:',
    ...s.signing.map((c) => `    ${c}`),
    ...(s.changes
      ? ['  changes against the root you gave (--previous):', ...s.changes.map((c) => `    ${c}`)]
      : [
          '  changes as the request claims them (pass --previous ROOT.json to check):',
          ...s.claimedChanges.map((c) => `    ${c}`),
        ]),
    ...s.thresholds.map(
      (t) =>
        `  ${t.by}${t.claimed ? ' (as claimed)' : ''}: ${t.signed.length}/${t.threshold} ${t.met ? 'met' : 'NOT met'}; signed: ${t.signed.join(', ') || '-'}; missing: ${t.missing.join(', ') || '-'}`,
    ),
    s.complete ? '  ready to publish' : '  more signatures needed',
  ].join('\n');
}

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
  const s = await requestSummary(request);
  ctx.out.result({ request: opts.out, ...s }, () => `wrote ${opts.out}\n${summaryText(s)}`);
  return EXIT.OK;
}

export async function sign(
  ctx: Context,
  file: string,
  opts: { key: string; out?: string; previous?: string },
): Promise<number> {
  const request = await readRequest(file);
  const signer = await loadSigner(opts.key, secretsFromEnvironment());
  const signed = await signSigningRequest(request, signer);
  const out = opts.out ?? file;
  await writeFile(out, signingRequestToBytes(signed));
  const s = await requestSummary(signed, opts.previous);
  ctx.out.result(
    { request: out, ...s },
    () => `signed with ${signer.keyid}; wrote ${out}\n${summaryText(s)}`,
  );
  return EXIT.OK;
}

export async function merge(ctx: Context, files: string[], opts: { out: string }): Promise<number> {
  const requests = [];
  for (const f of files) requests.push(await readRequest(f));
  const [first, ...rest] = requests;
  if (!first) throw new CliError('no requests given', EXIT.USAGE);
  const merged = await mergeSigningRequests(first, ...rest);
  await writeFile(opts.out, signingRequestToBytes(merged));
  const s = await requestSummary(merged);
  ctx.out.result(
    { request: opts.out, ...s },
    () => `merged ${files.length} request(s) into ${opts.out}\n${summaryText(s)}`,
  );
  return EXIT.OK;
}

export async function publish(ctx: Context, gunArg: string, file: string): Promise<number> {
  const gun = checkGun(gunArg);
  const request = await readRequest(file);
  const s = await requestSummary(request);
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
