/**
 * Core suite: parse + verify of a signed targets.json with 1k, 10k and 100k targets, for
 * tufa, @tufjs/models and a lean floor written here (JSON.parse, the bench's byte-buffer
 * canonical encoder, one node:crypto Ed25519 verify with a cached KeyObject); and, separately,
 * tufa's strict parse + canonical bytes against JSON.parse + @tufjs/canonical-json.
 *
 * Each (implementation, size) runs in its own process (bench/core-worker.mjs): one warm-up,
 * then the median of several runs, with a full GC before each; peak memory is the process's
 * maxRSS. Peers are capped (BENCH_PEER_TIMEOUT seconds, default 60) and reported "not
 * finished" past it. BENCH_SIZES=1000,10000 limits the sizes; BENCH_NO_DOC=1 skips the doc.
 */
import { statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { ensureCoreFixtures, ROOT_DIR } from './lib/fixtures.mjs';
import {
  describeMachine,
  fmtBytes,
  fmtMb,
  fmtMs,
  fmtRatio,
  gitRevision,
  machine,
  median,
  runChild,
  table,
  writeDocSection,
} from './lib/harness.mjs';

const WORKER = join(ROOT_DIR, 'bench', 'core-worker.mjs');
const SIZES = (process.env.BENCH_SIZES ?? '1000,10000,100000').split(',').map(Number);
const PEER_TIMEOUT_S = Number(process.env.BENCH_PEER_TIMEOUT ?? 60);
const OWN_TIMEOUT_S = 300;
const BUDGET_MS = 15_000; // stop taking samples after this much time in one process

/** Timed runs per process after the warm-up (fewer for big sizes), and processes per implementation. */
function runsFor(n) {
  if (n <= 1000) return 15;
  if (n <= 10_000) return 7;
  return 5;
}
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const VERIFY_IMPLS = [
  { id: 'floor', label: 'lean floor', peer: false },
  { id: 'tufa', label: 'tufa', peer: false },
  { id: 'tuf-js', label: '@tufjs/models 4.1.1', peer: true, oneProcess: true },
];
const CANON_IMPLS = [
  { id: 'tufa-parseStrict', label: 'tufa parseStrict', peer: false },
  { id: 'json+tufjs-canonical', label: 'JSON.parse + @tufjs/canonical-json', peer: true },
  { id: 'json+floor-encoder', label: 'JSON.parse + bench byte encoder', peer: false },
];

function spawnWorker(impl, mode, n, file, rootFile) {
  const timeoutS = impl.peer ? PEER_TIMEOUT_S : OWN_TIMEOUT_S;
  const args = JSON.stringify({
    impl: impl.id,
    mode,
    file,
    root: rootFile,
    runs: runsFor(n),
    budgetMs: BUDGET_MS,
  });
  return runChild(WORKER, [args], { timeoutMs: timeoutS * 1000 });
}

/**
 * Measures a group of implementations at one size. Time: ROUNDS processes per implementation,
 * interleaved (floor, tufa, floor, tufa, …) so that load from elsewhere on the machine falls on
 * all of them alike; the median is over all runs of all rounds. Peers get one process (their
 * runs are long). Memory: one more process per implementation doing a single cold run, unless
 * the timing process did only that.
 */
async function measureGroup(impls, n, file, rootFile, log) {
  const acc = new Map(
    impls.map((impl) => [impl.id, { samples: [], colds: [], res: undefined, failed: undefined }]),
  );
  for (let round = 0; round < ROUNDS; round++) {
    for (const impl of impls) {
      const a = acc.get(impl.id);
      if (a.failed || (impl.oneProcess && round > 0)) continue;
      const r = await spawnWorker(impl, 'time', n, file, rootFile);
      if (r.timedOut) {
        a.failed = { timedOut: true, reachedRssKb: r.sampledPeakKb || undefined };
        continue;
      }
      if (!r.ok) throw new Error(`${impl.id} at ${n} failed:\n${r.error}`);
      if (r.result.check.targets !== n)
        throw new Error(`${impl.id} at ${n}: read ${r.result.check.targets} targets`);
      a.samples.push(...r.result.samples);
      a.colds.push(r.result.cold.total);
      a.res = r.result;
    }
  }
  const out = {};
  for (const impl of impls) {
    const a = acc.get(impl.id);
    let m;
    if (a.failed) {
      m = { ok: false, status: `not finished (> ${PEER_TIMEOUT_S} s)`, reachedRssKb: a.failed.reachedRssKb };
    } else {
      const totals = a.samples.map((x) => x.total);
      m = {
        ok: true,
        median: median(totals),
        min: Math.min(...totals),
        parse: a.samples[0].parse === undefined ? undefined : median(a.samples.map((x) => x.parse)),
        cold: median(a.colds),
        runs: a.res.coldOnly ? '1 cold' : `${a.samples.length}`,
        processes: a.colds.length,
        check: a.res.check,
      };
      let mem = a.res;
      if (!a.res.coldOnly) {
        const rm = await spawnWorker(impl, 'memory', n, file, rootFile);
        if (!rm.ok) throw new Error(`${impl.id} at ${n} (memory) failed:\n${rm.error ?? 'timed out'}`);
        mem = rm.result;
      }
      m.maxRssKb = mem.maxRssKb;
      m.baselineRssKb = mem.baselineRssKb;
    }
    log(
      `  ${impl.label.padEnd(36)} ${String(n).padStart(6)}  ${
        m.ok
          ? `${fmtMs(m.median).padStart(9)} median (${m.runs} runs), peak RSS ${fmtMb(m.maxRssKb)}`
          : m.status
      }`,
    );
    out[impl.id] = m;
  }
  return out;
}

function timeCell(m) {
  return m.ok ? fmtMs(m.median) : m.status;
}

function rssCell(m) {
  if (m.ok) return fmtMb(m.maxRssKb);
  return m.reachedRssKb ? `≥ ${fmtMb(m.reachedRssKb)} when stopped` : '–';
}

/** a/b, or a bound when b did not finish. */
function timeRatio(a, b) {
  if (!a.ok) return '–';
  if (!b.ok) return `< ${fmtRatio(a.median / (PEER_TIMEOUT_S * 1000))}`;
  return fmtRatio(a.median / b.median);
}

export async function main({ log = console.log, writeDoc = !process.env.BENCH_NO_DOC } = {}) {
  const mach = machine();
  log(`core: parse + verify (${describeMachine(mach)})`);
  const fx = await ensureCoreFixtures(SIZES, { log: (s) => log(`  ${s}`) });
  const revision = gitRevision(); // of the sources; `npm run bench` builds them first
  const loadBefore = os.loadavg()[0];
  if (loadBefore > mach.nproc / 2)
    log(`  warning: load average ${loadBefore.toFixed(2)}; times will be noisy`);
  const results = {};
  for (const n of SIZES) {
    results[n] = { bytes: statSync(fx.targets[n]).size, verify: {}, canon: {} };
    results[n].verify = await measureGroup(VERIFY_IMPLS, n, fx.targets[n], fx.root, log);
  }
  for (const n of SIZES) {
    results[n].canon = await measureGroup(CANON_IMPLS, n, fx.targets[n], fx.root, log);
    const digests = new Set(
      CANON_IMPLS.map((i) => results[n].canon[i.id].check?.canonicalSha256).filter(Boolean),
    );
    if (digests.size > 1) throw new Error(`canonical bytes differ between implementations at ${n}`);
  }

  const verifyTable = table(
    [
      'targets',
      'file',
      'implementation',
      'median',
      'min',
      'runs',
      'of which parse',
      'first run',
      'peak RSS',
      'RSS before run',
    ],
    SIZES.flatMap((n) =>
      VERIFY_IMPLS.map((impl) => {
        const m = results[n].verify[impl.id];
        return [
          n.toLocaleString('en-US'),
          fmtBytes(results[n].bytes),
          impl.label,
          timeCell(m),
          m.ok ? fmtMs(m.min) : '–',
          m.ok ? m.runs : '–',
          m.ok ? fmtMs(m.parse) : '–',
          m.ok ? fmtMs(m.cold) : '–',
          rssCell(m),
          m.ok ? fmtMb(m.baselineRssKb) : '–',
        ];
      }),
    ),
    ['r', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
  const ratioRows = SIZES.map((n) => {
    const { floor, tufa } = results[n].verify;
    const tufjs = results[n].verify['tuf-js'];
    const delta = (m) => m.maxRssKb - m.baselineRssKb;
    return [
      n.toLocaleString('en-US'),
      fmtRatio(tufa.median / floor.median),
      fmtRatio(tufa.min / floor.min),
      fmtRatio(tufa.maxRssKb / floor.maxRssKb),
      fmtRatio(delta(tufa) / delta(floor)),
      timeRatio(tufa, tufjs),
      tufjs.ok
        ? `${fmtRatio(tufjs.median / tufa.median)} faster`
        : `> ${fmtRatio((PEER_TIMEOUT_S * 1000) / tufa.median)} faster`,
    ];
  });
  const ratioTable = table(
    [
      'targets',
      'tufa/floor time',
      'same, minimums',
      'tufa/floor peak RSS',
      'tufa/floor RSS growth',
      'tufa/tuf-js time',
      'tufa vs tuf-js',
    ],
    ratioRows,
    ['r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
  const canonTable = table(
    ['targets', 'implementation', 'median', 'min', 'runs', 'peak RSS', 'time / tufa', 'same, minimums'],
    SIZES.flatMap((n) =>
      CANON_IMPLS.map((impl) => {
        const m = results[n].canon[impl.id];
        const t = results[n].canon['tufa-parseStrict'];
        return [
          n.toLocaleString('en-US'),
          impl.label,
          timeCell(m),
          m.ok ? fmtMs(m.min) : '–',
          m.ok ? m.runs : '–',
          rssCell(m),
          m.ok && t.ok ? fmtRatio(m.median / t.median) : '–',
          m.ok && t.ok ? fmtRatio(m.min / t.min) : '–',
        ];
      }),
    ),
    ['r', 'l', 'r', 'r', 'r', 'r', 'r', 'r'],
  );

  log(
    `\nParse + verify\n${verifyTable}\n\nRatios\n${ratioTable}\n\nStrict parse + canonical bytes of signed\n${canonTable}`,
  );

  const env = { revision, loadBefore, loadAfter: os.loadavg()[0] };
  log(`\nload average: ${env.loadBefore.toFixed(2)} at start, ${env.loadAfter.toFixed(2)} at end`);
  if (writeDoc) {
    writeDocSection('core', docSection(mach, env, results, verifyTable, ratioTable, canonTable));
    log('\nwrote the core section of docs/performance.md');
  }
  return results;
}

/** "met" / "missed" against a bound, judged on medians and minimums (noise can split them). */
function verdict(byMedian, byMin, ok) {
  if (ok(byMedian) && ok(byMin)) return 'met';
  if (!ok(byMedian) && !ok(byMin)) return 'missed';
  return 'borderline: medians and minimums disagree';
}

function verdicts(results) {
  const big = Math.max(...SIZES);
  const r = results[big];
  const out = [];
  const { floor, tufa } = r.verify;
  const t = tufa.median / floor.median;
  const tMin = tufa.min / floor.min;
  const mem = tufa.maxRssKb / floor.maxRssKb;
  out.push(
    `- **Goal: within 1.2× of the floor's time and memory at ${big.toLocaleString('en-US')} targets.** Time ${fmtRatio(t)} by medians, ${fmtRatio(
      tMin,
    )} by minimums (${verdict(t, tMin, (x) => x <= 1.2)}); peak RSS ${fmtRatio(mem)} (${mem <= 1.2 ? 'met' : 'missed'}).`,
  );
  const perSize = SIZES.map((n) => {
    const pair = results[n].canon['json+tufjs-canonical'];
    const strict = results[n].canon['tufa-parseStrict'];
    if (!pair.ok || !strict.ok) return undefined;
    const x = pair.median / strict.median;
    const y = pair.min / strict.min;
    return `${n.toLocaleString('en-US')}: ${fmtRatio(x)} (minimums ${fmtRatio(y)}, ${verdict(x, y, (v) => v >= 2)})`;
  }).filter(Boolean);
  out.push(
    `- **Goal: strict parse + canonical bytes ≥ 2× faster than JSON.parse + @tufjs/canonical-json.** ${perSize.join('; ')}.`,
  );
  return out.join('\n');
}

function docSection(mach, env, results, verifyTable, ratioTable, canonTable) {
  return `## Core: parse + verify

Measured ${mach.date} on ${describeMachine(mach)}, tufa at ${env.revision}, with
\`node bench/run.mjs core\`.

**What is measured.** One run takes the bytes of a signed \`targets.json\` (already in memory)
to parsed metadata whose signature threshold is verified against a trusted root (parsed
before timing). The fixture (\`.bench-out/core/\`, generated by \`bench/lib/fixtures.mjs\` from
fixed key seeds, so byte-identical on every machine) has N targets named like container tags
(\`registry.example.com/team/app-<i>:v<i>\`) with a length and a sha256 each, one Ed25519
signature, and python-tuf's layout (indent 1, sorted keys).

- **tufa**: \`Metadata.fromBytes(bytes, 'targets')\` (strict parse with the canonical bytes
  of \`signed\` from the same scan, every target entry checked, each \`TargetFile\` built
  on first read) then \`root.verifyDelegate('targets', md)\`.
- **@tufjs/models**: \`Metadata.fromJSON('targets', JSON.parse(text))\` then
  \`root.verifyDelegate('targets', md)\`.
- **lean floor**: \`JSON.parse\`, canonical bytes of \`signed\` from the bench's byte-buffer
  encoder (\`bench/lib/canonical.mjs\`), one \`crypto.verify\` with a cached Ed25519 KeyObject.
  It skips sorting an object's keys when they are already in order (as in these files; tufa's
  scan does the same). No validation and no model: the least work any verifier must do.

**Method.** Every measurement runs in a fresh process (\`bench/core-worker.mjs\`), one at a
time. Time: warm-up runs (at least one, more while under 1 s, so the JIT settles), then
${runsFor(1000)} / ${runsFor(10_000)} / ${runsFor(100_000)} timed runs (1k / 10k / 100k) per process, in ${ROUNDS} processes per implementation,
interleaved (floor, tufa, floor, tufa, …) so that load from elsewhere on the machine falls on
both alike; the table gives the median and the minimum over all those runs. A process stops
taking samples after ${BUDGET_MS / 1000} s; when its first run alone takes longer, that run is the only
sample ("1 cold"). @tufjs/models runs in one process; peers are killed after ${PEER_TIMEOUT_S} s ("not
finished"; the RSS reached is then sampled from \`/proc\` by the parent). No forced GC between runs: a
\`gc()\` makes V8 shrink the heap, and the next run then pays for major GCs it would not
otherwise do (2–10× noise at 1k), so the GC work a run causes is part of its time. "Of which
parse" is the time until the parsed metadata exists (for the floor, \`JSON.parse\` alone; for
tufa it includes the canonical bytes). "First run" is the median over the processes of their
first, cold run (JIT not warmed up: what a CLI or a short-lived job pays). Memory: one more fresh process per implementation does a
single run; "peak RSS" is its high-water RSS (\`VmHWM\` from \`/proc/self/status\`, because
\`process.resourceUsage().maxRSS\` is inherited across fork + exec and would report the
parent's RSS), so it includes Node itself and the input bytes; "RSS before run" is
\`process.memoryUsage().rss\` after setup. The canonical bytes of the three encoders are
checked to be identical, and every run must read all N targets and verify. The load average
was ${env.loadBefore.toFixed(2)} when the run started and ${env.loadAfter.toFixed(2)} when it ended (${mach.nproc} CPUs; other
work on the machine shows up as noise, mostly in the medians).

### Parse + verify

${verifyTable}

### Ratios

${ratioTable}

"RSS growth" compares peak RSS minus RSS before the run, i.e. without Node's own footprint
and the input bytes both sides hold.

### Strict parse + canonical bytes alone

Bytes to (value, canonical bytes of \`signed\`): tufa's \`parseStrict\` (which also rejects
duplicate keys, non-integers, lone surrogates, invalid UTF-8, …) against
\`JSON.parse\` + \`Buffer.from(canonicalize(value.signed))\` from \`@tufjs/canonical-json\`,
and the floor's encoder for reference.

${canonTable}

### What the numbers mean

${verdicts(results)}
- @tufjs/models builds its targets map with \`reduce((acc, …) => ({ ...acc, … }))\`, in both
  \`fromJSON\` and \`toJSON\` (which \`verifyDelegate\` calls to canonicalize), so its time grows
  with the square of the number of targets; at 100k it does not finish.
- The floor holds a parsed value and its canonical bytes and checks nothing. tufa also
  rejects what strict parsing rejects (the canonical bytes come out of that scan), checks every
  target entry's shape and digests, and keeps a model whose \`TargetFile\`s are built on first
  read; see "Notes on core" below for where its extra time and memory go.`;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
