/**
 * `tufa status --check`: which roles are expired or will expire within their warning period.
 * The defaults give an operator time to act: root, targets and delegated roles (signed offline
 * or by people) two weeks; snapshot two days; timestamp six hours, a quarter of its one-day
 * default lifetime, so a cron job that stopped is noticed well before clients fail.
 */
import { usage } from './cli-error.js';

const HOUR = 3600;
const DAY = 24 * HOUR;

/** Warning periods in seconds, by role class (`delegated`: every delegated role, hash bins too). */
export const DEFAULT_WITHIN: Readonly<Record<string, number>> = {
  root: 14 * DAY,
  targets: 14 * DAY,
  delegated: 14 * DAY,
  snapshot: 2 * DAY,
  timestamp: 6 * HOUR,
};

const UNITS: Record<string, number> = { s: 1, m: 60, h: HOUR, d: DAY, w: 7 * DAY };

/** `90m`, `6h`, `14d`, `2w` (a whole number and a unit) in seconds. */
export function parseDuration(text: string, what: string): number {
  const m = /^(\d{1,6})([smhdw])$/.exec(text);
  if (!m) {
    throw usage(
      `${what}: expected a duration such as 6h, 14d or 2w (a whole number and one of s m h d w), found ${JSON.stringify(text)}`,
      'tufa status GUN --check --within timestamp=6h',
    );
  }
  return Number(m[1]) * (UNITS[m[2] as string] as number);
}

/**
 * The warning periods from `--within ROLE=DURATION` options over the defaults. ROLE is a
 * top-level role, `delegated` (all delegated roles) or one delegated role's name.
 */
export function parseWithin(options: readonly string[]): Map<string, number> {
  const within = new Map(Object.entries(DEFAULT_WITHIN));
  for (const o of options) {
    const eq = o.lastIndexOf('=');
    if (eq <= 0) {
      throw usage(
        `--within: expected ROLE=DURATION, found ${JSON.stringify(o)}`,
        'tufa status GUN --check --within snapshot=3d --within timestamp=12h',
      );
    }
    within.set(o.slice(0, eq), parseDuration(o.slice(eq + 1), `--within ${o.slice(0, eq)}`));
  }
  return within;
}

/** The warning period of `role`: its own, else its class's. */
export function withinFor(within: ReadonlyMap<string, number>, role: string, delegated: boolean): number {
  return within.get(role) ?? (within.get(delegated ? 'delegated' : role) as number);
}

/** "in 3 days", "in 5 hours", "2 days ago": the coarsest unit that is at least 1. */
export function relativeTime(secondsLeft: number): string {
  const abs = Math.abs(secondsLeft);
  const [n, unit] =
    abs >= 2 * DAY
      ? [Math.floor(abs / DAY), 'day']
      : abs >= 2 * HOUR
        ? [Math.floor(abs / HOUR), 'hour']
        : abs >= 120
          ? [Math.floor(abs / 60), 'minute']
          : [Math.floor(abs), 'second'];
  const text = `${n} ${unit}${n === 1 ? '' : 's'}`;
  return secondsLeft < 0 ? `${text} ago` : `in ${text}`;
}
