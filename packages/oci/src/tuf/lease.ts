/**
 * The publish lease (docs/tuf-in-oci.md, "Publishing"): registries have no compare-and-swap on
 * tags, so two publishers are kept apart by a lease tag they write and then read back.
 *
 * 1. Read `_tufa.lease`. A lease held by someone else and not yet expired: PublishLockedError
 *    (retryable: it expires, or its holder releases it).
 * 2. Write a lease with a fresh random owner id and `expires = now + ttl`.
 * 3. Wait the settle delay, read it again: if another owner is there now, a second publisher
 *    wrote after us; we step back (PublishLockedError) and leave theirs alone.
 * 4. Before the commit (the timestamp tag), `confirm` reads it once more: still ours, not
 *    released, not expired (with a margin of one settle delay).
 * 5. Release: if it is still ours, overwrite it with a released lease (no DELETE: many registries
 *    refuse it, and deleting by tag is not in the distribution specification).
 *
 * Step 3 closes the race of two publishers that both read an empty lease, unless one of them
 * took longer than the settle delay between its read (1) and its write (2): the window that
 * remains, which the immutable versioned tags and the check after the commit then catch.
 */
import { randomBytes } from 'node:crypto';
import { ConflictError, PublishLockedError } from '@tufa/core';
import type { MetadataTags } from './files.js';
import type { Lease } from './manifest.js';
import { LEASE_TAG } from './tags.js';

/** The steps of a publish a test can stall or crash at. */
export type PublishStep =
  | 'lease-read'
  | 'lease-write'
  | 'lease-confirm'
  | 'write'
  | 'commit'
  | 'verify'
  | 'release';

export interface LeaseTiming {
  /** How long a lease holds (ms). */
  ttlMs: number;
  /** How long to wait between writing the lease and reading it back, and after a commit (ms). */
  settleMs: number;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  /** Test hook awaited before each step (throwing simulates a crash there, waiting a stall). */
  beforeStep: (step: PublishStep, detail: string) => Promise<void>;
}

function describe(l: Lease): string {
  return `owner ${l.owner.slice(0, 12)}…, ${l.released ? 'released' : `held until ${new Date(l.expires).toISOString()}`}`;
}

export async function acquireLease(tags: MetadataTags, t: LeaseTiming): Promise<Lease> {
  const where = `${tags.repository.name}:${LEASE_TAG}`;
  await t.beforeStep('lease-read', LEASE_TAG);
  const current = await tags.readLease();
  if (current !== undefined && !current.released && current.expires > t.now()) {
    throw new PublishLockedError(
      `another publisher holds the publish lease ${where} (${describe(current)}): wait for it to finish`,
      where,
      'running',
    );
  }
  const mine: Lease = { owner: randomBytes(16).toString('hex'), expires: t.now() + t.ttlMs, released: false };
  await t.beforeStep('lease-write', LEASE_TAG);
  await tags.writeLease(mine);
  await t.sleep(t.settleMs);
  await t.beforeStep('lease-confirm', LEASE_TAG);
  const after = await tags.readLease();
  if (after?.owner !== mine.owner) {
    throw new PublishLockedError(
      `another publisher wrote the publish lease ${where} at the same time (${after === undefined ? 'it is gone' : describe(after)}): try again`,
      where,
      'running',
    );
  }
  return mine;
}

/** Step 4: the lease must still be ours, and hold for at least one more settle delay. */
export async function confirmLease(tags: MetadataTags, mine: Lease, t: LeaseTiming): Promise<void> {
  const where = `${tags.repository.name}:${LEASE_TAG}`;
  const now = await tags.readLease();
  if (now?.owner !== mine.owner || now.released) {
    throw new ConflictError(
      `the publish lease ${where} was taken over (${now === undefined ? 'it is gone' : describe(now)}): nothing was committed; open the repository again and re-apply the change`,
    );
  }
  if (mine.expires - t.settleMs <= t.now()) {
    throw new ConflictError(
      `the publish lease ${where} expired before the commit (the publish took longer than ${t.ttlMs} ms): nothing was committed; re-apply the change`,
    );
  }
}

/** Step 5: releases the lease if it is still ours. */
export async function releaseLease(tags: MetadataTags, mine: Lease, t: LeaseTiming): Promise<void> {
  await t.beforeStep('release', LEASE_TAG);
  const now = await tags.readLease();
  if (now?.owner !== mine.owner) return;
  await tags.writeLease({ owner: mine.owner, expires: t.now(), released: true });
}
