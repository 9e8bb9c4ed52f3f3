#!/usr/bin/env node
/**
 * Repository suite, with tufa's library (`Repository` + `FsRepositoryStorage` in a directory,
 * Ed25519 keys held in the process, one key per role):
 *
 *   - create + add + sign + publish 10k and 100k image digests in one call, flat (all targets in
 *     top-level `targets`) and with TAP 15 hash bins (`repo.useHashBins`: about √N bins, ADR 0025)
 *   - add one digest to a 10k- and a 100k-target repository (open + add + publish), flat and
 *     with hash bins
 *
 * bench/scale.mjs measures the same through whole `tufa sign` processes, up to 1M tags.
 *
 * Reports wall time (with phases), peak RSS and the files written (count and bytes). Each
 * measurement is a fresh child process (this file with `--worker`), so times include the JIT
 * warming up, as in a CLI; module import is excluded and reported apart. Median of
 * BENCH_ROUNDS (default 3) processes per case. Base repositories for the add-one cases are built
 * once in `.bench-out/repository/` and copied to a scratch directory before each run (outside
 * the timing).
 *
 *   node bench/repository.mjs            # writes bench/results/repository.md
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { keyPairFromSeed, OUT_DIR, ROOT_DIR } from './lib/fixtures.mjs';
import {
  describeMachine,
  fmtBytes,
  fmtMb,
  fmtMs,
  machine,
  median,
  reportResult,
  runChild,
  table,
} from './lib/harness.mjs';

const SELF = fileURLToPath(import.meta.url);
const CORE = pathToFileURL(join(ROOT_DIR, 'packages/core/dist/index-node.js')).href;
const CORE_NODE = pathToFileURL(join(ROOT_DIR, 'packages/core/dist/node/index.js')).href;
const DIR = join(OUT_DIR, 'repository');
const SCRATCH = join(DIR, 'scratch');
const RESULTS = join(ROOT_DIR, 'bench', 'results', 'repository.md');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CREATE_SIZES = (process.env.BENCH_SIZES ?? '10000,100000').split(',').map(Number);
const ADD_SIZES = (process.env.BENCH_ADD_SIZES ?? '10000,100000').split(',').map(Number);
/** Bumped when the base repositories' layout changes (2: √N bins, ADR 0025). */
const BASE_VERSION = 2;

function digest(i) {
  return createHash('sha256').update(`image-${i}`).digest('hex');
}
function size(i) {
  return 1024 + ((i * 7919) % 100_000);
}
function tag(i) {
  return `app-${i}:v${i}`;
}

function peakRssKb() {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]);
  } catch {}
  return process.resourceUsage().maxRSS;
}

// ------------------------------------------------------------------------------------------
// Worker
// ------------------------------------------------------------------------------------------

async function worker(o) {
  const i0 = performance.now();
  const core = await import(CORE);
  const { FsRepositoryStorage } = await import(CORE_NODE);
  const importMs = performance.now() - i0;
  const { Key, PrivateKeySigner, Repository, TargetFile } = core;

  /** Counts what the repository writes (and reads). */
  class CountingStorage extends FsRepositoryStorage {
    files = 0;
    bytes = 0;
    readBytes = 0;
    async write(path, bytes) {
      this.files++;
      this.bytes += bytes.length;
      return super.write(path, bytes);
    }
    async read(path) {
      const b = await super.read(path);
      if (b) this.readBytes += b.length;
      return b;
    }
  }
  const pair = (label) => {
    const kp = keyPairFromSeed(`repository-${label}`);
    const key = Key.fromPublicKeyObject(kp.publicKey);
    return { key, signer: new PrivateKeySigner(kp.privateKey, key) };
  };
  const keys = {
    root: pair('root'),
    targets: pair('targets'),
    snapshot: pair('snapshot'),
    timestamp: pair('timestamp'),
  };
  const signers = Object.values(keys).map((k) => k.signer);
  // The caller's data (tag, digest, size), computed before the timing; TargetFile objects are built inside it.
  const count = o.task === 'add-one' ? 1 : o.n;
  const first = o.task === 'add-one' ? o.n + 1 : 0;
  const input = Array.from({ length: count }, (_, k) => [tag(first + k), size(first + k), digest(first + k)]);
  const targetFile = ([path, length, hex]) => new TargetFile(path, length, new Map([['sha256', hex]]));

  const dir = o.dir;
  if (o.copyFrom) {
    rmSync(dir, { recursive: true, force: true });
    cpSync(o.copyFrom, dir, { recursive: true });
  }
  const storage = new CountingStorage(dir);
  const phases = {};
  const t0 = performance.now();
  let lap = t0;
  const mark = (name) => {
    const now = performance.now();
    phases[name] = now - lap;
    lap = now;
  };

  if (o.task === 'create' || o.task === 'base') {
    const repo = await Repository.create(storage, {
      keys: {
        root: [keys.root.key],
        targets: [keys.targets.key],
        snapshot: [keys.snapshot.key],
        timestamp: [keys.timestamp.key],
      },
      signers,
    });
    mark('create');
    const list = new Array(o.n);
    for (let i = 0; i < o.n; i++) list[i] = targetFile(input[i]);
    mark('build list');
    await repo.addTargets(list);
    mark('addTargets');
    if (o.bins) {
      await repo.useHashBins({ keys: [keys.targets.key] });
      mark('useHashBins');
    }
    await repo.publish();
    mark('publish');
  } else if (o.task === 'add-one') {
    const repo = await Repository.open(storage, { signers });
    mark('open');
    await repo.addTargets([targetFile(input[0])]);
    mark('addTargets');
    await repo.publish();
    mark('publish');
  }
  const totalMs = performance.now() - t0;
  reportResult({
    importMs,
    totalMs,
    phases,
    files: storage.files,
    bytes: storage.bytes,
    readBytes: storage.readBytes,
    maxRssKb: peakRssKb(),
  });
}

// ------------------------------------------------------------------------------------------
// Parent
// ------------------------------------------------------------------------------------------

async function ensureBase(n, bins, log) {
  const dir = join(DIR, `base-${n}-${bins ? 'bins' : 'flat'}`);
  const marker = join(dir, 'bench-base.json');
  if (existsSync(marker) && JSON.parse(readFileSync(marker, 'utf8')).version === BASE_VERSION) return dir;
  log(`building base repository ${dir}`);
  rmSync(dir, { recursive: true, force: true });
  const r = await runChild(SELF, ['--worker', JSON.stringify({ task: 'base', n, bins, dir })], {
    timeoutMs: 900_000,
  });
  if (!r.ok) throw new Error(`base ${n} failed: ${r.error ?? 'timeout'}`);
  writeFileSync(marker, JSON.stringify({ version: BASE_VERSION }));
  return dir;
}

export async function main() {
  const log = (s) => process.stderr.write(`[repository] ${s}\n`);
  const m = machine();
  mkdirSync(SCRATCH, { recursive: true });
  const cases = [];
  for (const n of CREATE_SIZES)
    for (const bins of [false, true])
      cases.push({
        label: `create + add ${n.toLocaleString('en')} + sign + publish (${bins ? 'hash bins' : 'flat'})`,
        task: 'create',
        n,
        bins,
      });
  for (const n of ADD_SIZES) {
    for (const bins of [false, true]) {
      const base = await ensureBase(n, bins, log);
      cases.push({
        label: `add 1 to ${n.toLocaleString('en')} targets, ${bins ? 'hash bins' : 'flat'}`,
        task: 'add-one',
        n,
        bins,
        copyFrom: base,
      });
    }
  }
  const acc = new Map(cases.map((c) => [c, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of cases) {
      const dir = join(SCRATCH, `run-${c.task}-${c.n}-${c.bins ? 'bins' : 'flat'}`);
      rmSync(dir, { recursive: true, force: true });
      const r = await runChild(
        SELF,
        ['--worker', JSON.stringify({ task: c.task, n: c.n, bins: c.bins, dir, copyFrom: c.copyFrom })],
        { timeoutMs: 600_000 },
      );
      rmSync(dir, { recursive: true, force: true });
      if (!r.ok) {
        log(`${c.label}: ${r.error ?? 'timeout'}`);
        continue;
      }
      acc.get(c).push(r.result);
      log(
        `round ${round + 1} ${c.label}: ${fmtMs(r.result.totalMs)}, ${fmtMb(r.result.maxRssKb)}, ${r.result.files} files ${fmtBytes(r.result.bytes)}`,
      );
    }
  }
  rmSync(SCRATCH, { recursive: true, force: true });

  const rows = [];
  for (const c of cases) {
    const rs = acc.get(c);
    if (rs.length === 0) {
      rows.push([c.label, 'failed', '', '', '', '']);
      continue;
    }
    const phaseNames = Object.keys(rs[0].phases);
    const phases = phaseNames.map((p) => `${p} ${fmtMs(median(rs.map((r) => r.phases[p])))}`).join(', ');
    rows.push([
      c.label,
      fmtMs(median(rs.map((r) => r.totalMs))),
      phases,
      fmtMb(median(rs.map((r) => r.maxRssKb))),
      `${rs[0].files} (${fmtBytes(median(rs.map((r) => r.bytes)))})`,
      fmtBytes(median(rs.map((r) => r.readBytes))),
    ]);
  }
  const importMs = median([...acc.values()].flat().map((r) => r.importMs));
  const get = (task, n, bins) => {
    const c = cases.find((x) => x.task === task && x.n === n && x.bins === bins);
    const rs = c ? acc.get(c) : [];
    return rs.length ? median(rs.map((r) => r.totalMs)) : undefined;
  };
  const out = [];
  out.push('## Repository: signing and publishing (bench/repository.mjs)');
  out.push('');
  out.push(
    `Measured ${m.date} on ${describeMachine(m)} (\`nproc\` = ${m.nproc}; the machine was shared with other work).`,
  );
  out.push('');
  out.push(
    `Method: tufa's library, \`Repository\` with \`FsRepositoryStorage\` in a scratch directory (atomic writes: temp file, fsync, rename), Ed25519 keys in the process (one per role), targets named \`app-N:vN\` with a sha256 and a size, as \`tufa sign --bulk\` gives them. Each case runs in a fresh Node process (JIT cold, as in a CLI; module import, ${fmtMs(importMs)}, excluded); median of ${ROUNDS} processes, cases interleaved. Peak RSS is the process's VmHWM (Node itself ~45 MB). "Add 1" opens a published repository (copied from a prepared one before the timing), adds one digest and publishes; hash bins are \`repo.useHashBins({ keys: [targetsKey] })\` after the targets are added (about √N bins, ADR 0025: 128 at 10k, 256 at 100k, published one bin at a time, ADR 0031). "Read" is what the repository read from storage.`,
  );
  out.push('');
  out.push(
    table(['case', 'wall time', 'phases (median)', 'peak RSS', 'files written (bytes)', 'read'], rows, [
      'l',
      'r',
      'l',
    ]),
  );
  out.push('');
  const c10 = get('create', 10_000, false);
  const a10 = get('add-one', 10_000, false);
  const a100 = get('add-one', 100_000, false);
  const b100 = get('add-one', 100_000, true);
  const r = (x, y) => (x !== undefined && y !== undefined ? `${(x / y).toFixed(x / y >= 10 ? 0 : 1)}×` : '–');
  out.push(
    `For scale (figures quoted in the issue, not measured here): Notary v1 needs ~81 s to add + publish 10k targets (one \`notary addhash\` process per target, then \`notary publish\`) and ~0.6 s to add one target to a 10k-target repository. ` +
      `Here: creating and publishing 10k in one call takes ${fmtMs(c10)} (${r(81_000, c10)} faster than 81 s); adding one to 10k takes ${fmtMs(a10)} flat (${r(600, a10)} faster than 0.6 s); ` +
      `adding one to 100k takes ${fmtMs(a100)} flat and ${fmtMs(b100)} with hash bins (${r(a100, b100)} faster: one ~390-target bin, snapshot and timestamp are re-signed instead of the 15 MB targets.json). ` +
      'bench/cli-notary.mjs measures both CLIs side by side on this machine.',
  );
  const md = out.join('\n');
  process.stdout.write(`\n${md}\n`);
  mkdirSync(dirname(RESULTS), { recursive: true });
  const { withNotes } = await import('./client.mjs');
  writeFileSync(RESULTS, withNotes(md, RESULTS));
  log(`wrote ${RESULTS}`);
}

const argv = process.argv.slice(2);
if (process.argv[1] && fileURLToPath(pathToFileURL(process.argv[1])) === SELF) {
  if (argv[0] === '--worker') await worker(JSON.parse(argv[1]));
  else await main();
}
