/**
 * A 10,000-tag `tufa sign --bulk` killed with SIGKILL, SIGTERM or SIGINT at seeded, reproducible
 * points (the test-only TUFA_TEST_ONLY_KILL_AT hook: the process signals itself at the N-th
 * time it reaches a named point of the publish, so no point depends on timing). After each:
 *  - SIGINT/SIGTERM: exit 130/143, the lock released, no temporary file left;
 *  - SIGKILL: the lock left behind names the dead process;
 *  - a client (`tufa verify`) sees either the previous version or the new one, whole: the new
 *    tags exactly when `timestamp.json` was replaced;
 *  - signing again succeeds (taking over a dead publisher's lock, and saying whose it was),
 *    removes the temporary files a killed write left, and the client verifies the new tags.
 * Override the seed with TUFA_CRASH_SEED to explore other points.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  digestOf,
  expectError,
  expectExit,
  expectJson,
  metadataDir,
  type RunResult,
  runTufa,
  Sandbox,
  show,
} from './helpers/cli.js';

const SEED = Number(process.env.TUFA_CRASH_SEED ?? 20_260_302);
const POINTS = 22;
const GUN = 'registry.example.com/team/crash';
const TAGS = 10_000;
const LOCK = '.tufa-publish.lock';

const sandbox = new Sandbox('tufa-crash-');
const base = sandbox.path('base');
const bulk = sandbox.path('bulk.txt');

/** A small deterministic PRNG (mulberry32), so the points are the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A copy of the base repository and $TUFA_HOME, with its config pointing at the copy. */
function copyOfBase(name: string): { dir: string; env: Record<string, string>; md: string; root: string } {
  const dir = sandbox.path(name);
  cpSync(base, dir, { recursive: true });
  const reposDir = join(dir, 'home', 'repos');
  for (const gun of readdirSync(reposDir)) {
    const config = join(reposDir, gun, 'config.json');
    writeFileSync(config, readFileSync(config, 'utf8').replaceAll(`${base}/`, `${dir}/`));
  }
  const md = metadataDir(join(dir, 'pub'), GUN);
  return { dir, env: { TUFA_HOME: join(dir, 'home') }, md, root: join(md, '1.root.json') };
}

function tufaIn(
  copy: { dir: string; env: Record<string, string> },
  args: string[],
  extra = {},
): Promise<RunResult> {
  return runTufa(args, { cwd: copy.dir, env: { ...sandbox.env, ...copy.env, ...extra } });
}

/** tufa's own files in the repository directory and metadata/ (lock, claims, temporary files). */
function leftovers(md: string): string[] {
  const repoDir = join(md, '..');
  return [
    ...readdirSync(repoDir).filter((f) => f.startsWith('.')),
    ...readdirSync(md)
      .filter((f) => f.startsWith('.'))
      .map((f) => `metadata/${f}`),
  ].sort();
}

/** At most two tufa processes per test step at a time (the machine has two cores). */
let running = 0;
const queue: (() => void)[] = [];
async function slot<T>(f: () => Promise<T>): Promise<T> {
  if (running >= 2) await new Promise<void>((r) => queue.push(r));
  running++;
  try {
    return await f();
  } finally {
    running--;
    queue.shift()?.();
  }
}

type Signal = 'SIGKILL' | 'SIGTERM' | 'SIGINT';
interface KillPoint {
  signal: Signal;
  point: string;
}

let writes = 0;
let plan: KillPoint[] = [];

beforeAll(async () => {
  const env = { TUFA_HOME: join(base, 'home') };
  mkdirSync(base);
  expectExit(
    await runTufa(['init', GUN, '--publish-root', 'pub', '--root-key-out', 'offline'], {
      cwd: base,
      env: { ...sandbox.env, ...env },
    }),
    0,
  );
  expectExit(
    await runTufa(['sign', `${GUN}:base`, '--digest', digestOf('base'), '--size', '7'], {
      cwd: base,
      env: { ...sandbox.env, ...env },
    }),
    0,
  );
  writeFileSync(
    bulk,
    Array.from({ length: TAGS }, (_, i) => `t${i} ${digestOf(`tag-${i}`)} ${1000 + i}\n`).join(''),
  );
  // How many files the bulk publish writes (the last is timestamp.json).
  const probe = copyOfBase('probe');
  const r = expectJson<{ written: string[] }>(await tufaIn(probe, ['--json', 'sign', GUN, '--bulk', bulk]));
  expect(r.written.at(-1)).toBe('metadata/timestamp.json');
  writes = r.written.length;
  expect(writes).toBeGreaterThan(10);

  // Seeded plan: the points the issue names for every signal, then seeded picks.
  const signals: Signal[] = ['SIGKILL', 'SIGTERM', 'SIGINT'];
  const chosen = new Map<string, KillPoint>();
  const add = (signal: Signal, point: string) => chosen.set(`${signal}@${point}`, { signal, point });
  for (const s of signals) {
    add(s, 'lock-acquired#1'); // holding the lock, nothing written
    add(s, `write-begin#${writes}`); // every data file written, timestamp.json not yet
  }
  add('SIGKILL', `write-temp#${writes}`); // timestamp.json's bytes in a temporary file
  add('SIGKILL', 'lock-release#1'); // published, lock not yet released
  const candidates = ['lock-begin#1', 'lock-acquired#1', 'lock-release#1'];
  for (let k = 1; k <= writes; k++) candidates.push(`write-begin#${k}`, `write-temp#${k}`, `write-done#${k}`);
  const random = prng(SEED);
  while (chosen.size < POINTS) {
    add(
      signals[Math.floor(random() * 3)] as Signal,
      candidates[Math.floor(random() * candidates.length)] as string,
    );
  }
  plan = [...chosen.values()];
}, 120_000);

afterAll(() => sandbox.cleanup());

/** Whether the publish got as far as replacing timestamp.json before the signal took effect. */
function published({ signal, point }: KillPoint): boolean {
  if (point === 'lock-release#1' || point === `write-done#${writes}`) return true;
  // SIGINT/SIGTERM let the write in progress finish; SIGKILL does not.
  return point === `write-temp#${writes}` && signal !== 'SIGKILL';
}

describe(`a ${TAGS}-tag bulk sign killed at ${POINTS} seeded points (seed ${SEED})`, () => {
  it('plans at least 20 points, each signal while the lock is held and before timestamp.json', () => {
    expect(plan.length).toBeGreaterThanOrEqual(20);
    for (const s of ['SIGKILL', 'SIGTERM', 'SIGINT']) {
      expect(plan).toContainEqual({ signal: s, point: 'lock-acquired#1' });
      expect(plan).toContainEqual({ signal: s, point: `write-begin#${writes}` });
    }
  });

  it('recovers at every point: the client sees a whole version, and signing again completes', async () => {
    const failures: string[] = [];
    await Promise.all(
      plan.map((kill, i) =>
        (async () => {
          const name = `${kill.signal}@${kill.point}`;
          const copy = copyOfBase(`kill-${i}`);
          const verify = (tag: string) =>
            slot(() => tufaIn(copy, ['verify', `${GUN}:${tag}`, '--server', 'pub', '--root', copy.root]));
          const killed = await slot(() =>
            tufaIn(copy, ['sign', GUN, '--bulk', bulk], { TUFA_TEST_ONLY_KILL_AT: name }),
          );
          try {
            // The signal took effect.
            if (kill.signal === 'SIGKILL') expect(killed.signal, show(killed)).toBe('SIGKILL');
            else {
              expect(killed.code, show(killed)).toBe(kill.signal === 'SIGINT' ? 130 : 143);
              expect(killed.stderr).toContain(`Error: interrupted by ${kill.signal}`);
              // Lock released; the write in progress finished or never started.
              expect(leftovers(copy.md), name).toEqual([]);
            }
            let deadPid: number | undefined;
            if (kill.signal === 'SIGKILL' && kill.point !== 'lock-begin#1') {
              const record = JSON.parse(readFileSync(join(copy.md, '..', LOCK), 'utf8'));
              deadPid = record.pid;
              expect(record.host).toBeTypeOf('string');
            }
            // A client sees the previous version or the new one, whole.
            // (Exit 5 with "is not signed": the client verified the previous version, which
            // lacks the tag, as opposed to a file it could not fetch.)
            const before = await verify('t9999');
            if (published(kill)) expectExit(before, 0);
            else expectError(before, 5, `${GUN}:t9999 is not signed`);
            // Signing again completes the change, taking over a dead publisher's lock.
            const again = await slot(() => tufaIn(copy, ['sign', GUN, '--bulk', bulk]));
            expectExit(again, 0);
            if (deadPid !== undefined) {
              expect(again.stderr).toContain(`Warning: took over the publish lock`);
              expect(again.stderr).toContain(`pid ${deadPid} on host`);
              expect(again.stderr).toContain(`process ${deadPid} is no longer running`);
            } else expect(again.stderr).not.toContain('took over');
            expect(leftovers(copy.md), name).toEqual([]);
            const after = await verify('t9999');
            expectExit(after, 0);
            expect(after.stdout).toContain(digestOf('tag-9999'));
          } catch (e) {
            failures.push(`${name}: ${(e as Error).message}`);
          }
        })(),
      ),
    );
    expect(failures).toEqual([]);
  }, 600_000);

  it('the daily `tufa timestamp` takes over the lock of a publish killed before timestamp.json', async () => {
    const copy = copyOfBase('timestamp');
    const killed = await tufaIn(copy, ['sign', GUN, '--bulk', bulk], {
      TUFA_TEST_ONLY_KILL_AT: `SIGKILL@write-begin#${writes}`,
    });
    expect(killed.signal).toBe('SIGKILL');
    expect(existsSync(join(copy.md, '..', LOCK))).toBe(true);
    const ts = await tufaIn(copy, ['timestamp', GUN]);
    expectExit(ts, 0);
    expect(ts.stderr).toContain('Warning: took over the publish lock');
    expect(leftovers(copy.md)).toEqual([]);
    expectExit(await tufaIn(copy, ['verify', `${GUN}:base`, '--server', 'pub', '--root', copy.root]), 0);
  }, 120_000);
});
