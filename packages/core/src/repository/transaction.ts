/**
 * The open → edit → publish transaction, retried when another publisher got there first.
 *
 * `Repository.publish` refuses (ConflictError) when `metadata/timestamp.json` moved since the
 * repository was opened, or while another publisher holds the storage lock: publishing then
 * would undo that publisher's work. The remedy is always the same: open the repository again,
 * as it now is, and apply the same edit to it. This module does that, a bounded number of
 * times, waiting a little longer (with jitter, so two retrying publishers drift apart) before
 * each new attempt.
 *
 * What is retried, and why:
 * - a ConflictError raised by `publish`: the repository moved on, or a running publisher holds
 *   the lock (PublishLockedError with `holderState: 'running'`), which it releases when done;
 * - not a PublishLockedError whose holder cannot be checked (`holderState: 'unknown'`: another
 *   host, another boot, another container). Such a lock stays until a person removes it, so
 *   waiting cannot help; the error goes to the caller at once, to show them how;
 * - not an error from opening or from the edit itself (a ConflictError there, e.g. "target is
 *   already signed", is a verdict on the edit, and would be the same again), nor anything else.
 */
import { ConflictError, PublishLockedError, UsageError } from '../errors.js';
import { type PublishResult, Repository, type RepositoryOptions } from './repository.js';
import type { RepositoryStorage } from './storage.js';

/** Publish attempts by default: the first, and two more after a conflict. */
export const DEFAULT_TRANSACTION_ATTEMPTS = 3;

/**
 * How often `withRepository` re-applies an edit after a conflicting publish, and how long it
 * waits between attempts.
 */
export interface TransactionOptions {
  /** How many times in all the edit may be applied and published. Default 3. */
  attempts?: number;
  /**
   * Waits before attempt `attempt + 1` (called with 1 after the first conflict). Default:
   * `transactionBackoff` on a timer. Tests pass one that does not wait.
   */
  delay?: (attempt: number) => Promise<void>;
}

/** What a transaction published, what the edit returned, and on which attempt. */
export interface TransactionResult<T> extends PublishResult {
  /** What the edit returned on the attempt that was published. */
  result: T;
  /** Which attempt was published (1 when there was no conflict). */
  attempts: number;
}

/** The edit: stage changes on `repo` (fresh from storage on every attempt); nothing is published yet. */
export type RepositoryEdit<T> = (repo: Repository, attempt: number) => Promise<T>;

/**
 * Milliseconds to wait after conflict number `attempt`: grows with each attempt, plus up to
 * 50 ms of jitter so that publishers who collided once do not collide again in lockstep.
 * `random` is injectable (a number in [0, 1)); Math.random is enough: nothing depends on it
 * being unpredictable.
 */
export function transactionBackoff(attempt: number, random: () => number = Math.random): number {
  return 50 * attempt + Math.floor(random() * 50);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True for a conflict that a fresh attempt can get past (see above). */
export function isRetryableConflict(e: unknown): boolean {
  if (!(e instanceof ConflictError)) return false;
  return !(e instanceof PublishLockedError && e.holderState === 'unknown');
}

/**
 * Opens the repository in `storage`, applies `edit`, publishes; on a conflict with another
 * publisher, does all three again from the repository as it now is, up to `attempts` times.
 * The edit must therefore be safe to run more than once: it gets a fresh Repository each time,
 * and whatever it computed from the repository before is computed again. Returns what the
 * published attempt's edit returned and what was written; throws the last ConflictError when
 * every attempt met one.
 */
export async function withRepository<T>(
  storage: RepositoryStorage,
  repositoryOptions: RepositoryOptions,
  edit: RepositoryEdit<T>,
  options: TransactionOptions = {},
): Promise<TransactionResult<T>> {
  const attempts = options.attempts ?? DEFAULT_TRANSACTION_ATTEMPTS;
  if (!Number.isSafeInteger(attempts) || attempts < 1) {
    throw new UsageError(`attempts must be a whole number of at least 1 (found ${String(attempts)})`);
  }
  const delay = options.delay ?? ((attempt: number) => sleep(transactionBackoff(attempt)));
  // Every attempt gets the same signers, even when the caller passed a one-shot iterable.
  const opened: RepositoryOptions = { ...repositoryOptions, signers: [...(repositoryOptions.signers ?? [])] };
  for (let attempt = 1; ; attempt++) {
    const repo = await Repository.open(storage, opened);
    const result = await edit(repo, attempt);
    try {
      const published = await repo.publish();
      return { ...published, result, attempts: attempt };
    } catch (e) {
      if (attempt >= attempts || !isRetryableConflict(e)) throw e;
    }
    await delay(attempt);
  }
}
