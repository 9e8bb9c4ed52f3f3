#!/usr/bin/env node
/**
 * One tag looked up in a one-million-tag hash-binned repository, as a CI job does it: one whole
 * `tufa verify` process (refresh + look-up), cold (a fresh trust cache and `--root`) and warm
 * (the same cache again). Issue 17's goal: under 0.3 s and 120 MB, fetching and parsing
 * timestamp, snapshot, targets and the one bin the tag is in.
 *
 *   - the repository: built once with tufa's core API (bench/lib/million.mjs; the layout
 *     `tufa sign --bulk` makes, ADR 0025: 1024 bins at 1M) and served by `tufa serve` on
 *     127.0.0.1;
 *   - tufa: the published bin (`bin/tufa.js`: the CommonJS bundle with its V8 code cache, ADR
 *     0030), the ES module bundle (`dist/tufa.mjs`) and the standalone executable (Bun) when
 *     built; `node -e 0` in the same rounds, for Node's own share;
 *   - python-tuf's ngclient (refresh + get_targetinfo, a whole Python process) as the peer, when
 *     BENCH_PYTHONPATH names its sources (it is not in CI), e.g.
 *     BENCH_PYTHONPATH=~/conformance-sources/python-tuf:~/conformance-sources/securesystemslib.
 *
 * Rounds are interleaved (each command once per round); figures are medians over the rounds.
 * After the first cold run the bench checks what the client cached — the received bytes of each
 * role it trusted — so "bytes fetched per first use" is measured, and that no bin but the tag's
 * own was fetched. Speed is never asserted.
 *
 *   npm run build && node bench/client-million.mjs      # BENCH_TAGS=100000 BENCH_ROUNDS=5
 *
 * Outputs under .bench-out/client-million/; writes bench/results/client-million.md and its
 * section of docs/performance.md.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { must, tufaServe } from './cli-verify.mjs';
import { OUT_DIR, ROOT_DIR } from './lib/fixtures.mjs';
import {
  COMMAND_MEASURE,
  describeMachine,
  fmtBytes,
  fmtMb,
  fmtMs,
  fmtRatio,
  gitRevision,
  machine,
  median,
  runCommand as run,
  table,
  writeDocSection,
} from './lib/harness.mjs';
import { digestOf, isBuilt, repositoryPaths, tagOf } from './lib/million.mjs';

const DIR = join(OUT_DIR, 'client-million');
const PUB = join(DIR, 'publish');
const RESULTS = join(ROOT_DIR, 'bench', 'results', 'client-million.md');
const CLI = join(ROOT_DIR, 'packages', 'cli');
const BUNDLE = join(CLI, 'dist', 'tufa.mjs');
const BIN = join(CLI, 'bin', 'tufa.js');
const STANDALONE = process.env.BENCH_STANDALONE ?? join(CLI, 'standalone', 'tufa');
const BUILDER = join(ROOT_DIR, 'bench', 'lib', 'million.mjs');
const PY_LOOKUP = join(ROOT_DIR, 'bench', 'lib', 'python-tuf-lookup.py');
const N = Number(process.env.BENCH_TAGS ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const GUN = 'bench.example.com/million';
const GOAL_MS = 300;
const GOAL_KB = 120 * 1024;

const log = (s) => process.stderr.write(`[client-million] ${s}\n`);

/** Files under `dir`, recursively, with their sizes. */
function filesUnder(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) {
      const p = join(e.parentPath ?? e.path, e.name);
      out.push({ name: e.name, dir: e.parentPath ?? e.path, bytes: statSync(p).size });
    }
  }
  return out;
}

/** The peers measured: how each is started, cold and warm. */
function commands(url, root) {
  const tag = tagOf(Math.floor(N / 2));
  const digest = digestOf(Math.floor(N / 2));
  const verify = ['verify', '--server', url, `${GUN}:${tag}`, '--digest', `sha256:${digest}`];
  const list = [];
  const tufa = (key, label, argv0) => ({
    key,
    label,
    cold: (home) => [argv0[0], [...argv0.slice(1), ...verify, '--root', root], { TUFA_HOME: home }],
    warm: (home) => [argv0[0], [...argv0.slice(1), ...verify], { TUFA_HOME: home }],
    expect: digest,
  });
  list.push(tufa('bin', 'tufa verify (Node bin: tufa.cjs + code cache)', [process.execPath, BIN]));
  list.push(tufa('bundle', 'tufa verify (Node ES module bundle)', [process.execPath, BUNDLE]));
  if (existsSync(STANDALONE)) list.push(tufa('standalone', 'tufa verify (standalone, Bun)', [STANDALONE]));
  else log(`no standalone executable at ${STANDALONE} (npm run build:standalone): not measured`);
  const py = process.env.BENCH_PYTHONPATH;
  if (py) {
    const metadataUrl = `${url}/${GUN}/metadata/`;
    const args = (dir) => [PY_LOOKUP, dir, metadataUrl, tag];
    list.push({
      key: 'python-tuf',
      label: 'python-tuf ngclient (refresh + get_targetinfo)',
      cold: (dir) => {
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'root.json'), readFileSync(root));
        return ['python3', args(dir), { PYTHONPATH: py }];
      },
      warm: (dir) => ['python3', args(dir), { PYTHONPATH: py }],
      expect: digest,
    });
  } else log('BENCH_PYTHONPATH unset: python-tuf not measured');
  return list;
}

export async function main() {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: npm run build`);
  const m = machine();
  const loadStart = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  mkdirSync(DIR, { recursive: true });
  const { root, repo } = repositoryPaths(PUB, GUN);
  let built = JSON.parse(
    existsSync(join(PUB, 'built.json')) ? readFileSync(join(PUB, 'built.json'), 'utf8') : '{}',
  );
  if (!isBuilt(PUB, GUN, N)) {
    log(`building the ${N}-tag repository with the core API (once)`);
    // A big heap for the publisher only: the bench measures the client.
    await must('build', run(process.execPath, ['--max-old-space-size=8000', BUILDER, PUB, GUN, String(N)]));
    built = JSON.parse(readFileSync(join(PUB, 'built.json'), 'utf8'));
  }
  const metadata = filesUnder(join(repo, 'metadata'));
  const served = await tufaServe(PUB);
  const res = new Map();
  const sample = (key, r) => {
    if (!res.has(key)) res.set(key, []);
    res.get(key).push(r);
  };
  let cached;
  try {
    const cmds = commands(served.url, root);
    const warmDir = (c) => join(DIR, 'warm', c.key);
    rmSync(join(DIR, 'warm'), { recursive: true, force: true });
    rmSync(join(DIR, 'cold'), { recursive: true, force: true });
    for (const c of cmds) {
      const [cmd, args, env] = c.cold(warmDir(c));
      const r = await must(`${c.label} (first)`, run(cmd, args, { env }));
      if (!r.stdout.includes(c.expect)) throw new Error(`${c.label} printed ${r.stdout}`);
    }
    // What the first use fetched and trusted: the bundle's cache holds the received bytes of
    // each role (no bin other than the tag's own).
    cached = filesUnder(join(warmDir(cmds[0]), 'trust')).filter((f) => f.dir.endsWith('/metadata'));
    const bins = cached.filter((f) => f.name.includes('bins-'));
    if (bins.length !== 1) throw new Error(`expected one bin in the cache, found ${bins.map((b) => b.name)}`);
    let fresh = 0;
    for (let round = 0; round < ROUNDS; round++) {
      sample('node -e 0', await must('node -e 0', run(process.execPath, ['-e', '0'])));
      for (const c of cmds) {
        const home = join(DIR, 'cold', `${++fresh}`);
        const [cmd, args, env] = c.cold(home);
        sample(`${c.key} cold`, await must(`${c.label} cold`, run(cmd, args, { env })));
        rmSync(home, { recursive: true, force: true });
        const [wcmd, wargs, wenv] = c.warm(warmDir(c));
        sample(`${c.key} warm`, await must(`${c.label} warm`, run(wcmd, wargs, { env: wenv })));
      }
      log(`round ${round + 1}/${ROUNDS} done`);
    }
    const loadEnd = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    const md = render({ m, cmds, res, metadata, cached, built, loadStart, loadEnd });
    process.stdout.write(`\n${md}\n`);
    mkdirSync(dirname(RESULTS), { recursive: true });
    writeFileSync(RESULTS, `${md.trim()}\n`);
    writeDocSection('client-million', md);
    log(`wrote ${RESULTS} and its section of docs/performance.md`);
  } finally {
    served.child.kill('SIGTERM');
  }
}

function render({ m, cmds, res, metadata, cached, built, loadStart, loadEnd }) {
  const med = (key, f) => {
    const xs = res
      .get(key)
      ?.map(f)
      .filter((x) => x !== undefined);
    return xs?.length ? median(xs) : undefined;
  };
  const wall = (k) => med(k, (x) => x.wallMs);
  const cpu = (k) => med(k, (x) => x.cpuMs);
  const rss = (k) => med(k, (x) => x.maxRssKb);
  const sum = (fs) => fs.reduce((a, f) => a + f.bytes, 0);
  const bins = metadata.filter((f) => f.name.includes('bins-'));
  const snapshot = metadata.find((f) => /^\d+\.snapshot\.json$/.test(f.name));
  const out = [];
  out.push('## Client: one tag in a one-million-tag repository (bench/client-million.mjs)');
  out.push('');
  out.push(
    `Measured ${m.date} on ${describeMachine(m)} (\`nproc\` = ${m.nproc}; shared with other work: load average ${loadStart} at the start, ${loadEnd} at the end), tufa at ${gitRevision()}, with \`node bench/client-million.mjs\`.`,
  );
  out.push('');
  out.push(
    `The repository: ${N.toLocaleString('en')} tags (a sha256 and a size each) in ${built.bins} hash bins (\`bit_length\` ${built.bits}, \`defaultBitLength\`), as \`tufa sign --bulk\` lays them out (ADR 0025), built with tufa's core API in ${fmtMs(built.ms)} and served by \`tufa serve\` on 127.0.0.1: ${metadata.length} metadata files, ${fmtBytes(sum(metadata))} in all; snapshot ${fmtBytes(snapshot?.bytes ?? 0)}, a bin ${fmtBytes(Math.min(...bins.map((b) => b.bytes)))}–${fmtBytes(Math.max(...bins.map((b) => b.bytes)))}.`,
  );
  out.push('');
  out.push(
    `Method: each command is a whole process (${COMMAND_MEASURE}), median of ${ROUNDS} interleaved rounds. **Cold**: a fresh trust cache with the publisher's 1.root.json (tufa: a new TUFA_HOME and \`--root\`; python-tuf: a metadata directory holding root.json). **Warm**: the same cache again, repository unchanged. The tag looked up is in the middle of the repository. What a first use fetched, from the client's cache after it (the received bytes of each role it trusted): ${cached.map((f) => `${f.name} ${fmtBytes(f.bytes)}`).join(', ')} — ${fmtBytes(sum(cached.filter((f) => !f.name.includes('root'))))} besides the root.`,
  );
  out.push('');
  const rows = [
    [
      'start-up',
      'node -e 0 (Node.js itself)',
      fmtMs(wall('node -e 0')),
      fmtMs(cpu('node -e 0')),
      fmtMb(rss('node -e 0')),
      '',
    ],
  ];
  const goals = [];
  for (const phase of ['cold', 'warm']) {
    for (const c of cmds) {
      const k = `${c.key} ${phase}`;
      rows.push([
        phase,
        c.label,
        fmtMs(wall(k)),
        fmtMs(cpu(k)),
        fmtMb(rss(k)),
        c.key === 'python-tuf' ? '1×' : fmtRatio(wall(k) / wall(`python-tuf ${phase}`)),
      ]);
      if (c.key !== 'python-tuf') {
        const ok = wall(k) <= GOAL_MS && rss(k) <= GOAL_KB;
        goals.push([
          `${phase}, ${c.label}`,
          `${fmtMs(wall(k))} wall (${fmtMs(cpu(k))} CPU), ${fmtMb(rss(k))}`,
          ok ? 'met' : 'not met',
        ]);
      }
    }
  }
  out.push(
    table(['cache', 'command', 'wall time', 'CPU time', 'peak RSS', 'wall / python-tuf'], rows, [
      'l',
      'l',
      'r',
      'r',
      'r',
      'r',
    ]),
  );
  out.push('');
  out.push(`Goal (issue 17): refresh + look-up of one tag, whole process, under ${GOAL_MS} ms and 120 MB:`);
  out.push('');
  out.push(table(['run', 'this run', ''], goals, ['l', 'l', 'l']));
  return out.join('\n');
}

if (process.argv[1] && fileURLToPath(pathToFileURL(process.argv[1])) === fileURLToPath(import.meta.url)) {
  await main();
}
