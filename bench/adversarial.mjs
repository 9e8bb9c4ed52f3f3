/**
 * Adversarial suite: what hostile, unsigned targets metadata costs a client before any
 * signature is checked (`Metadata.fromBytes`), against a well-formed file of the same size.
 * The inputs (bench/lib/adversarial.mjs) reorder keys, escape strings and keys, share long key
 * prefixes and nest unsorted objects: the shapes that made the strict reader's cost grow faster
 * than its input. `JSON.parse` of the same bytes is measured beside it, as the part of the cost
 * any parser pays for that shape.
 *
 * Each (input, implementation) runs in its own process (bench/adversarial-worker.mjs), ROUNDS
 * times, interleaved across inputs so that load from elsewhere falls on all alike. Ratios are
 * per byte (the files differ in size by a few percent). BENCH_ADVERSARIAL_SIZE (bytes, default
 * 5,000,000, the client's default limit for targets) sets the size; BENCH_NO_DOC=1 skips the doc.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { BASELINE, SHAPES } from './lib/adversarial.mjs';
import { OUT_DIR, ROOT_DIR } from './lib/fixtures.mjs';
import {
  describeMachine,
  fmtBytes,
  fmtMs,
  fmtRatio,
  gitRevision,
  machine,
  median,
  runChild,
  table,
  writeDocSection,
} from './lib/harness.mjs';

const WORKER = join(ROOT_DIR, 'bench', 'adversarial-worker.mjs');
const SIZE = Number(process.env.BENCH_ADVERSARIAL_SIZE ?? 5_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const RUNS = 7;
const IMPLS = ['tufa', 'json'];

export async function main() {
  const log = (s) => console.log(s);
  const m = machine();
  const loadBefore = os.loadavg()[0];
  const { scanCost } = await import('../packages/core/dist/json/strict.js');
  const dir = join(OUT_DIR, 'adversarial');
  mkdirSync(dir, { recursive: true });
  const inputs = Object.entries(SHAPES).map(([name, make], i) => {
    const bytes = Buffer.from(make(SIZE));
    const file = join(dir, `shape-${i}.json`);
    writeFileSync(file, bytes);
    return { name, file, size: bytes.length, cost: scanCost(bytes) };
  });
  log(`adversarial inputs of about ${fmtBytes(SIZE)}, ${ROUNDS} rounds\n`);

  const samples = new Map(inputs.map((x) => [x.name, { tufa: [], json: [], cold: [], targets: undefined }]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const input of inputs) {
      for (const impl of IMPLS) {
        const args = JSON.stringify({ impl, file: input.file, runs: RUNS, budgetMs: 15_000 });
        const r = await runChild(WORKER, [args], { timeoutMs: 300_000 });
        if (!r.ok) throw new Error(`${impl} on "${input.name}" failed: ${r.error ?? 'timed out'}`);
        const s = samples.get(input.name);
        s[impl].push(...r.result.samples);
        if (impl === 'tufa') s.cold.push(r.result.cold);
        s.targets = r.result.targets;
      }
      log(`  round ${round + 1}: ${input.name}`);
    }
  }

  const stat = (name, impl) => {
    const xs = samples.get(name)[impl];
    return { median: median(xs), min: Math.min(...xs), runs: xs.length };
  };
  const base = inputs.find((x) => x.name === BASELINE);
  const perByte = (name, impl, key) => {
    const x = inputs.find((i) => i.name === name);
    return stat(name, impl)[key] / x.size / (stat(BASELINE, impl)[key] / base.size);
  };
  const rows = inputs.map((x) => {
    const t = stat(x.name, 'tufa');
    const j = stat(x.name, 'json');
    return [
      x.name,
      fmtBytes(x.size),
      String(samples.get(x.name).targets),
      fmtMs(t.median),
      fmtMs(t.min),
      fmtRatio(perByte(x.name, 'tufa', 'median')),
      fmtRatio(perByte(x.name, 'tufa', 'min')),
      fmtMs(median(samples.get(x.name).cold)),
      fmtMs(j.median),
      fmtRatio(perByte(x.name, 'json', 'median')),
    ];
  });
  const timeTable = table(
    [
      'input',
      'size',
      'targets',
      'tufa median',
      'tufa min',
      'tufa vs well-formed',
      'same, minimums',
      'first run',
      'JSON.parse median',
      'JSON.parse vs well-formed',
    ],
    rows,
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
  const per = (v, n) => (v / n).toFixed(3);
  const costTable = table(
    ['input', 'key comparisons / byte', 'key bytes read / byte', 'bytes moved / byte', 'buffers allocated'],
    inputs.map((x) => [
      x.name,
      per(x.cost.comparisons, x.size),
      per(x.cost.keyBytesRead, x.size),
      per(x.cost.movedBytes, x.size),
      String(x.cost.buffersAllocated),
    ]),
    ['l', 'r', 'r', 'r', 'r'],
  );
  const worst = Math.max(...inputs.map((x) => perByte(x.name, 'tufa', 'median')));
  const worstMin = Math.max(...inputs.map((x) => perByte(x.name, 'tufa', 'min')));
  // Inputs over 2× for tufa by either measure, with what JSON.parse pays for the same shape.
  const over = inputs
    .filter((x) => perByte(x.name, 'tufa', 'median') > 2 || perByte(x.name, 'tufa', 'min') > 2)
    .map(
      (x) =>
        `"${x.name}" (${fmtRatio(perByte(x.name, 'tufa', 'median'))} by medians, ${fmtRatio(perByte(x.name, 'tufa', 'min'))} by minimums; \`JSON.parse\` alone ${fmtRatio(perByte(x.name, 'json', 'median'))} by medians, ${fmtRatio(perByte(x.name, 'json', 'min'))} by minimums)`,
    );
  const loadAfter = os.loadavg()[0];
  console.log(`\n${timeTable}\n\n${costTable}\n`);
  if (process.env.BENCH_NO_DOC) return;

  writeDocSection(
    'adversarial',
    `## Adversarial inputs: parse cost before the signature check

Measured ${m.date} on ${describeMachine(m)}, tufa at ${gitRevision()}, with
\`node bench/run.mjs adversarial\`.

**What is measured.** Bytes of an unsigned targets file of about ${fmtBytes(SIZE)} (the client's
default limit for targets) to parsed metadata: \`Metadata.fromBytes(bytes, 'targets')\`, the
strict parse with the canonical bytes of \`signed\` and the model, which a client does before it
checks a signature. Each input (\`bench/lib/adversarial.mjs\`) is valid targets metadata built to
make that expensive: keys out of order at every level, escapes in keys and strings, long shared
key prefixes, many small or deeply nested unsorted objects in \`custom\`. The baseline is a
well-formed file of the same size in python-tuf's layout. \`JSON.parse\` of the same bytes is
measured beside it: the part of the cost that comes with the shape itself, whatever the parser.

**Method.** Each (input, implementation) runs in a fresh process: warm-up, then up to ${RUNS} timed
runs; ${ROUNDS} processes each, interleaved across inputs. Ratios are per byte against the
well-formed file (the sizes differ by a few percent). The load average was ${loadBefore.toFixed(2)}
when the run started and ${loadAfter.toFixed(2)} when it ended (${m.nproc} CPUs).

### Time

${timeTable}

### Operations (counted, not timed: \`scanCost\` in \`packages/core/src/json/strict.ts\`)

${costTable}

### What the numbers mean

- **Goal: at most about 2× the time of the well-formed file, per byte, whatever the key order or
  escapes.** Worst input: ${fmtRatio(worst)} by medians, ${fmtRatio(worstMin)} by minimums.${
    over.length === 0
      ? ' Every input is within 2× by both.'
      : ` Over 2×: ${over.join('; ')}: compare with what \`JSON.parse\` alone pays for that shape.`
  }
- The operation counts are what the tests (\`packages/core/test/json/strict.test.ts\`) bound:
  key bytes read stay within 4 per input byte (the key order is found with an LCP merge sort,
  which never re-reads a shared prefix; escaped keys are unescaped once per object, not per
  comparison), comparisons within log2 of the members per member, bytes copied to assemble the
  canonical form within 2 per input byte however deep the unsorted objects nest (the document
  and \`signed\`), and buffers grow by doubling instead of one per object.`,
  );
}
