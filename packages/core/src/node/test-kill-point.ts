/**
 * TEST ONLY: kills this process with a signal at a named point of a publish, so that crash
 * recovery is tested at exact points rather than by timing. Inert unless the environment
 * variable TUFA_TEST_ONLY_KILL_AT is set, as `SIGNAL@POINT#N`: kill with SIGNAL (SIGKILL,
 * SIGTERM or SIGINT) the N-th time (from 1) the process reaches POINT. Points:
 *
 *   lock-begin     before taking the publish lock (everything is signed, nothing written)
 *   lock-acquired  the lock is held, nothing written yet
 *   write-begin    before a repository file is written
 *   write-temp     its bytes are in the temporary file, not yet renamed into place
 *   write-done     it is in place
 *   lock-release   before the lock is released (the publish is complete, or failed)
 *
 * With SIGINT or SIGTERM the point waits until the process's signal handler has called
 * `interruptPublishing()`, so the signal takes effect exactly there.
 */
import { UsageError } from '../errors.js';
import { interruptRequested } from './interrupt.js';

const VARIABLE = 'TUFA_TEST_ONLY_KILL_AT';
const POINTS = new Set([
  'lock-begin',
  'lock-acquired',
  'write-begin',
  'write-temp',
  'write-done',
  'lock-release',
]);
const reached = new Map<string, number>();

export type KillPoint =
  | 'lock-begin'
  | 'lock-acquired'
  | 'write-begin'
  | 'write-temp'
  | 'write-done'
  | 'lock-release';

export async function testKillPoint(point: KillPoint): Promise<void> {
  const spec = process.env[VARIABLE];
  if (spec === undefined || spec === '') return;
  const m = /^(SIGKILL|SIGTERM|SIGINT)@([a-z-]+)#([1-9]\d*)$/.exec(spec);
  if (!m || !POINTS.has(m[2] as string)) {
    throw new UsageError(
      `${VARIABLE} must be SIGNAL@POINT#N, e.g. SIGKILL@write-begin#3 (got ${JSON.stringify(spec)})`,
    );
  }
  const n = (reached.get(point) ?? 0) + 1;
  reached.set(point, n);
  if (m[2] !== point || Number(m[3]) !== n) return;
  const signal = m[1] as NodeJS.Signals;
  process.kill(process.pid, signal);
  if (signal === 'SIGKILL') await new Promise<never>(() => {});
  // Without a handler the default action ends the process; with one, it must interrupt.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    interruptRequested(),
    new Promise<never>((_, fail) => {
      timer = setTimeout(
        () => fail(new Error(`${VARIABLE}: ${signal} was not handled by interruptPublishing()`)),
        20_000,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}
