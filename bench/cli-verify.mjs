#!/usr/bin/env node
/**
 * `tufa verify` as a CI job runs it — one whole process per look-up — against `notary lookup`
 * (Debian's notary 0.7 CLI, against a local notary-server: scripts/notary/start-server.sh),
 * on repositories of 1, 1k, 10k and 100k tags, in one run:
 *
 *   - cold: a fresh trust cache (tufa: a new TUFA_HOME and `--root`; notary: a new trust
 *     directory, trust on first use), so every role is downloaded and verified;
 *   - warm: the same cache again, repository unchanged;
 *   - for tufa four builds of the same CLI: the modules `tsc -b` writes (`dist/bin.js`, what ran
 *     before the bundle), the one-file ES module bundle (`dist/tufa.mjs`), the published bin
 *     (`bin/tufa.js`: the CommonJS bundle with its V8 code cache, ADR 0030; the goals are its),
 *     and the standalone executable (`packages/cli/standalone/tufa`, Bun, no Node.js) when built;
 *   - `node -e 0` (Node.js itself), `tufa --version` and `notary version`, in the same rounds.
 *
 * Rounds are interleaved (every command once per round, in a fixed order, then the next round),
 * so a machine that gets busier part-way slows every command alike; each figure is the median
 * over the rounds. Repositories: tufa's built by `tufa sign --bulk` (keys made with
 * TUFA_SCRYPT_N=1024: signing is not measured here); notary's by writing the changelist
 * directly, in `notary addhash`'s own format, and one `notary publish` (one addhash process per
 * tag would take hours at 100k). The tag looked up is in the middle of the repository.
 *
 * Where start-up goes: one `--cpu-prof` run of each Node build on the 1-tag repository, and the
 * number of JavaScript files each opens (strace, when installed).
 *
 * Speed is never asserted. Outputs under .bench-out/cli-verify/; writes
 * bench/results/cli-verify.md and its section of docs/performance.md.
 *
 *   npm run build && npm run build:standalone && node bench/cli-verify.mjs
 *   BENCH_SIZES=1,1000 BENCH_ROUNDS=5 node bench/cli-verify.mjs
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { summarizeCpuProfile } from './lib/cpuprofile.mjs';
import { OUT_DIR, ROOT_DIR } from './lib/fixtures.mjs';
import {
  COMMAND_MEASURE,
  describeMachine,
  fmtMb,
  fmtMs,
  fmtRatio,
  gitRevision,
  machine,
  median,
  runCommand as run,
  tufaServe as serveWith,
  table,
  writeDocSection,
} from './lib/harness.mjs';

const DIR = join(OUT_DIR, 'cli-verify');
const RESULTS = join(ROOT_DIR, 'bench', 'results', 'cli-verify.md');
const CLI = join(ROOT_DIR, 'packages', 'cli');
const MODULES = join(CLI, 'dist', 'bin.js');
const BUNDLE = join(CLI, 'dist', 'tufa.mjs');
/** The published bin: dist/tufa.cjs with its V8 code cache (docs/adr/0030-cli-code-cache.md). */
const PUBLISHED_BIN = join(CLI, 'bin', 'tufa.js');
const STANDALONE = process.env.BENCH_STANDALONE ?? join(CLI, 'standalone', 'tufa');
const TLS_CA = join(ROOT_DIR, 'test-vectors', 'tls', 'ca.pem');
const START_SERVER = join(ROOT_DIR, 'scripts', 'notary', 'start-server.sh');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const SIZES = (process.env.BENCH_SIZES ?? '1,1000,10000,100000').split(',').map(Number);
const HAVE_STRACE = spawnSync('sh', ['-c', 'command -v strace'], { stdio: 'ignore' }).status === 0;

const log = (s) => process.stderr.write(`[cli-verify] ${s}\n`);

const tagOf = (i) => `v${i}`;
const digestOf = (i) => createHash('sha256').update(`manifest-${i}`).digest('hex');
const sizeOf = (i) => 1024 + ((i * 7919) % 100_000);

export async function must(label, p) {
  const r = await p;
  if (r.code !== 0) throw new Error(`${label} failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
  return r;
}

// --- tufa -------------------------------------------------------------------------------------

/** The builds of the tufa CLI measured: how each is started. */
function tufaBuilds() {
  const builds = [
    { key: 'modules', label: 'tufa (modules, dist/bin.js)', argv: (a) => [process.execPath, MODULES, ...a] },
    { key: 'bundle', label: 'tufa (bundle, dist/tufa.mjs)', argv: (a) => [process.execPath, BUNDLE, ...a] },
    {
      key: 'bin',
      label: 'tufa (bin: dist/tufa.cjs + code cache)',
      argv: (a) => [process.execPath, PUBLISHED_BIN, ...a],
    },
  ];
  if (existsSync(STANDALONE)) {
    builds.push({ key: 'standalone', label: 'tufa (standalone, Bun)', argv: (a) => [STANDALONE, ...a] });
  } else log(`no standalone executable at ${STANDALONE} (npm run build:standalone): not measured`);
  return builds;
}

const PUBLISHER_ENV = (home) => ({ TUFA_HOME: home, TUFA_PASSPHRASE: 'bench', TUFA_SCRYPT_N: '1024' });

async function buildTufaRepository(pub, gun, n) {
  const home = join(DIR, 'tufa-publisher');
  const env = PUBLISHER_ENV(home);
  const tufa = (args) => run(process.execPath, [BUNDLE, ...args], { env });
  await must('tufa init', tufa(['init', gun, '--publish-root', pub, '--root-key-out', join(DIR, 'offline')]));
  const file = join(DIR, `bulk-${n}.txt`);
  const lines = [];
  for (let i = 0; i < n; i++) lines.push(`${tagOf(i)} sha256:${digestOf(i)} ${sizeOf(i)}`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  await must('tufa sign --bulk', tufa(['sign', gun, '--bulk', file]));
}

/** `tufa serve DIR --port 0` with the bundle → { url, child }. */
export const tufaServe = (pub) => serveWith(BUNDLE, pub);

// --- notary -----------------------------------------------------------------------------------

const NOTARY_ENV = {
  NOTARY_ROOT_PASSPHRASE: 'bench-root',
  NOTARY_TARGETS_PASSPHRASE: 'bench-targets',
  NOTARY_SNAPSHOT_PASSPHRASE: 'bench-snapshot',
};

function notaryConfig(dir, serverUrl) {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'config.json');
  const trustDir = join(dir, 'trust');
  writeFileSync(
    file,
    JSON.stringify({ trust_dir: trustDir, remote_server: { url: serverUrl, root_ca: TLS_CA } }),
  );
  return { file, trustDir };
}

const notary = (config, args) => run('notary', ['-c', config.file, ...args], { env: NOTARY_ENV });

/** Changelist entries for tags 0..n-1, exactly as `notary addhash` writes them (a file each). */
function writeChangelist(config, gun, n) {
  const dir = join(config.trustDir, 'tuf', gun, 'changelist');
  mkdirSync(dir, { recursive: true });
  let ns = BigInt(Date.now()) * 1_000_000n;
  for (let i = 0; i < n; i++) {
    const meta = {
      length: sizeOf(i),
      hashes: { sha256: Buffer.from(digestOf(i), 'hex').toString('base64') },
    };
    const change = {
      action: 'create',
      role: 'targets',
      type: 'target',
      path: tagOf(i),
      data: Buffer.from(JSON.stringify(meta)).toString('base64'),
    };
    ns += 1000n;
    writeFileSync(
      join(dir, `${ns.toString().padStart(20, '0')}_${randomUUID()}.change`),
      JSON.stringify(change),
    );
  }
}

async function buildNotaryRepository(serverUrl, gun, n) {
  const cfg = notaryConfig(join(DIR, 'notary-publisher'), serverUrl);
  await must('notary init', notary(cfg, ['init', gun]));
  writeChangelist(cfg, gun, n);
  const t0 = performance.now();
  await must('notary publish', notary(cfg, ['publish', gun]));
  return performance.now() - t0;
}

async function startNotaryServer() {
  const r = await must('start-server.sh', run('bash', [START_SERVER, join(DIR, 'notary-server')]));
  const [url, pid] = r.stdout.trim().split(/\s+/);
  return { url, pid: Number(pid) };
}

// --- profile ----------------------------------------------------------------------------------

/** JavaScript files a command opens (strace), as a count of modules loaded. */
function filesOpened(argv, env) {
  if (!HAVE_STRACE) return undefined;
  const out = join(DIR, `strace-${randomUUID()}.txt`);
  spawnSync('strace', ['-f', '-qq', '-e', 'trace=openat', '-o', out, ...argv], {
    env: { ...process.env, ...env },
    stdio: 'ignore',
  });
  const files = new Set();
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    const m = /openat\([^"]*"([^"]+\.(?:m|c)?js)"/.exec(line);
    if (m && !line.includes('ENOENT')) files.add(m[1]);
  }
  rmSync(out, { force: true });
  return files.size;
}

function cpuProfile(argv, env, name) {
  const dir = join(DIR, 'profiles', name);
  rmSync(dir, { recursive: true, force: true });
  spawnSync(argv[0], ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '250', ...argv.slice(1)], {
    env: { ...process.env, ...env },
    stdio: 'ignore',
  });
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  return { totalMs, summary: summarizeCpuProfile(profile, 12), file: join(dir, file) };
}

// --- main -------------------------------------------------------------------------------------

export async function main() {
  for (const f of [MODULES, BUNDLE]) if (!existsSync(f)) throw new Error(`${f} is missing: npm run build`);
  const m = machine();
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  const builds = tufaBuilds();
  const pub = join(DIR, 'publish');
  const server = await startNotaryServer();
  log(`notary-server at ${server.url} (pid ${server.pid})`);
  let served;
  const repos = [];
  const res = { samples: new Map(), publish: {}, profiles: [] };
  const sample = (key, r) => {
    if (!res.samples.has(key)) res.samples.set(key, []);
    res.samples.get(key).push(r);
  };
  try {
    for (const n of SIZES) {
      const gun = `bench.example.com/verify-${n}`;
      const tag = Math.floor(n / 2);
      log(`building the ${n}-tag repositories`);
      await buildTufaRepository(pub, gun, n);
      res.publish[n] = await buildNotaryRepository(server.url, gun, n);
      log(`  notary publish of ${n} tags: ${fmtMs(res.publish[n])}`);
      repos.push({ n, gun, tag, root: join(pub, ...gun.split('/'), 'metadata', '1.root.json') });
    }
    served = await tufaServe(pub);

    // Warm caches: one per (build, size) and one notary trust directory per size, made by a
    // first look-up that is not counted.
    const warmHome = (b, n) => join(DIR, 'warm', `${b.key}-${n}`);
    const warmNotary = (n) => notaryConfig(join(DIR, 'warm', `notary-${n}`), server.url);
    const verifyArgs = (r) => [
      'verify',
      '--server',
      served.url,
      `${r.gun}:${tagOf(r.tag)}`,
      '--digest',
      `sha256:${digestOf(r.tag)}`,
    ];
    for (const r of repos) {
      for (const b of builds) {
        const [cmd, ...args] = b.argv([...verifyArgs(r), '--root', r.root]);
        await must(`${b.label} verify (${r.n})`, run(cmd, args, { env: { TUFA_HOME: warmHome(b, r.n) } }));
      }
      const look = await must('notary lookup', notary(warmNotary(r.n), ['lookup', r.gun, tagOf(r.tag)]));
      if (!look.stdout.includes(digestOf(r.tag))) throw new Error(`notary lookup printed ${look.stdout}`);
    }

    let fresh = 0;
    for (let round = 0; round < ROUNDS; round++) {
      sample('node -e 0', await must('node -e 0', run(process.execPath, ['-e', '0'])));
      sample('notary version', await must('notary version', run('notary', ['version'])));
      for (const b of builds) {
        const [cmd, ...args] = b.argv(['--version']);
        sample(`${b.key} --version`, await must(`${b.label} --version`, run(cmd, args)));
      }
      for (const r of repos) {
        for (const b of builds) {
          const cold = b.argv([...verifyArgs(r), '--root', r.root]);
          const home = join(DIR, 'cold', `${++fresh}`);
          sample(
            `${b.key} cold ${r.n}`,
            await must(`${b.label} cold`, run(cold[0], cold.slice(1), { env: { TUFA_HOME: home } })),
          );
          rmSync(home, { recursive: true, force: true });
          const warm = b.argv(verifyArgs(r));
          sample(
            `${b.key} warm ${r.n}`,
            await must(
              `${b.label} warm`,
              run(warm[0], warm.slice(1), { env: { TUFA_HOME: warmHome(b, r.n) } }),
            ),
          );
        }
        const coldCfg = notaryConfig(join(DIR, 'cold', `${++fresh}`), server.url);
        sample(
          `notary cold ${r.n}`,
          await must('notary cold', notary(coldCfg, ['lookup', r.gun, tagOf(r.tag)])),
        );
        rmSync(dirname(coldCfg.file), { recursive: true, force: true });
        sample(
          `notary warm ${r.n}`,
          await must('notary warm', notary(warmNotary(r.n), ['lookup', r.gun, tagOf(r.tag)])),
        );
      }
      log(`round ${round + 1}/${ROUNDS} done`);
    }

    // Where start-up goes: the smallest repository, warm, each Node build once.
    const small = repos[0];
    for (const b of builds.filter((x) => x.key !== 'standalone')) {
      const env = { TUFA_HOME: warmHome(b, small.n) };
      const argv = b.argv(verifyArgs(small));
      res.profiles.push({ build: b, files: filesOpened(argv, env), ...cpuProfile(argv, env, b.key) });
    }
  } finally {
    served?.child.kill('SIGTERM');
    try {
      process.kill(server.pid, 'SIGTERM');
    } catch {}
  }
  const md = render(m, builds, repos, res);
  process.stdout.write(`\n${md}\n`);
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, `${md.trim()}\n`);
  writeDocSection('cli-verify', md);
  log(`wrote ${RESULTS} and its section of docs/performance.md`);
}

function render(m, builds, repos, res) {
  const med = (key) => {
    const xs = res.samples.get(key);
    return xs ? median(xs.map((x) => x.wallMs)) : undefined;
  };
  const cpu = (key) => {
    const xs = res.samples.get(key);
    return xs?.[0]?.cpuMs === undefined ? undefined : median(xs.map((x) => x.cpuMs));
  };
  const rss = (key) => {
    const xs = res.samples.get(key);
    return xs ? median(xs.map((x) => x.maxRssKb)) : undefined;
  };
  const node0 = med('node -e 0');
  const out = [];
  out.push('## CLI verify: tufa verify vs notary lookup (bench/cli-verify.mjs)');
  out.push('');
  out.push(
    `Measured ${m.date} on ${describeMachine(m)} (\`nproc\` = ${m.nproc}; the machine was shared with other work), tufa at ${gitRevision()}. notary 0.7 (Debian) against a local notary-server (in-memory storage, HTTPS with the test certificates); tufa served by \`tufa serve\` (HTTP), both on 127.0.0.1.`,
  );
  out.push('');
  out.push(
    `Method: each command is a whole process (${COMMAND_MEASURE} — CPU time is the steadier figure on a shared machine, the goals are wall time), median of ${ROUNDS} interleaved rounds. **Cold**: a fresh trust cache (tufa: new TUFA_HOME with \`--root\`; notary: new trust directory, trust on first use). **Warm**: the same cache again. tufa repositories: \`tufa sign --bulk\`; notary's: the changelist written directly and one \`notary publish\` (${Object.entries(
      res.publish,
    )
      .map(([n, ms]) => `${Number(n).toLocaleString('en')} tags: ${fmtMs(ms)}`)
      .join(', ')}). The tag looked up is in the middle of the repository.`,
  );
  out.push('');
  const rows = [];
  const row = (what, label, key, ratio) => [
    what,
    label,
    fmtMs(med(key)),
    fmtMs(cpu(key)),
    fmtMb(rss(key)),
    ratio,
  ];
  rows.push(row('start-up', 'node -e 0 (Node.js itself)', 'node -e 0', ''));
  rows.push(row('start-up', 'notary version', 'notary version', ''));
  for (const b of builds) rows.push(row('start-up', `${b.label} --version`, `${b.key} --version`, ''));
  for (const r of repos) {
    const size = `${r.n.toLocaleString('en')} tag${r.n === 1 ? '' : 's'}`;
    for (const phase of ['cold', 'warm']) {
      const nk = `notary ${phase} ${r.n}`;
      for (const b of builds) {
        const k = `${b.key} ${phase} ${r.n}`;
        rows.push(row(`${size}, ${phase}`, b.label, k, fmtRatio(med(k) / med(nk))));
      }
      rows.push(row(`${size}, ${phase}`, 'notary lookup', nk, '1×'));
    }
  }
  out.push(
    table(['repository', 'command', 'wall time', 'CPU time', 'peak RSS', 'tufa / notary (wall)'], rows, [
      'l',
      'l',
      'r',
      'r',
      'r',
      'r',
    ]),
  );
  out.push('');
  // The goals of issue 17, from the figures above.
  const goal = [];
  // What `npx tufa` runs: the bin, with the code cache.
  const bundle = builds.find((b) => b.key === 'bin');
  const standalone = builds.find((b) => b.key === 'standalone');
  for (const r of repos) {
    for (const phase of ['cold', 'warm']) {
      const nk = med(`notary ${phase} ${r.n}`);
      const t = med(`${bundle.key} ${phase} ${r.n}`);
      const size = `${r.n.toLocaleString('en')}, ${phase}`;
      if (r.n <= 1000) {
        goal.push([
          size,
          'Node (bin) ≤ node -e 0 + 50 ms',
          `${fmtMs(t)} vs ${fmtMs(node0 + 50)} (node -e 0 = ${fmtMs(node0)} = ${fmtRatio(node0 / nk)} notary's whole look-up)`,
          t <= node0 + 50 ? 'met' : 'not met',
        ]);
      } else {
        const target = r.n >= 100_000 ? 0.5 : 1;
        goal.push([
          size,
          `Node (bin) ≤ ${target}× notary`,
          fmtRatio(t / nk),
          t / nk <= target ? 'met' : 'not met',
        ]);
      }
      if (standalone) {
        const s = med(`${standalone.key} ${phase} ${r.n}`);
        goal.push([size, 'standalone ≤ 1× notary', fmtRatio(s / nk), s / nk <= 1 ? 'met' : 'not met']);
      }
    }
  }
  out.push('Goals (issue 17), from this run:');
  out.push('');
  out.push(table(['repository, cache', 'goal', 'this run', ''], goal, ['l', 'l', 'l', 'l']));
  out.push('');
  if (res.profiles.length) {
    out.push('Where start-up goes (one `--cpu-prof` run of `verify`, 1-tag repository, warm cache):');
    out.push('');
    for (const p of res.profiles) {
      out.push(
        `- ${p.build.label}: ${p.files ?? '–'} JavaScript files opened; profile ${fmtMs(p.totalMs)} from Node's start to exit`,
      );
    }
    out.push('');
    for (const p of res.profiles) {
      out.push(`${p.build.label}, by self time:`);
      out.push('');
      out.push(p.summary);
      out.push('');
    }
  }
  return out.join('\n');
}

if (process.argv[1] && fileURLToPath(pathToFileURL(process.argv[1])) === fileURLToPath(import.meta.url)) {
  await main();
}
