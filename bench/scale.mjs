#!/usr/bin/env node
/**
 * Suite `scale`: the publisher at 100k and 1M tags, whole `tufa` processes as a release job runs
 * them (issue 17):
 *
 *   - `tufa sign GUN --bulk FILE` of N tags into an empty repository (just `tufa init`-ed),
 *     with hash bins (the default policy) and flat (TUFA_HASH_BIN_THRESHOLD above N);
 *   - the same N tags with new digests into the repository that already holds them (a release
 *     that re-signs every tag);
 *   - `tufa sign GUN TAG --digest … --size …` of one new tag into that N-tag binned repository.
 *
 * Keys are held by `tufa agent` (started and given the keys once, outside the timing), so the
 * figures leave out unlocking keys (issue 17: "under 0.5 s beyond unlocking keys"); the scrypt
 * cost is bench/agent.mjs's. Timed by bench/lib/harness.mjs runCommand (COMMAND_MEASURE). One run
 * per case by default (BENCH_ROUNDS): a 1M-tag case takes about a minute. Prints the table and
 * the machine's load average, and rewrites the `bench:scale` section of docs/performance.md.
 *
 *   npm run build && node bench/scale.mjs        # BENCH_SIZES=100000,1000000 by default
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { OUT_DIR, ROOT_DIR } from './lib/fixtures.mjs';
import {
  COMMAND_MEASURE,
  describeMachine,
  fmtMb,
  fmtMs,
  gitRevision,
  machine,
  median,
  runCommand,
  table,
  writeDocSection,
} from './lib/harness.mjs';

const DIR = join(OUT_DIR, 'scale');
const BIN = join(ROOT_DIR, 'packages', 'cli', 'dist', 'bin.js');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const SIZES = (process.env.BENCH_SIZES ?? '100000,1000000').split(',').map(Number);
const PASSPHRASE = 'bench passphrase (not a secret)';
const log = (s) => process.stderr.write(`[scale] ${s}\n`);

const tagOf = (i) => `v${i}`;
const digestOf = (i, gen) => createHash('sha256').update(`manifest-${gen}-${i}`).digest('hex');
const sizeOf = (i) => 1024 + ((i * 7919) % 100_000);

async function tufa(args, env) {
  const r = await runCommand(process.execPath, [BIN, ...args], { env, cwd: DIR, timeoutMs: 1_200_000 });
  if (r.code !== 0) throw new Error(`tufa ${args.join(' ')} exited ${r.code}\n${r.stderr}${r.stdout}`);
  return r;
}

function bulkFile(n, gen) {
  const p = join(DIR, `bulk-${n}-${gen}.txt`);
  if (!existsSync(p)) {
    const lines = new Array(n);
    for (let i = 0; i < n; i++) lines[i] = `${tagOf(i)} sha256:${digestOf(i, gen)} ${sizeOf(i)}`;
    writeFileSync(p, `${lines.join('\n')}\n`);
  }
  return p;
}

export async function main() {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(join(DIR, 'tmp'), { recursive: true, mode: 0o700 });
  const base = { ...process.env, TUFA_HOME: join(DIR, 'home'), TMPDIR: join(DIR, 'tmp'), NO_COLOR: '1' };
  for (const k of Object.keys(base)) if (k.startsWith('TUFA_') && k !== 'TUFA_HOME') delete base[k];
  const start = await tufa(['--json', 'agent', 'start', '--idle-timeout', '4h'], base);
  const env = { ...base, TUFA_AGENT_SOCK: JSON.parse(start.stdout).agent.socket };
  const slug = (g) => g.replace(/[^A-Za-z0-9]+/g, '-');
  let repos = 0;
  /** A fresh repository, its three signing keys added to the agent (not timed). */
  const fresh = async (lowKdf = false) => {
    const gun = `registry.example.com/bench/scale${repos++}`;
    await tufa(['init', gun, '--publish-root', 'pub', '--root-key-out', 'offline'], {
      ...base,
      TUFA_PASSPHRASE: PASSPHRASE,
      ...(lowKdf ? { TUFA_SCRYPT_N: '1024' } : {}),
    });
    const keys = ['targets', 'snapshot', 'timestamp'].map((r) => `${slug(gun)}-${r}`);
    await tufa(['agent', 'add', ...keys], { ...env, TUFA_PASSPHRASE: PASSPHRASE });
    return gun;
  };
  const results = [];
  const record = (label, n, r) => {
    results.push({ label, n, wallMs: r.wallMs, cpuMs: r.cpuMs, maxRssKb: r.maxRssKb });
    log(`${label}: ${fmtMs(r.wallMs)} (CPU ${fmtMs(r.cpuMs)}), ${fmtMb(r.maxRssKb)}`);
  };
  // A flat targets.json of 100k or 1M tags is too large for one agent request: the agent's
  // client signs it from the key file. Those keys are made cheap to unlock (scrypt N = 1024, a
  // few ms), so the flat figure leaves out unlocking too.
  const flat = {
    ...env,
    TUFA_HASH_BIN_THRESHOLD: String(Number.MAX_SAFE_INTEGER),
    TUFA_PASSPHRASE: PASSPHRASE,
  };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const n of SIZES) {
        const first = bulkFile(n, 1);
        const second = bulkFile(n, 2);
        const name = n.toLocaleString('en');
        const gun = await fresh();
        record(`bulk ${name} into empty, hash bins`, n, await tufa(['sign', gun, '--bulk', first], env));
        record(
          `bulk ${name} (new digests) into ${name}, hash bins`,
          n,
          await tufa(['sign', gun, '--bulk', second], env),
        );
        const one = ['sign', gun, `new-${round}`, '--digest', `sha256:${digestOf(n, 3)}`, '--size', '1'];
        record(`add 1 tag to ${name}, hash bins`, n, await tufa(one, env));
        const flatGun = await fresh(true);
        record(`bulk ${name} into empty, flat`, n, await tufa(['sign', flatGun, '--bulk', first], flat));
      }
    }
  } finally {
    await tufa(['agent', 'stop'], env).catch(() => {});
  }

  const load = loadavg()
    .map((x) => x.toFixed(1))
    .join(', ');
  const byLabel = new Map();
  for (const r of results) {
    const list = byLabel.get(r.label) ?? [];
    list.push(r);
    byLabel.set(r.label, list);
  }
  const med = (label) => {
    const rs = byLabel.get(label);
    return rs
      ? {
          ms: median(rs.map((r) => r.wallMs)),
          cpu: median(rs.map((r) => r.cpuMs)),
          kb: median(rs.map((r) => r.maxRssKb)),
        }
      : undefined;
  };
  const rows = [...byLabel.keys()].map((label) => {
    const m = med(label);
    return [label, fmtMs(m.ms), fmtMs(m.cpu), fmtMb(m.kb)];
  });
  const ratio = (a, b) =>
    a && b ? `${(a.ms / b.ms).toFixed(2)}× (CPU ${(a.cpu / b.cpu).toFixed(2)}×)` : '–';
  const [small, large] = [SIZES[0], SIZES.at(-1)].map((n) => n.toLocaleString('en'));
  const goals = [
    [
      `bulk ${large} / bulk ${small} into empty, hash bins (goal ≤ ${(SIZES.at(-1) / SIZES[0]).toFixed(0)}×)`,
      ratio(med(`bulk ${large} into empty, hash bins`), med(`bulk ${small} into empty, hash bins`)),
    ],
    [
      `bulk ${large}: hash bins / flat (goal < 1×)`,
      ratio(med(`bulk ${large} into empty, hash bins`), med(`bulk ${large} into empty, flat`)),
    ],
    [
      `bulk ${large} (new digests) into ${large} / into empty`,
      ratio(
        med(`bulk ${large} (new digests) into ${large}, hash bins`),
        med(`bulk ${large} into empty, hash bins`),
      ),
    ],
  ];
  const m = machine();
  const md = `## Scale: the publisher at ${SIZES.map((n) => n.toLocaleString('en')).join(' and ')} tags (bench/scale.mjs)

Measured ${m.date} on ${describeMachine(m)}, ${gitRevision()}; load average at the end ${load}
(the machine was shared with other work: wall times are inflated by it; CPU time and RSS much
less).

Method: whole \`tufa\` processes (${COMMAND_MEASURE}), keys held by
\`tufa agent\` (added once, not timed: unlocking keys is not in these figures; a flat
targets.json too large for one agent request is signed from its key file, made with scrypt
N = 1024 so that unlocking it costs milliseconds), published to a directory. Tags \`vN\`, a sha256 and a size each, from a bulk file. "Into empty": a repository
just made by \`tufa init\`; "new digests into N": the same N tags re-signed with other digests;
"add 1": \`tufa sign GUN TAG --digest … --size 1\` of a new tag. Hash bins by the default policy
(moved past 2,000 tags, about √N bins: 256 at 100k, 1024 at 1M, ADR 0025); flat with
TUFA_HASH_BIN_THRESHOLD above N. ${ROUNDS === 1 ? 'One run per case.' : `Median of ${ROUNDS} runs per case.`}

${table(['case', 'wall time', 'CPU (user + sys)', 'peak RSS'], rows, ['l', 'r', 'r', 'r'])}

${table(['ratio', 'wall time (CPU time)'], goals, ['l', 'r'])}`;
  console.log(md);
  writeDocSection('scale', md);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
