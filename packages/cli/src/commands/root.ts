/** Offline root ceremonies: `tufa root sign-request|sign|merge|publish`. */
import { readFile, writeFile } from 'node:fs/promises';
import {
  describeSigned,
  mergeSigningRequests,
  type Root,
  type RootComparison,
  type RootKeyChange,
  type RootSummary,
  type SigningRequest,
  signingRequestFromBytes,
  signingRequestStatus,
  signingRequestToBytes,
  signSigningRequest,
  summarizeRoot,
  type Targets,
  visible,
} from '@tufa/core';
import { writeFileAtomic } from '@tufa/core/node';
import { CliError, usage } from '../cli-error.js';
import { confirm } from '../confirm.js';
import { EXIT } from '../exit-codes.js';
import { loadPublicKey, loadSigner } from '../keys.js';
import type { Context } from '../main.js';
import { checkGun } from '../names.js';
import { type TrustedPrevious, trustedPreviousRoot } from '../previous-root.js';
import { openRepository } from '../repo.js';
import { secretsFromEnvironment } from '../secrets.js';

export async function readRequest(file: string): Promise<SigningRequest> {
  const bytes = await readFile(file).catch(() => {
    throw new CliError(`cannot read ${file}`, EXIT.NOT_FOUND);
  });
  return signingRequestFromBytes(new Uint8Array(bytes));
}

/**
 * What a request asks for. What is signed and the changes come from the metadata itself,
 * compared with `previous`, a root the signer trusts (see previous-root.ts); `claimedChanges`
 * is only what the request's author says, shown as such: a tampered request cannot hide what
 * it changes. For a root request, the old root's threshold is checked against `previous` when
 * that is the root the request replaces; otherwise it is the request's claim.
 */
export async function requestSummary(r: SigningRequest, previous: TrustedPrevious) {
  const signed = r.metadata.signed as Root | Targets;
  const prev = previous.root;
  const status = await signingRequestStatus(
    r,
    prev && prev.version === r.version - 1 ? { previous: prev } : {},
  );
  const summary = signed.type === 'root' ? summarizeRoot(signed, prev) : null;
  let root: Omit<RootSummary, 'comparison'> | null = null;
  let comparison: (RootComparison & { against: { version: number; source: string | null } }) | null = null;
  if (summary) {
    const { comparison: diff, ...rest } = summary;
    root = rest;
    if (diff && prev)
      comparison = { against: { version: prev.version, source: previous.source ?? null }, ...diff };
  }
  return {
    role: r.role,
    version: r.version,
    signedSha256: r.signedSha256,
    signing: describeSigned(signed),
    changes: comparison ? changeLines(comparison, r.version) : null,
    claimedChanges: r.changes,
    root,
    comparison,
    comparisonUnavailable: comparison
      ? null
      : summary
        ? (previous.unavailable ?? 'no trusted previous root')
        : 'only root requests are compared',
    notes: previous.notes,
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

export type RequestSummary = Awaited<ReturnType<typeof requestSummary>>;

/** The changes against the trusted root, one line each (raw: escaped where printed). */
function changeLines(c: RootComparison, version: number): string[] {
  const ownId = (k: RootKeyChange) =>
    k.computedKeyid !== k.keyid ? ` — NOT the keyid of this key, which is ${k.computedKeyid}` : '';
  const keyChanges = [
    ...c.added.map((k) => `${k.role}: add key ${k.keyid} (${k.keytype})${ownId(k)}`),
    ...c.removed.map((k) => `${k.role}: remove key ${k.keyid} (${k.keytype})`),
    ...c.thresholds.map((t) => `${t.role}: threshold ${t.before} -> ${t.after}`),
  ];
  return [
    `version ${c.previousVersion} -> ${version}`,
    ...keyChanges,
    ...(keyChanges.length === 0 ? ['no key or threshold changes'] : []),
    ...(c.expires ? [`expires ${c.expires.before} -> ${c.expires.after}`] : []),
    ...(c.consistentSnapshot
      ? [`consistent_snapshot ${c.consistentSnapshot.before} -> ${c.consistentSnapshot.after}`]
      : []),
  ];
}

const v = (x: unknown) => visible(String(x));

/** Who has signed and who is missing, one line per threshold. */
export function thresholdText(s: RequestSummary): string[] {
  return [
    ...s.thresholds.map(
      (t) =>
        `  ${v(t.by)}${t.claimed ? ' (as the request claims)' : ''}: ${t.signed.length}/${t.threshold} ${t.met ? 'met' : 'NOT met'}; signed: ${v(t.signed.join(', ') || '-')}; missing: ${v(t.missing.join(', ') || '-')}`,
    ),
    s.complete ? '  ready to publish' : '  more signatures needed',
  ];
}

/** The whole summary as text: every third-party string escaped where it is interpolated. */
export function summaryText(s: RequestSummary): string {
  const lines = [`${v(s.role)} version ${s.version}  (sha256 of what is signed: ${v(s.signedSha256)})`];
  const root = s.root;
  if (root) {
    lines.push(
      `  expires ${root.expires}; consistent_snapshot ${root.consistentSnapshot}; spec_version ${v(root.specVersion)}`,
      `  keys (${root.keys.length}):`,
      ...root.keys.map(
        (k) =>
          `    ${v(k.keyid)}  ${v(k.keytype)}/${v(k.scheme)}  ${k.roles.length ? k.roles.join(', ') : '(used by no role)'}${k.computedKeyid !== k.keyid ? `  — NOT the keyid of this key, which is ${k.computedKeyid}` : ''}`,
      ),
      '  roles:',
      ...root.roles.map(
        (r) =>
          `    ${r.role}: threshold ${r.threshold} of ${v(r.keyids.join(', '))}${r.missingKeys.length ? ` (not in keys, cannot sign: ${v(r.missingKeys.join(', '))})` : ''}`,
      ),
      ...(root.unrecognizedFields.length
        ? [`  also signed, not interpreted by tufa: ${v(root.unrecognizedFields.join(', '))}`]
        : []),
    );
  } else {
    lines.push('  what you sign:', ...s.signing.map((c) => `    ${v(c)}`));
  }
  if (s.comparison) {
    lines.push(
      `  changes against root version ${s.comparison.against.version}, ${v(s.comparison.against.source)}:`,
      ...(s.changes ?? []).map((c) => `    ${v(c)}`),
    );
  } else if (root) {
    lines.push(
      `  NO COMPARISON WAS POSSIBLE: ${v(s.comparisonUnavailable)}. Nothing above is compared with a root you trust: check every key yourself.`,
    );
  }
  lines.push(...s.notes.map((n) => `  NOTE: ${v(n)}`));
  if (s.claimedChanges.length) {
    lines.push(
      "  the request's own description (written by whoever made the request; not checked):",
      ...s.claimedChanges.map((c) => `    ${v(c)}`),
    );
  }
  lines.push(...thresholdText(s));
  return lines.join('\n');
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
