/**
 * Offline signing ceremonies: a role whose threshold needs keys on several machines (typically
 * root) is signed through a request file. The request carries the exact metadata to sign, the
 * public keys and thresholds that must sign it, and a readable summary of what changes; each
 * key holder signs it offline, requests are merged in any order, and the result is published.
 * Nothing here needs a server.
 */

import { hexDigest } from '../crypto/hash.js';
import { Key } from '../crypto/key.js';
import { Signature } from '../crypto/signature.js';
import type { Signer } from '../crypto/signer-type.js';
import { FormatError, KeyError, ValueError } from '../errors.js';
import { parseStrict } from '../json/strict.js';
import {
  type JsonObject,
  readArray,
  readField,
  readInteger,
  readObject,
  readString,
  readStringArray,
} from '../metadata/fields.js';
import { Metadata, type VerificationResult, verifyThreshold } from '../metadata/metadata.js';
import { Role } from '../metadata/roles.js';
import { pythonJson } from '../metadata/serialize.js';
import type { Root, Targets } from '../metadata/signed.js';

export const SIGNING_REQUEST_VERSION = 1;

/** One threshold the metadata must meet: e.g. the old root's and the new root's root role. */
export interface RequiredSignatures {
  /** Who requires it, for people: `root version 3`, `root version 4 (new)`, `targets`. */
  by: string;
  threshold: number;
  keyids: string[];
}

/**
 * A change to a role that needs signatures from keys held elsewhere (an offline root ceremony): the
 * exact metadata to sign, what it must meet, and what it changes, so a key holder can check it
 * before signing.
 */
export interface SigningRequest {
  /** The role to sign. */
  role: string;
  /** The version the metadata will have when published. */
  version: number;
  /** The metadata to sign, with the signatures gathered so far. */
  metadata: Metadata;
  /** sha256 of the canonical signed bytes: compare it out of band before signing. */
  signedSha256: string;
  /** A readable summary of what changes against the current version. */
  changes: string[];
  required: RequiredSignatures[];
  /** The public keys of everyone in `required`. */
  keys: Map<string, Key>;
}

export function newSigningRequest(
  metadata: Metadata,
  role: string,
  required: {
    by: string;
    role: Role | { keyids: readonly string[]; threshold: number };
    keys: ReadonlyMap<string, Key>;
  }[],
  changes: string[],
): SigningRequest {
  const keys = new Map<string, Key>();
  const req: RequiredSignatures[] = [];
  for (const r of required) {
    for (const id of r.role.keyids) {
      const k = r.keys.get(id);
      if (k) keys.set(id, k);
    }
    req.push({ by: r.by, threshold: r.role.threshold, keyids: [...new Set(r.role.keyids)] });
  }
  return {
    role,
    version: metadata.signed.version,
    metadata,
    signedSha256: hexDigest('sha256', metadata.signedBytes()),
    changes,
    required: req,
    keys,
  };
}

/** The request as a file (JSON, python-tuf layout for the embedded metadata's field order). */
export function signingRequestToBytes(r: SigningRequest): Uint8Array {
  const keys: JsonObject = Object.create(null);
  for (const [id, k] of r.keys) keys[id] = k.toJSON();
  const doc = {
    tufa_signing_request: SIGNING_REQUEST_VERSION,
    role: r.role,
    version: r.version,
    signed_sha256: r.signedSha256,
    changes: r.changes,
    required: r.required.map((q) => ({ by: q.by, threshold: q.threshold, keyids: q.keyids })),
    keys,
    metadata: r.metadata.toJSON(),
  };
  return new TextEncoder().encode(`${pythonJson(doc, 1)}\n`);
}

/**
 * Parses a request file strictly; the embedded metadata must match `signed_sha256`.
 * @throws {@link errors!FormatError | FormatError} not a signing request, or its metadata does not
 *   match `signed_sha256`.
 */
export function signingRequestFromBytes(bytes: Uint8Array): SigningRequest {
  const { value } = parseStrict(bytes);
  const o = readObject(value, '$');
  const v = readInteger(readField(o, 'tufa_signing_request', '$'), 'tufa_signing_request', 1);
  if (v !== SIGNING_REQUEST_VERSION) {
    throw new FormatError(
      `expected signing request format ${SIGNING_REQUEST_VERSION}, found ${v}`,
      'tufa_signing_request',
    );
  }
  const role = readString(readField(o, 'role', '$'), 'role');
  const version = readInteger(readField(o, 'version', '$'), 'version', 1);
  const signedSha256 = readString(readField(o, 'signed_sha256', '$'), 'signed_sha256');
  const changes = readStringArray(readField(o, 'changes', '$'), 'changes');
  const required = readArray(readField(o, 'required', '$'), 'required').map((q, i) => {
    const qo = readObject(q, `required[${i}]`);
    return {
      by: readString(readField(qo, 'by', `required[${i}]`), `required[${i}].by`),
      threshold: readInteger(readField(qo, 'threshold', `required[${i}]`), `required[${i}].threshold`, 1),
      keyids: readStringArray(readField(qo, 'keyids', `required[${i}]`), `required[${i}].keyids`),
    };
  });
  const keysObj = readObject(readField(o, 'keys', '$'), 'keys');
  const keys = new Map<string, Key>();
  for (const id of Object.keys(keysObj)) keys.set(id, Key.fromJSON(keysObj[id], `keys.${id}`));
  // Re-read the embedded metadata through the strict metadata parser.
  const mdBytes = new TextEncoder().encode(JSON.stringify(readField(o, 'metadata', '$')));
  const metadata = Metadata.fromBytes(mdBytes);
  if (metadata.signed.version !== version) {
    throw new FormatError(
      `the metadata is version ${metadata.signed.version}, the request says ${version}`,
      'version',
    );
  }
  const actual = hexDigest('sha256', metadata.signedBytes());
  if (actual !== signedSha256) {
    throw new FormatError(
      `the metadata does not match signed_sha256 (expected ${signedSha256}, found ${actual})`,
      'metadata',
    );
  }
  return { role, version, metadata, signedSha256, changes, required, keys };
}

/**
 * Adds `signer`'s signature. The signer's key must be one the request names.
 * @throws {@link errors!KeyError | KeyError} the signer's key is not one the request names.
 */
export async function signSigningRequest(r: SigningRequest, signer: Signer): Promise<SigningRequest> {
  const material = signer.key.materialId();
  const keyids = [...r.keys]
    .filter(([, k]) => material !== undefined && k.materialId() === material)
    .map(([id]) => id);
  if (keyids.length === 0) {
    throw new KeyError(
      `key ${signer.keyid} is not one of the keys this request needs (${r.required.map((q) => `${q.by}: ${q.keyids.join(', ')}`).join('; ')})`,
    );
  }
  const md = new Metadata(r.metadata.signed, r.metadata.signatures.values(), r.metadata.unrecognized);
  const sig = await signer.sign(md.signedBytes());
  for (const id of keyids) md.signatures.set(id, new Signature(id, sig.sig));
  return { ...r, metadata: md };
}

/**
 * Merges the signatures of requests for the same metadata, in any order.
 * @throws {@link errors!ValueError | ValueError} the requests are not for the same metadata.
 */
export async function mergeSigningRequests(
  first: SigningRequest,
  ...rest: SigningRequest[]
): Promise<SigningRequest> {
  const md = new Metadata(
    first.metadata.signed,
    first.metadata.signatures.values(),
    first.metadata.unrecognized,
  );
  for (const r of rest) {
    if (r.signedSha256 !== first.signedSha256 || r.role !== first.role) {
      throw new ValueError(
        `requests differ: ${first.role} ${first.signedSha256.slice(0, 12)}… vs ${r.role} ${r.signedSha256.slice(0, 12)}…`,
      );
    }
    for (const [id, s] of r.metadata.signatures) {
      // Keep the signature that verifies, so one bad copy cannot block a threshold.
      const have = md.signatures.get(id);
      const key = first.keys.get(id);
      const haveOk =
        have !== undefined && key !== undefined && (await key.verify(md.signedBytes(), have.sig));
      if (!haveOk) md.signatures.set(id, s);
    }
  }
  return { ...first, metadata: md };
}

/**
 * For each threshold the metadata must meet: who signed (with a signature that verifies), who
 * is missing. For a root request the thresholds come from the metadata itself (its own root
 * role) and from `previous`, a root the caller trusts (the one it replaces) — never from what
 * the request file claims, which anyone could have edited. Other roles' thresholds are the
 * request's claims (`claimed: true`), to be checked by publishing, which verifies them anew.
 */
export async function signingRequestStatus(
  r: SigningRequest,
  options: { previous?: Root } = {},
): Promise<(VerificationResult & { claimed: boolean })[]> {
  const out: (VerificationResult & { claimed: boolean })[] = [];
  if (r.metadata.signed.type === 'root') {
    const next = r.metadata.signed;
    const prev = options.previous;
    if (prev) {
      const role = prev.role('root');
      out.push({
        ...(await verifyThreshold(`root version ${prev.version}`, role, prev.keys, r.metadata)),
        claimed: false,
      });
    } else {
      // The old root's threshold, as claimed by the request (pass `previous` to check it).
      for (const q of r.required.filter(
        (q) => !q.by.endsWith('(new)') && q.by !== `root version ${next.version}`,
      )) {
        out.push({
          ...(await verifyThreshold(q.by, new Role(q.keyids, q.threshold), r.keys, r.metadata)),
          claimed: true,
        });
      }
    }
    const role = next.role('root');
    const by = `root version ${next.version}${prev || r.required.length > 1 ? ' (new)' : ''}`;
    out.push({ ...(await verifyThreshold(by, role, next.keys, r.metadata)), claimed: false });
    return out;
  }
  for (const q of r.required) {
    out.push({
      ...(await verifyThreshold(q.by, new Role(q.keyids, q.threshold), r.keys, r.metadata)),
      claimed: true,
    });
  }
  return out;
}

/** Everything a signer approves, read from the metadata itself (not from the request's claims). */
export function describeSigned(signed: Root | Targets): string[] {
  const out = [`${signed.type} version ${signed.version}, expires ${signed.expires.toISOString()}`];
  if (signed.type === 'root') {
    out.push(`consistent_snapshot: ${signed.consistentSnapshot}`);
    for (const [name, role] of signed.roles) {
      const keys = role.keyids.map((id) => `${id} (${signed.keys.get(id)?.keytype ?? 'unknown key'})`);
      out.push(`${name}: threshold ${role.threshold} of ${keys.join(', ')}`);
    }
  } else {
    out.push(`${signed.targets.size} target(s)`);
    for (const r of signed.delegations?.roles ?? []) {
      out.push(
        `delegates ${(r.paths ?? r.pathHashPrefixes ?? []).join(' ')} to ${r.name}: threshold ${r.threshold} of ${r.keyids.join(', ')}`,
      );
    }
    const bins = signed.delegations?.succinctRoles;
    if (bins)
      out.push(
        `delegates to ${bins.numberOfBins} hash bins ${bins.namePrefix}-*: threshold ${bins.threshold} of ${bins.keyids.join(', ')}`,
      );
  }
  return out;
}

/** A readable list of differences between two versions of a role, for people who sign. */
export function describeChanges(before: Root | Targets | undefined, after: Root | Targets): string[] {
  const out: string[] = [];
  if (!before) return [`new ${after.type} metadata, version ${after.version}`];
  out.push(`version ${before.version} -> ${after.version}`);
  if (before.expires.getTime() !== after.expires.getTime()) {
    out.push(`expires ${before.expires.toISOString()} -> ${after.expires.toISOString()}`);
  }
  if (before.type === 'root' && after.type === 'root') {
    for (const [name, role] of after.roles) {
      const old = before.roles.get(name);
      const added = role.keyids.filter((k) => !old?.keyids.includes(k));
      const removed = (old?.keyids ?? []).filter((k) => !role.keyids.includes(k));
      for (const k of added) out.push(`${name}: add key ${k} (${after.keys.get(k)?.keytype ?? '?'})`);
      for (const k of removed) out.push(`${name}: remove key ${k}`);
      if (old && old.threshold !== role.threshold)
        out.push(`${name}: threshold ${old.threshold} -> ${role.threshold}`);
    }
    if (before.consistentSnapshot !== after.consistentSnapshot) {
      out.push(`consistent_snapshot ${before.consistentSnapshot} -> ${after.consistentSnapshot}`);
    }
  } else if (before.type === 'targets' && after.type === 'targets') {
    let added = 0;
    let changed = 0;
    let removed = 0;
    for (const [p, t] of after.targets) {
      const old = before.targets.get(p);
      if (!old) added++;
      else if (JSON.stringify(old.toJSON()) !== JSON.stringify(t.toJSON())) changed++;
    }
    for (const p of before.targets.keys()) if (!after.targets.has(p)) removed++;
    if (added + changed + removed > 0)
      out.push(`targets: ${added} added, ${changed} changed, ${removed} removed`);
    const names = (t: Targets) => (t.delegations?.roles ?? []).map((r) => r.name);
    for (const n of names(after)) if (!names(before).includes(n)) out.push(`delegation to ${n} added`);
    for (const n of names(before)) if (!names(after).includes(n)) out.push(`delegation to ${n} removed`);
  }
  return out;
}
