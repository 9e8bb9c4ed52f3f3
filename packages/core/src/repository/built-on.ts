/**
 * What a publisher builds on is verified before it signs over it. A new version of a role is the
 * published version plus the publisher's edits, signed with the publisher's keys: if the published
 * version came from storage someone else controls (a registry, a trust server that holds only the
 * online keys, a shared directory) and was not checked, that party could add entries to it and
 * have the publisher's key sign them — a signature clients then accept. So, as a client would
 * (spec 5.3–5.6) but without expiry (renewing expired metadata is what a publisher does):
 *
 * - the root chain, from a root the publisher pinned (or, without one, from the version before
 *   the published root, where storage has it, else the published root signed by its own keys),
 *   each version signed by the previous version's root keys and its own;
 * - timestamp, snapshot and top-level targets by the keys the newest root trusts for them, or
 *   those of the root before it: a one-step key rotation interrupted after its new root was
 *   written and before timestamp.json leaves exactly that, and opening the repository again is
 *   how it is finished (docs/publishing.md). The residue, said in ADR 0032: someone who controls
 *   storage *and* holds a key the newest root removed can still have it built on, until the
 *   next root version;
 * - every delegated role when it is first loaded, by a threshold of the keys a published
 *   delegator trusts for it; every targets role at the version and with the length and hashes
 *   snapshot lists.
 */
import { equalBytes } from '../crypto/hex.js';
import { RollbackError, RootNotInChainError, ThresholdError, VersionMismatchError } from '../errors.js';
import { metadataPath, rootFileName } from '../metadata/layout.js';
import { Metadata, verifyThreshold } from '../metadata/metadata.js';
import type { Delegations } from '../metadata/roles.js';
import type { Root } from '../metadata/signed.js';
import type { RepositoryStorage } from './storage.js';

const REFUSED = 'refusing to sign over metadata that does not verify';

/** `next` is the root version after `prev`, signed by a threshold of both versions' root keys (5.3.4–5.3.5). */
async function verifyRootStep(prev: Metadata<Root>, next: Metadata<Root>): Promise<void> {
  if (next.signed.version !== prev.signed.version + 1) {
    throw new VersionMismatchError(
      `published root: expected version ${prev.signed.version + 1} after ${prev.signed.version}, found ${next.signed.version} (${REFUSED})`,
    );
  }
  await prev.verifyDelegate('root', next).catch((e) => {
    throw refusedToBuildOn(
      `root version ${next.signed.version} by the keys of version ${prev.signed.version}`,
      e,
    );
  });
  await next.verifyDelegate('root', next).catch((e) => {
    throw refusedToBuildOn(`root version ${next.signed.version} by its own keys`, e);
  });
}

/** `e`, a verifier's ThresholdError, said as a refusal to build on published `what`; others as they are. */
function refusedToBuildOn(what: string, e: unknown): unknown {
  if (!(e instanceof ThresholdError)) return e;
  // The verifier's message names the role and version again: said once.
  const why = e.message.replace(/^\S+ version \d+: /, '');
  return new ThresholdError(`published ${what}: ${why} (${REFUSED})`, { cause: e });
}

/**
 * The published root chain, verified: from `trusted` (a root the publisher pinned) when given,
 * else from the version before `latest` (the bytes of `root.json`) where storage has it, else
 * from `latest`, signed by its own keys; then each `N.root.json` storage has after it. Returns
 * the chain in version order, the current root last.
 * @throws {@link errors!ThresholdError | ThresholdError} a version not signed as the chain requires.
 * @throws {@link errors!RollbackError | RollbackError} storage's root is older than the pinned one,
 *   or the chain does not reach the version `root.json` names.
 * @throws {@link errors!RootNotInChainError | RootNotInChainError} `root.json` is another root of
 *   the version the chain ends at.
 */
export async function verifiedRootChain(
  storage: RepositoryStorage,
  latest: Uint8Array,
  trusted: Uint8Array | undefined,
): Promise<Metadata<Root>[]> {
  const named = Metadata.fromBytes(latest, 'root');
  const before =
    trusted || named.signed.version === 1
      ? undefined
      : await storage.read(metadataPath(rootFileName(named.signed.version - 1)));
  const start = trusted
    ? Metadata.fromBytes(trusted, 'root')
    : before
      ? Metadata.fromBytes(before, 'root')
      : named;
  await start.verifyDelegate('root', start).catch((e) => {
    throw refusedToBuildOn(
      `${trusted ? 'pinned ' : ''}root version ${start.signed.version} by its own keys`,
      e,
    );
  });
  if (named.signed.version < start.signed.version) {
    throw new RollbackError(
      `published root.json is version ${named.signed.version}, older than the pinned root version ${start.signed.version}`,
    );
  }
  const chain = [start];
  for (;;) {
    const last = chain.at(-1) as Metadata<Root>;
    const bytes = await storage.read(metadataPath(rootFileName(last.signed.version + 1)));
    if (!bytes) break;
    const next = Metadata.fromBytes(bytes, 'root');
    await verifyRootStep(last, next);
    chain.push(next);
  }
  const top = chain.at(-1) as Metadata<Root>;
  if (top.signed.version === named.signed.version && !equalBytes(top.signedBytes(), named.signedBytes())) {
    throw new RootNotInChainError(
      `published root.json (version ${named.signed.version}) is not the root version ${named.signed.version} of the chain from the ${trusted ? 'pinned' : 'previous'} root (${REFUSED})`,
    );
  }
  if (top.signed.version < named.signed.version) {
    throw new RollbackError(
      `published root.json is version ${named.signed.version}, but the root chain from version ${start.signed.version} ends at ${top.signed.version} (${REFUSED})`,
    );
  }
  return chain;
}

/**
 * The published root chain as it is, for inspection only (`RepositoryOptions.inspectOnly`):
 * `root.json`, then each `N.root.json` after it, nothing verified.
 */
export async function unverifiedRootChain(
  storage: RepositoryStorage,
  latest: Uint8Array,
): Promise<Metadata<Root>[]> {
  const chain = [Metadata.fromBytes(latest, 'root')];
  for (;;) {
    const bytes = await storage.read(
      metadataPath(rootFileName((chain.at(-1) as Metadata<Root>).signed.version + 1)),
    );
    if (!bytes) return chain;
    chain.push(Metadata.fromBytes(bytes, 'root'));
  }
}

/**
 * `md` (timestamp, snapshot or targets) is signed by a threshold of its keys in the newest root
 * or, where a publish stopped after writing a new root, in the root before it.
 */
export async function verifyTopLevelRole(
  chain: readonly Metadata<Root>[],
  role: 'timestamp' | 'snapshot' | 'targets',
  md: Metadata,
): Promise<void> {
  let first: unknown;
  for (let i = chain.length - 1; i >= Math.max(0, chain.length - 2); i--) {
    try {
      await (chain[i] as Metadata<Root>).verifyDelegate(role, md);
      return;
    } catch (e) {
      first ??= e;
    }
  }
  throw refusedToBuildOn(`${role} version ${md.signed.version}`, first);
}

/**
 * `md`, the published version of delegated role `role`, is signed by a threshold of the keys one
 * of its published `delegators` trusts for it.
 * @throws {@link errors!ThresholdError | ThresholdError} no delegator's keys sign it.
 */
export async function verifyDelegatedRole(
  role: string,
  md: Metadata,
  delegators: readonly { name: string; delegations: Delegations }[],
): Promise<void> {
  if (delegators.length === 0) {
    throw new ThresholdError(
      `published ${role} version ${md.signed.version}: no published role delegates to it (${REFUSED})`,
    );
  }
  let found: string | undefined;
  for (const { name, delegations } of delegators) {
    const delegated = delegations.getRole(role);
    if (!delegated) continue;
    const r = await verifyThreshold(role, delegated, delegations.keys, md, { stopAtThreshold: true });
    if (r.verified) return;
    found ??= `expected ${r.threshold} valid signature(s) from the keys ${name} trusts for it, found ${r.signed.length}`;
  }
  throw new ThresholdError(`published ${role} version ${md.signed.version}: ${found} (${REFUSED})`);
}
