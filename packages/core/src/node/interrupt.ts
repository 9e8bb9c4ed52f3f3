/**
 * Stopping the publishes of this process cleanly, for a SIGINT/SIGTERM handler.
 *
 * A publish writes every new file first and `timestamp.json` last, each atomically (DESIGN rule
 * 10), so it may stop between any two writes. What must not happen is an exit in the middle of a
 * write (a stray temporary file) or an exit that keeps the publish lock (every later publish
 * would then find it). `interruptPublishing()` refuses every write and lock not yet started,
 * waits for those in progress to finish, and releases the locks this process holds.
 *
 * The state is per process on purpose: a publish lock names a process, and a signal stops one.
 */
import { StorageError } from '../errors.js';

let interrupted = false;
let announce: () => void = () => {};
const requested = new Promise<void>((resolve) => {
  announce = resolve;
});
/** Writes and lock acquisitions in progress. */
const pending = new Set<Promise<unknown>>();
/** Release functions of the publish locks this process holds. */
const held = new Set<() => Promise<void>>();

/** Throws when the process is being interrupted: nothing new may start. */
export function checkNotInterrupted(what: string): void {
  if (interrupted) {
    throw new StorageError(`interrupted: refusing to ${what} (the process is stopping on a signal)`);
  }
}

/**
 * Runs `operation` as one step that an interruption waits for (an atomic write, taking the
 * lock). Refuses to start it once the process is being interrupted.
 */
export async function uninterrupted<T>(what: string, operation: () => Promise<T>): Promise<T> {
  checkNotInterrupted(what);
  const p = operation();
  pending.add(p);
  try {
    return await p;
  } finally {
    pending.delete(p);
  }
}

/** Records a publish lock this process holds, so an interruption releases it. */
export function holdLock(release: () => Promise<void>): void {
  held.add(release);
}

/** Forgets a lock this process released. */
export function dropLock(release: () => Promise<void>): void {
  held.delete(release);
}

/** Resolves once `interruptPublishing()` has been called (used by the test-only kill points). */
export function interruptRequested(): Promise<void> {
  return requested;
}

/**
 * For a SIGINT/SIGTERM handler: refuses every later write and lock of `FsRepositoryStorage` in
 * this process, waits for the writes in progress (each atomic) to finish, and releases the
 * publish locks this process holds. Resolves to the number of locks released. The process
 * should exit afterwards: the interruption is not undone.
 */
export async function interruptPublishing(): Promise<number> {
  interrupted = true;
  announce();
  while (pending.size > 0) await Promise.allSettled([...pending]);
  const releases = [...held];
  held.clear();
  await Promise.allSettled(releases.map((r) => r()));
  return releases.length;
}
