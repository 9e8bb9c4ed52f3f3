/**
 * One (implementation, input) measurement of the adversarial suite, in its own process.
 * Started by bench/adversarial.mjs; prints one `RESULT {json}` line.
 *
 *   node bench/adversarial-worker.mjs '{"impl":"tufa","file":"…","runs":7,"budgetMs":15000}'
 *
 * `tufa`: `Metadata.fromBytes(bytes, 'targets')`, what a client does with a downloaded targets
 * file before it checks a signature. `json`: `JSON.parse` of the same bytes, for reference: the
 * part of the cost that comes with the shape of the input whatever the parser.
 */
import { readFileSync } from 'node:fs';
import { reportResult } from './lib/harness.mjs';

const opts = JSON.parse(process.argv[2]);
const bytes = readFileSync(opts.file);

const IMPLS = {
  async tufa() {
    const { Metadata } = await import('../packages/core/dist/index.js');
    return (buf) => Metadata.fromBytes(buf, 'targets').signed.targets.size;
  },
  async json() {
    return (buf) => Object.keys(JSON.parse(buf.toString('utf8')).signed.targets).length;
  },
};

const run = await IMPLS[opts.impl]();
let sink;
function once() {
  const t0 = performance.now();
  sink = run(bytes);
  return performance.now() - t0;
}

const started = performance.now();
const cold = once();
const targets = sink;
// Warm up until the JIT has settled: at least one more run, more while under 1 s.
for (let w = 0; w < 30 && performance.now() - started < 1000; w++) once();
const samples = [];
for (let i = 0; i < opts.runs; i++) {
  if (samples.length > 0 && performance.now() - started > opts.budgetMs) break;
  samples.push(once());
}
reportResult({ cold, samples, targets });
