/**
 * Signing requests as people review them: read from a file, summarised (what is signed, read
 * from the metadata itself, compared with a trusted previous root), and rendered as text. Used
 * by `tufa root …` and `tufa status --request`.
 */

import {
  describeSigned,
  type Root,
  type RootComparison,
  type RootKeyChange,
  type RootSummary,
  type SigningRequest,
  signingRequestFromBytes,
  signingRequestStatus,
  summarizeRoot,
  type Targets,
  visible,
} from '@tufa/core';
import { readOrExplain } from './files.js';
import type { TrustedPrevious } from './previous-root.js';

export async function readRequest(file: string): Promise<SigningRequest> {
  const bytes = await readOrExplain(file, 'read the signing request');
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
