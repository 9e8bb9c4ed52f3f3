#!/usr/bin/env node
/**
 * Where tufa's parse + verify time and memory go at N targets (default 100k), next to the
 * floor's steps. Each step runs in its own process with only its inputs alive (so one step's
 * heap does not slow another's GC): a warm-up, then the median of several runs, with the GC
 * time V8 reports inside the run. "what-if" steps re-implement one part of tufa in the bench
 * to size a suggested change; they are not tufa. Not part of `npm run bench`; after a build:
 *
 *   node bench/profile-core.mjs [N]             # steps table (+ retained heap of the models)
 *   node bench/profile-core.mjs [N] --cpu-prof  # plus a V8 CPU profile of the whole tufa path
 *   node bench/profile-core.mjs [N] --step ID   # one step (what the parent runs)
 */
import { spawnSync } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { canonicalEncode } from './lib/canonical.mjs';
import { summarizeCpuProfile } from './lib/cpuprofile.mjs';
import { ensureCoreFixtures, OUT_DIR } from './lib/fixtures.mjs';
import { fmtMs, gitRevision, median, reportResult, runChild, table } from './lib/harness.mjs';

const SELF = fileURLToPath(import.meta.url);
const args = process.argv.slice(2);
const N = Number(args.find((a) => /^\d+$/.test(a)) ?? 100_000);
const RUNS = N >= 100_000 ? 5 : 11; // per process
const ROUNDS = Number(process.env.PROFILE_ROUNDS ?? 3); // processes per step, interleaved

/** Bench-local re-implementations used by the what-if steps. */
const EMPTY = Object.freeze(Object.create(null));
function isLowerHex(s) {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

/** Throws unless `ok`; the error path is `eager` (built by the caller up front) plus the suffix, or built here. */
function req(core, ok, eager, p, suffix, alg) {
  if (!ok)
    throw new core.FormatError('invalid', eager ?? `signed.targets.${p}${suffix}${alg ? `.${alg}` : ''}`);
}

/**
 * A bench-local targets loop with switchable choices, to size each on its own:
 * `lazyPaths` (false: the entry's error path `signed.targets.<path>` is built for every entry
 * up front, as TargetsMap's validateEntry and TargetFile.fromJSON do; true: only on failure),
 * `hexLoop` (a char-code loop instead of /^[0-9a-f]+$/), and when `build` (make a TargetFile
 * per entry, as tufa did before 87ac457 and as TargetsMap.get does on first read):
 * `sharedEmpty` (one frozen empty `unrecognized` object when a target has no extra fields, not
 * Object.create(null) each) and `hashMap` (false: keep the parsed hashes object, no Map).
 * With `build: false` it only validates, as Targets.fromJSON now does.
 */
function targetsLoop(
  core,
  targetsObj,
  { lazyPaths = true, hexLoop = true, sharedEmpty = true, hashMap = true, build = true } = {},
) {
  const { TargetFile } = core;
  const HEX = /^[0-9a-f]+$/;
  const out = new Map();
  for (const p of Object.keys(targetsObj)) {
    const o = targetsObj[p];
    const fp = lazyPaths ? undefined : `signed.targets.${p}`;
    req(core, typeof o === 'object' && o !== null && !Array.isArray(o), fp, p, '');
    const length = o.length;
    req(core, Object.hasOwn(o, 'length') && Number.isSafeInteger(length) && length >= 0, fp, p, '.length');
    const h = o.hashes;
    req(
      core,
      Object.hasOwn(o, 'hashes') && typeof h === 'object' && h !== null && !Array.isArray(h),
      fp,
      p,
      '.hashes',
    );
    const hashes = build && hashMap ? new Map() : undefined;
    let n = 0;
    for (const alg in h) {
      if (!Object.hasOwn(h, alg)) continue;
      n++;
      const d = h[alg];
      req(core, typeof d === 'string' && (hexLoop ? isLowerHex(d) : HEX.test(d)), fp, p, '.hashes', alg);
      hashes?.set(alg, d);
    }
    req(core, n > 0, fp, p, '.hashes');
    if (!build) continue;
    let extra = sharedEmpty ? EMPTY : Object.create(null);
    for (const k of Object.keys(o)) {
      if (k === 'length' || k === 'hashes') continue;
      if (extra === EMPTY) extra = Object.create(null);
      extra[k] = o[k];
    }
    // hashMap: false keeps the parsed hashes object (a Map could be made from it on first use).
    out.set(p, new TargetFile(p, length, hashes ?? h, extra));
  }
  return out;
}

/**
 * tufa's whole path with the targets loop swapped for a what-if one: parseStrict, the loop,
 * then the real Targets, Signature, Metadata (with the canonical bytes from the scan) and
 * verifyDelegate. Skips only the O(1) checks of the common fields.
 */
async function wholeWhatIf(c, opts) {
  const { parseStrict, parseExpires, Targets, Signature, Metadata } = c.core;
  const r = parseStrict(c.bytes);
  const s = r.value.signed;
  const targets = new Targets({
    version: s.version,
    specVersion: s.spec_version,
    expires: parseExpires(s.expires, 'signed.expires'),
    targets: targetsLoop(c.core, s.targets, opts),
  });
  const sigs = r.value.signatures.map((x, i) => Signature.fromJSON(x, `signatures[${i}]`));
  const md = new Metadata(targets, sigs, undefined, r.signedCanonical);
  await c.root.verifyDelegate('targets', md);
  // Like TargetsMap, keep the parsed targets object to build entries from on demand.
  return opts.build === false ? [md, s.targets] : md;
}

/** Each step: setup(ctx) → the function to time (its return value is kept until the next run). */
const STEPS = [
  [
    'tufa.whole',
    'tufa: Metadata.fromBytes + verifyDelegate',
    async (c) => {
      return async () => {
        const md = c.core.Metadata.fromBytes(c.bytes, 'targets');
        await c.root.verifyDelegate('targets', md);
        return md;
      };
    },
  ],
  ['tufa.fromBytes', '  Metadata.fromBytes', (c) => () => c.core.Metadata.fromBytes(c.bytes, 'targets')],
  [
    'tufa.parseStrict',
    '    parseStrict (UTF-8 check + scan + JSON.parse)',
    (c) => () => c.core.parseStrict(c.bytes),
  ],
  [
    'tufa.decode',
    '      fatal TextDecoder.decode',
    () => {
      const d = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
      return (c) => d.decode(c.bytes);
    },
  ],
  [
    'tufa.jsonParse',
    '      JSON.parse(text)',
    (c) => {
      const text = c.bytes.toString('utf8');
      return () => JSON.parse(text);
    },
  ],
  [
    'tufa.model',
    '    Targets.fromJSON(signed): validate entries (TargetFiles built on first read)',
    (c) => {
      const v = JSON.parse(c.bytes.toString('utf8'));
      return () => c.core.Targets.fromJSON(v.signed);
    },
  ],
  [
    'tufa.verify',
    '  verifyDelegate (canonical bytes already cached)',
    (c) => {
      const md = c.core.Metadata.fromBytes(c.bytes, 'targets');
      return () => c.root.verifyDelegate('targets', md);
    },
  ],
  [
    'tufa.readAll',
    'Targets.fromJSON + first read of every entry (targets.values())',
    (c) => {
      const v = JSON.parse(c.bytes.toString('utf8'));
      return () => {
        const t = c.core.Targets.fromJSON(v.signed);
        let n = 0;
        for (const f of t.targets.values()) n += f.length;
        return [t, n];
      };
    },
  ],
  [
    'tufa.parseStrict.go',
    'parseStrict, go-tuf member order (reorders every target)',
    (c) => () => c.core.parseStrict(c.bytesGo),
  ],
  [
    'floor.whole',
    'floor: JSON.parse + encode + verify',
    (c) => () => {
      const d = JSON.parse(c.bytes.toString('utf8'));
      const s = d.signatures.find((x) => x.keyid === c.keyid);
      if (!verify(null, canonicalEncode(d.signed, c.bytes.length), c.keyObject, Buffer.from(s.sig, 'hex')))
        throw new Error();
      return d;
    },
  ],
  ['floor.decode', '  Buffer.toString (UTF-8)', (c) => () => c.bytes.toString('utf8')],
  [
    'floor.jsonParse',
    '  JSON.parse(text)',
    (c) => {
      const text = c.bytes.toString('utf8');
      return () => JSON.parse(text);
    },
  ],
  [
    'floor.encode',
    '  canonical encode of signed',
    (c) => {
      const v = JSON.parse(c.bytes.toString('utf8'));
      return () => canonicalEncode(v.signed, c.bytes.length);
    },
  ],
  [
    'floor.verify',
    '  crypto.verify, Ed25519 over the canonical bytes',
    (c) => {
      const v = JSON.parse(c.bytes.toString('utf8'));
      const data = canonicalEncode(v.signed, c.bytes.length);
      const sig = Buffer.from(v.signatures[0].sig, 'hex');
      return () => verify(null, data, c.keyObject, sig);
    },
  ],
  ...[
    [
      'whatif.validate-tufa',
      'what-if: validate only, entry path up front + regex (as tufa)',
      { build: false, lazyPaths: false, hexLoop: false },
    ],
    ['whatif.validate-lazy', '  … error paths only on failure', { build: false, hexLoop: false }],
    ['whatif.validate-lean', '  … error paths only on failure + hex loop', { build: false }],
  ].map(([id, label, opts]) => [
    id,
    label,
    (c) => {
      const t = JSON.parse(c.bytes.toString('utf8')).signed.targets;
      return () => targetsLoop(c.core, t, opts);
    },
  ]),
  [
    'whatif.eager',
    'what-if: eager model, TargetFile.fromJSON per entry (tufa before 87ac457)',
    (c) => {
      const t = JSON.parse(c.bytes.toString('utf8')).signed.targets;
      const { TargetFile } = c.core;
      return () => {
        const m = new Map();
        for (const p of Object.keys(t)) m.set(p, TargetFile.fromJSON(p, t[p], `signed.targets.${p}`));
        return m;
      };
    },
  ],
  ...[
    ['whatif.eager-lean', '  … with a shared empty unrecognized object', { sharedEmpty: true }],
    ['whatif.eager-lean+obj', '  … and the parsed hashes object instead of a Map', { hashMap: false }],
  ].map(([id, label, opts]) => [
    id,
    label,
    (c) => {
      const t = JSON.parse(c.bytes.toString('utf8')).signed.targets;
      return () => targetsLoop(c.core, t, { lazyPaths: false, hexLoop: false, ...opts });
    },
  ]),
  [
    'whatif.whole-lean',
    'what-if: whole path with the lean validation (paths on failure, hex loop)',
    (c) => async () => wholeWhatIf(c, { build: false }),
  ],
  [
    'whatif.decodeUint8',
    'what-if: parseStrict on a plain Uint8Array (not a Buffer)',
    (c) => {
      const u = new Uint8Array(c.bytes);
      return () => c.core.parseStrict(u);
    },
  ],
];

async function context() {
  const fx = await ensureCoreFixtures([N]);
  const fxGo = await ensureCoreFixtures([N], { goOrder: true });
  // Internals (parseStrict, parseExpires) come from their modules: they are not public API.
  const core = {
    ...(await import('../packages/core/dist/index.js')),
    ...(await import('../packages/core/dist/json/strict.js')),
    ...(await import('../packages/core/dist/metadata/time.js')),
  };
  const rootBytes = readFileSync(fx.root);
  const rootSigned = JSON.parse(rootBytes.toString('utf8')).signed;
  const keyid = rootSigned.roles.targets.keyids[0];
  const spki = Buffer.concat([
    Buffer.from('302a300506032b6570032100', 'hex'),
    Buffer.from(rootSigned.keys[keyid].keyval.public, 'hex'),
  ]);
  return {
    core,
    bytes: readFileSync(fx.targets[N]),
    bytesGo: readFileSync(fxGo.targets[N]),
    root: core.Metadata.fromBytes(rootBytes, 'root'),
    keyid,
    keyObject: createPublicKey({ key: spki, format: 'der', type: 'spki' }),
  };
}

/** In a child: time one step; for model steps also the heap the result retains. */
async function runStep(id) {
  const [, , setup] = STEPS.find((s) => s[0] === id);
  const c = await context();
  const f0 = await setup(c);
  const f = () => f0(c);
  let gcMs = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMs += e.duration;
  });
  obs.observe({ entryTypes: ['gc'] });
  // GC entries arrive on a timer tick, not on the next immediate.
  const flush = () => new Promise((r) => setTimeout(r, 0));
  let keep = await f();
  const ts = [];
  const gcs = [];
  for (let i = 0; i < RUNS; i++) {
    await flush();
    const g0 = gcMs;
    const t0 = performance.now();
    keep = await f();
    ts.push(performance.now() - t0);
    await flush();
    gcs.push(gcMs - g0);
  }
  obs.disconnect();
  let retainedKb;
  if (globalThis.gc && /jsonParse|model|readAll|whatif\.eager/.test(id)) {
    keep = undefined;
    gc();
    const h0 = process.memoryUsage().heapUsed;
    keep = await f();
    gc();
    retainedKb = Math.round((process.memoryUsage().heapUsed - h0) / 1024);
  }
  void keep;
  reportResult({ ts, gcs, retainedKb });
}

async function runCpuProfile() {
  const dir = join(OUT_DIR, 'cpuprof');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const r = spawnSync(
    process.execPath,
    ['--cpu-prof', `--cpu-prof-dir=${dir}`, SELF, String(N), '--profile-child'],
    {
      stdio: 'inherit',
    },
  );
  if (r.status !== 0) throw new Error('profiled child failed');
  const file = join(
    dir,
    readdirSync(dir).find((f) => f.endsWith('.cpuprofile')),
  );
  console.log(`\nCPU profile of 5 × (Metadata.fromBytes + verifyDelegate), by self time (${file}):\n`);
  console.log(summarizeCpuProfile(JSON.parse(readFileSync(file, 'utf8')), 20));
}

if (args.includes('--step')) {
  await runStep(args[args.indexOf('--step') + 1]);
} else if (args.includes('--profile-child')) {
  const c = await context();
  for (let i = 0; i < 5; i++)
    await c.root.verifyDelegate('targets', c.core.Metadata.fromBytes(c.bytes, 'targets'));
} else {
  await ensureCoreFixtures([N]);
  await ensureCoreFixtures([N], { goOrder: true });
  // Rounds: every step once per round, so load from elsewhere on the machine spreads over all
  // steps alike; samples are pooled over the rounds.
  const pooled = new Map(STEPS.map(([id]) => [id, { ts: [], gcs: [], retainedKb: undefined }]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [id] of STEPS) {
      const r = await runChild(SELF, [String(N), '--step', id], {
        timeoutMs: 300_000,
        nodeArgs: ['--expose-gc'],
      });
      if (!r.ok) throw new Error(`${id}: ${r.error ?? 'timed out'}`);
      const acc = pooled.get(id);
      acc.ts.push(...r.result.ts);
      acc.gcs.push(...r.result.gcs);
      acc.retainedKb = r.result.retainedKb;
    }
  }
  const res = {};
  const rows = [];
  for (const [id, label] of STEPS) {
    const acc = pooled.get(id);
    const m = { median: median(acc.ts), min: Math.min(...acc.ts), gc: median(acc.gcs) };
    res[id] = m;
    rows.push([
      label,
      fmtMs(m.median),
      fmtMs(m.min),
      fmtMs(m.gc),
      acc.retainedKb === undefined ? '' : `${(acc.retainedKb / 1024).toFixed(1)} MB`,
    ]);
    if (id === 'tufa.jsonParse') {
      const diff = (k) => res['tufa.parseStrict'][k] - res['tufa.decode'][k] - res['tufa.jsonParse'][k];
      rows.push(['      = canonical scan (difference)', fmtMs(diff('median')), fmtMs(diff('min')), '', '']);
    }
  }
  const load = os.loadavg()[0].toFixed(2);
  console.log(
    `profile at ${N.toLocaleString('en-US')} targets, tufa at ${gitRevision()}; ${ROUNDS} interleaved processes per step, ${RUNS} runs each after a warm-up (load average now ${load})\n`,
  );
  console.log(
    table(['step', 'median', 'min', 'GC in run (median)', 'retained heap'], rows, ['l', 'r', 'r', 'r', 'r']),
  );
  const ratio = (k) => (res['tufa.whole'][k] / res['floor.whole'][k]).toFixed(2);
  console.log(`\ntufa / floor, whole path: ${ratio('median')}× (medians), ${ratio('min')}× (minimums)`);
  if (args.includes('--cpu-prof')) await runCpuProfile();
}
