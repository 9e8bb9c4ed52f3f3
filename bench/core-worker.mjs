/**
 * One (implementation, size) measurement of the core suite, in its own process so that its
 * peak memory is its own. Started by bench/core.mjs; prints one `RESULT {json}` line.
 *
 *   node bench/core-worker.mjs '{"impl":"tufa","mode":"time","file":"…","root":"…","runs":5,"budgetMs":15000}'
 *
 * `mode: "time"`: warm-up, then up to `runs` timed runs (stopping after `budgetMs`).
 * `mode: "memory"`: one run in a fresh process; its maxRSS is the figure reported.
 *
 * Every implementation gets the file's bytes (a Buffer, already read) and the trusted root
 * (parsed before timing). One run = bytes → parsed, checked metadata → threshold verified.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { canonicalEncode } from './lib/canonical.mjs';
import { reportResult } from './lib/harness.mjs';

const opts = JSON.parse(process.argv[2]);
const bytes = readFileSync(opts.file);
const rootBytes = readFileSync(opts.root);

/** Each implementation: setup() once, then run() → { phase timestamps, output to check }. */
const IMPLS = {
  // --- parse + verify ---------------------------------------------------------------------
  async floor() {
    const root = JSON.parse(rootBytes.toString('utf8')).signed;
    const keyid = root.roles.targets.keyids[0];
    const spki = Buffer.concat([
      Buffer.from('302a300506032b6570032100', 'hex'),
      Buffer.from(root.keys[keyid].keyval.public, 'hex'),
    ]);
    const keyObject = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    return (buf) => {
      const doc = JSON.parse(buf.toString('utf8'));
      const parsed = performance.now();
      const sig = doc.signatures.find((s) => s.keyid === keyid);
      const data = canonicalEncode(doc.signed, buf.length);
      if (!verify(null, data, keyObject, Buffer.from(sig.sig, 'hex')))
        throw new Error('floor: bad signature');
      return { parsed, out: doc };
    };
  },

  async tufa() {
    const { Metadata } = await import('../packages/core/dist/index.js');
    const root = Metadata.fromBytes(rootBytes, 'root');
    return async (buf) => {
      const md = Metadata.fromBytes(buf, 'targets');
      const parsed = performance.now();
      await root.verifyDelegate('targets', md); // throws unless the threshold is met
      return { parsed, out: md, targets: md.signed.targets.size };
    };
  },

  async 'tuf-js'() {
    const { Metadata } = await import('@tufjs/models');
    const root = Metadata.fromJSON('root', JSON.parse(rootBytes.toString('utf8')));
    return (buf) => {
      const md = Metadata.fromJSON('targets', JSON.parse(buf.toString('utf8')));
      const parsed = performance.now();
      root.verifyDelegate('targets', md); // throws unless the threshold is met
      return { parsed, out: md, targets: Object.keys(md.signed.targets).length };
    };
  },

  // --- strict parse + canonical bytes of `signed` -------------------------------------------
  async 'tufa-parseStrict'() {
    const { parseStrict } = await import('../packages/core/dist/json/strict.js');
    return (buf) => {
      const r = parseStrict(buf);
      return { out: r.value, canonical: r.signedCanonical };
    };
  },

  async 'json+tufjs-canonical'() {
    const { canonicalize } = await import('@tufjs/canonical-json');
    return (buf) => {
      const value = JSON.parse(buf.toString('utf8'));
      return { out: value, canonical: Buffer.from(canonicalize(value.signed)) };
    };
  },

  async 'json+floor-encoder'() {
    return (buf) => {
      const value = JSON.parse(buf.toString('utf8'));
      return { out: value, canonical: canonicalEncode(value.signed, buf.length) };
    };
  },
};

/**
 * The process's peak RSS. On Linux, VmHWM of this process image: `maxRSS` (getrusage) survives
 * exec, so a child forked from a big parent would report the parent's RSS as its own peak.
 */
function peakRssKb() {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]);
  } catch {}
  return process.resourceUsage().maxRSS;
}

const run = await IMPLS[opts.impl]();
const baselineRssKb = Math.round(process.memoryUsage().rss / 1024);

let sink;
async function once() {
  const t0 = performance.now();
  const r = await run(bytes);
  const t1 = performance.now();
  sink = r;
  return { total: t1 - t0, parse: r.parsed === undefined ? undefined : r.parsed - t0 };
}

// The first run is cold (and, in `memory` mode, the only one: the process's peak RSS is then
// that of one parse + verify on top of Node and the input).
const started = performance.now();
const cold = await once();
const check = {
  targets: sink.targets ?? Object.keys(sink.out.signed.targets).length,
  canonicalSha256: sink.canonical && createHash('sha256').update(sink.canonical).digest('hex'),
};
sink = undefined;
const samples = [];
let warmups = 1;
if (opts.mode === 'time' && cold.total <= opts.budgetMs) {
  // Warm up until the JIT has settled: at least one run, more while under 1 s (at most 30).
  while (warmups < 30 && performance.now() - started < 1000) {
    await once();
    warmups++;
  }
  // No forced GC between runs: V8 sizes the heap from the last full GC, so a gc() before each
  // run makes the next one pay for major GCs it would not otherwise do (measured: 2–10× noise
  // at 1k). Garbage from one run is collected during later ones, as in a long-lived process.
  for (let i = 0; i < opts.runs; i++) {
    if (samples.length > 0 && performance.now() - started > opts.budgetMs) break;
    samples.push(await once());
    sink = undefined;
  }
}
reportResult({
  impl: opts.impl,
  mode: opts.mode,
  coldOnly: samples.length === 0,
  warmups,
  cold,
  samples: samples.length ? samples : [cold],
  check,
  baselineRssKb,
  maxRssKb: peakRssKb(),
});
