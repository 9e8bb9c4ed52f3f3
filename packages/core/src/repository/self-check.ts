/**
 * The publisher's self-check: what is about to be published goes through the client's own
 * verification (TrustedMetadataSet, spec 5.3–5.6) before a byte is written, so a repository
 * never publishes metadata its clients would refuse. The cost is proportional to what changed.
 */
import { TrustedMetadataSet } from '../client/trusted-set.js';
import { NotFoundError, StateError } from '../errors.js';
import { Metadata } from '../metadata/metadata.js';
import type { SuccinctRoles } from '../metadata/roles.js';
import type { Targets } from '../metadata/signed.js';

export interface SelfCheckInput {
  /** The time a client would refresh at. */
  now: Date;
  /** The files about to be written (new roots in version order), by role. */
  files: readonly { role: string; bytes: Uint8Array }[];
  /** What storage holds now (the bytes read from it); undefined before the first publish. */
  published: { root: Uint8Array; timestamp: Uint8Array; snapshot: Uint8Array } | undefined;
  /** The published bytes of a targets role that `files` does not replace. */
  publishedRole(role: string): Promise<Uint8Array>;
  /** The roles whose delegations name `role`, as they will be published. */
  delegatorsOf(role: string): Promise<readonly string[]>;
  /**
   * Delegated roles already written (hash bins published one at a time): verified after the
   * rest, read back through `read`, `STREAMED_BATCH` at a time, so that a million-tag bulk is
   * never held in memory as a whole.
   */
  streamed?: { roles: readonly string[]; read(role: string): Promise<Uint8Array> };
}

/**
 * Streamed roles verified through one trusted set before it is dropped: a trusted set keeps
 * every delegated role it verified, and at 1024 bins of a thousand tags that is the whole
 * repository; a new set costs a few signature checks of the top-level roles.
 */
const STREAMED_BATCH = 64;

/**
 * Verifies as a client would: the root chain from the published root (from the first new root
 * on a first publish), timestamp, snapshot and targets, then every changed delegated role against
 * each role that delegates to it, and the roles a changed delegator lists (their keys may have
 * changed). Throws the client's error for the first thing a client would refuse.
 */
export async function selfCheck(input: SelfCheckInput): Promise<void> {
  const { verify } = await checkTopLevel(input);
  const written = new Set([...input.files.map((f) => f.role), ...(input.streamed?.roles ?? [])]);
  // Hash bins a changed delegator now trusts other keys for, and that this publish does not
  // rewrite: each must still verify under the new keys (the listed-roles case is the loop's).
  const rekeyedBins: string[] = [];
  for (const f of input.files) {
    if (['root', 'timestamp', 'snapshot'].includes(f.role)) continue;
    const md = await verify(f.role);
    const delegations = md.signed.delegations;
    for (const child of delegations?.roles ?? []) await verify(child.name);
    const bins = delegations?.succinctRoles;
    if (bins && (await succinctKeysChanged(input, f.role, bins))) {
      for (const bin of bins.getRoles()) if (!written.has(bin)) rekeyedBins.push(bin);
    }
  }
  const later: { roles: readonly string[]; read(role: string): Promise<Uint8Array> }[] = [];
  if (input.streamed) later.push(input.streamed);
  if (rekeyedBins.length > 0) later.push({ roles: rekeyedBins, read: input.publishedRole });
  for (const { roles, read } of later) {
    for (let i = 0; i < roles.length; i += STREAMED_BATCH) {
      const batch = roles.slice(i, i + STREAMED_BATCH);
      const { verify: verifyBatch } = await checkTopLevel(input, (role) =>
        batch.includes(role) ? read(role) : undefined,
      );
      for (const role of batch) await verifyBatch(role);
    }
  }
}

/**
 * Whether the hash bins `role` delegates to are trusted for other keys or another threshold
 * than in its published version (a role published for the first time: no bins to keep).
 */
async function succinctKeysChanged(
  input: SelfCheckInput,
  role: string,
  now: SuccinctRoles,
): Promise<boolean> {
  if (!input.published) return false;
  let before: SuccinctRoles | undefined;
  try {
    before = Metadata.fromBytes(await input.publishedRole(role), 'targets').signed.delegations?.succinctRoles;
  } catch (e) {
    if (e instanceof NotFoundError) return false;
    throw e;
  }
  if (!before) return false;
  const ids = (r: SuccinctRoles) => [...r.keyids].sort().join(',');
  return before.threshold !== now.threshold || ids(before) !== ids(now);
}

/**
 * A trusted set loaded as a client would (root chain, timestamp, snapshot, targets), and
 * `verify(role)`: the role verified through it against every delegator that names it (each
 * delegator verified first, the same way). `extra` gives the bytes of roles not in `files`.
 */
async function checkTopLevel(
  input: SelfCheckInput,
  extra: (role: string) => Promise<Uint8Array> | undefined = () => undefined,
): Promise<{ verify(name: string): Promise<Metadata<Targets>> }> {
  const { files, published } = input;
  const newRoots = files.filter((f) => f.role === 'root');
  const trustedRootBytes = published ? published.root : newRoots[0]?.bytes;
  if (!trustedRootBytes) throw new StateError('nothing to check against: no root');
  const set = await TrustedMetadataSet.create(trustedRootBytes, input.now);
  for (const f of published ? newRoots : newRoots.slice(1)) await set.updateRoot(f.bytes);
  const byRole = new Map(files.map((f) => [f.role, f.bytes]));
  // The root's expiry (5.3.10) is checked by the first timestamp update.
  const ts = byRole.get('timestamp') ?? published?.timestamp;
  if (!ts) throw new StateError('no timestamp to check');
  // A previous timestamp and snapshot give the client's rollback checks something to bite on.
  if (published && byRole.has('timestamp')) {
    try {
      await set.updateTimestamp(published.timestamp);
    } catch {
      // Its keys may have rotated in the new root: then a client drops it too (spec 5.3.11).
    }
  }
  await set.updateTimestamp(ts);
  if (published && byRole.has('snapshot')) {
    try {
      await set.updateSnapshot(published.snapshot, true);
    } catch {
      // Expected: the old snapshot is not the version the new timestamp names. It is now the
      // rollback reference for the new one, exactly as in a client that had cached it.
    }
  }
  const snBytes = byRole.get('snapshot') ?? published?.snapshot;
  if (!snBytes) throw new StateError('no snapshot to check');
  await set.updateSnapshot(snBytes);
  const bytesOf = async (name: string) =>
    byRole.get(name) ?? (await extra(name)) ?? (await input.publishedRole(name));
  const top = await set.updateTargets(await bytesOf('targets'));
  // Delegated roles, each verified through the trusted set against every delegator that names
  // it (each delegator verified first, the same way).
  const verified = new Map<string, Metadata<Targets>>([['targets', top]]);
  const verify = async (name: string): Promise<Metadata<Targets>> => {
    const known = verified.get(name);
    if (known) return known;
    let md: Metadata<Targets> | undefined;
    for (const delegator of await input.delegatorsOf(name)) {
      md = await set.updateDelegatedTargets(await bytesOf(name), name, await verify(delegator));
    }
    if (!md) throw new StateError(`no role delegates to ${JSON.stringify(name)}`);
    verified.set(name, md);
    return md;
  };
  return { verify };
}
