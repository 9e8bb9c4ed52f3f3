#!/usr/bin/env node
/**
 * The `tufa` CLI side by side with Notary v1's `notary` CLI (Debian's notary 0.7, against a
 * local notary-server: scripts/notary/start-server.sh, in-memory storage, TLS with the test
 * certificates), in one run:
 *
 *   - sign 1k and 10k tags: `tufa sign GUN --bulk FILE` vs one `notary addhash` per tag and
 *     one `notary publish`
 *   - verify one tag in a 10k-tag repository, warm cache: `tufa verify --server URL GUN:TAG
 *     --digest …` vs `notary lookup GUN TAG`
 *   - start-up: `tufa --version`, `notary version`, verify/lookup on a one-tag repository
 *
 * Keys: tufa's default scrypt cost (N = 2^17: every tufa command that signs unlocks three keys —
 * targets, snapshot, timestamp); the unlock cost is measured apart, and one extra case signs
 * with keys made under TUFA_SCRYPT_N=1024 to show the signing cost without it. Notary: its own
 * defaults (encrypted PKCS#8 keys; the timestamp key is held by the server).
 *
 * `notary addhash` is one process per tag: the 1k case runs in full; at 10k the loop is capped
 * (BENCH_NOTARY_CAP seconds, default 180). If the cap is reached, the addhash time is
 * extrapolated linearly from the tags done, the remaining changelist entries are written in
 * notary's own format (exactly what `notary addhash` writes: one JSON file per change), and the
 * 10k-tag `notary publish` itself is measured for real. The table says which figures are
 * extrapolated.
 *
 * Wall time per command is measured around the process (spawn to exit); peak RSS with
 * /usr/bin/time. tufa is served by `tufa serve` (plain HTTP); notary-server is HTTPS (a TLS
 * handshake per process, a few ms). Outputs under .bench-out/cli-notary/.
 *
 *   npm run build && node bench/cli-notary.mjs     # writes bench/results/cli-notary.md
 */
import { spawn } from 'node:child_process';
import { createHash, randomUUID, scrypt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { OUT_DIR, ROOT_DIR } from './lib/fixtures.mjs';
import {
  describeMachine,
  fmtMb,
  fmtMs,
  fmtRatio,
  machine,
  median,
  table,
  tufaServe,
} from './lib/harness.mjs';

const DIR = join(OUT_DIR, 'cli-notary');
const RESULTS = join(ROOT_DIR, 'bench', 'results', 'cli-notary.md');
const BIN = join(ROOT_DIR, 'packages', 'cli', 'dist', 'bin.js');
const TLS_CA = join(ROOT_DIR, 'test-vectors', 'tls', 'ca.pem');
const START_SERVER = join(ROOT_DIR, 'scripts', 'notary', 'start-server.sh');
const NOTARY_CAP_S = Number(process.env.BENCH_NOTARY_CAP ?? 180);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 9); // warm verify / start-up samples
const SIZES = (process.env.BENCH_SIZES ?? '1000,10000').split(',').map(Number);
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

const log = (s) => process.stderr.write(`[cli-notary] ${s}\n`);

export function tagOf(i) {
  return `v${i}`;
}
export function digestOf(i) {
  return createHash('sha256').update(`manifest-${i}`).digest('hex');
}
export function sizeOf(i) {
  return 1024 + ((i * 7919) % 100_000);
}

/**
 * Runs a command; resolves with exit code, wall time, output and peak RSS (KB, from
 * /usr/bin/time). Kills it after `timeoutMs`.
 */
function run(cmd, args, { env = {}, timeoutMs = 600_000, input } = {}) {
  return new Promise((resolve) => {
    const rssFile = join(DIR, `.rss-${process.pid}-${Math.random().toString(36).slice(2)}`);
    const [c, a] = TIME ? [TIME, ['-f', '%M', '-o', rssFile, cmd, ...args]] : [cmd, args];
    const t0 = performance.now();
    const child = spawn(c, a, {
      env: { ...process.env, ...env },
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    if (input !== undefined) child.stdin.end(input);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      const wallMs = performance.now() - t0;
      clearTimeout(timer);
      let maxRssKb;
      try {
        maxRssKb = Number(readFileSync(rssFile, 'utf8').trim().split('\n').at(-1));
        rmSync(rssFile, { force: true });
      } catch {}
      resolve({ code, wallMs, stdout, stderr, maxRssKb, timedOut });
    });
  });
}

async function must(label, p) {
  const r = await p;
  if (r.code !== 0)
    throw new Error(
      `${label} failed (exit ${r.code}${r.timedOut ? ', timed out' : ''}):\n${r.stderr}${r.stdout}`,
    );
  return r;
}

// ------------------------------------------------------------------------------------------
// tufa
// ------------------------------------------------------------------------------------------

const TUFA_PASSPHRASE = 'bench passphrase (not a secret)';

function tufaEnv(home, extra = {}) {
  const env = { TUFA_HOME: home, TUFA_PASSPHRASE, ...extra };
  return env;
}

function tufa(args, env, opts = {}) {
  return run(process.execPath, [BIN, ...args], { env, ...opts });
}

/** A fresh tufa repository for `gun` (init publishes version 1 of every role). */
async function tufaInit(home, pub, gun, scryptN) {
  const env = tufaEnv(home, scryptN ? { TUFA_SCRYPT_N: String(scryptN) } : {});
  await must(
    'tufa init',
    tufa(['init', gun, '--publish-root', pub, '--root-key-out', join(DIR, 'offline')], env),
  );
}

function bulkFile(n) {
  const p = join(DIR, `bulk-${n}.txt`);
  if (!existsSync(p)) {
    const lines = [];
    for (let i = 0; i < n; i++) lines.push(`${tagOf(i)} sha256:${digestOf(i)} ${sizeOf(i)}`);
    writeFileSync(p, `${lines.join('\n')}\n`);
  }
  return p;
}

// ------------------------------------------------------------------------------------------
// notary
// ------------------------------------------------------------------------------------------

export const NOTARY_ENV = {
  NOTARY_ROOT_PASSPHRASE: 'bench-root',
  NOTARY_TARGETS_PASSPHRASE: 'bench-targets',
  NOTARY_SNAPSHOT_PASSPHRASE: 'bench-snapshot',
  NOTARY_DELEGATION_PASSPHRASE: 'bench-delegation',
};

function notaryConfig(name, serverUrl) {
  const dir = join(DIR, name);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify(
      { trust_dir: join(dir, 'trust'), remote_server: { url: serverUrl, root_ca: TLS_CA } },
      null,
      2,
    ),
  );
  return { file, trustDir: join(dir, 'trust') };
}

function notary(config, args, opts = {}) {
  return run('notary', ['-c', config.file, ...args], { env: NOTARY_ENV, ...opts });
}

async function startNotaryServer() {
  const work = join(DIR, 'notary-server');
  const r = await must('start-server.sh', run('bash', [START_SERVER, work], { timeoutMs: 60_000 }));
  const [url, pid] = r.stdout.trim().split(/\s+/);
  return { url, pid: Number(pid) };
}

/** Writes changelist entries exactly as `notary addhash` does (one JSON file per change). */
export function writeChangelist(config, gun, from, to) {
  const dir = join(config.trustDir, 'tuf', gun, 'changelist');
  mkdirSync(dir, { recursive: true });
  let ns = BigInt(Date.now()) * 1_000_000n;
  for (let i = from; i < to; i++) {
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

/** notary addhash for tags 0..n-1 (one process each, capped), then notary publish. */
async function notarySign(config, gun, n, capS) {
  const started = performance.now();
  let done = 0;
  let maxRssKb = 0;
  for (let i = 0; i < n; i++) {
    if (capS !== undefined && performance.now() - started > capS * 1000) break;
    const r = await must(
      `notary addhash ${i}`,
      notary(config, ['addhash', gun, tagOf(i), String(sizeOf(i)), '--sha256', digestOf(i)]),
    );
    maxRssKb = Math.max(maxRssKb, r.maxRssKb ?? 0);
    done++;
    if (done % 500 === 0) log(`  notary addhash: ${done}/${n} (${fmtMs(performance.now() - started)})`);
  }
  const addMs = performance.now() - started;
  const extrapolated = done < n;
  if (extrapolated) writeChangelist(config, gun, done, n);
  const pub = await must('notary publish', notary(config, ['publish', gun], { timeoutMs: 1_800_000 }));
  return {
    done,
    addMs,
    addMsFull: extrapolated ? (addMs / done) * n : addMs,
    perTagMs: addMs / done,
    publishMs: pub.wallMs,
    publishRssKb: pub.maxRssKb,
    addRssKb: maxRssKb,
    extrapolated,
  };
}

// ------------------------------------------------------------------------------------------

function scryptOnce(N) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    scrypt('passphrase', Buffer.alloc(16, 1), 32, { N, r: 8, p: 1, maxmem: 256 * N * 8 + 1024 }, (err) =>
      err ? reject(err) : resolve(performance.now() - t0),
    );
  });
}

async function repeat(k, fn) {
  const out = [];
  for (let i = 0; i < k; i++) out.push(await fn(i));
  return out;
}

export async function main() {
  const m = machine();
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  const pub = join(DIR, 'publish');
  const home = join(DIR, 'tufa-home');
  const clientHome = join(DIR, 'tufa-client-home');
  const res = { sign: {}, verify: {}, startup: {} };

  const server = await startNotaryServer();
  log(`notary-server at ${server.url} (pid ${server.pid})`);
  let tufaServer;
  try {
    // Unlock cost: one scrypt derivation at tufa's default parameters (N = 2^17, r = 8, p = 1).
    await scryptOnce(1024);
    res.scryptMs = median(await repeat(5, () => scryptOnce(2 ** 17)));
    log(`scrypt N=2^17: ${fmtMs(res.scryptMs)} per key`);

    // --- sign -----------------------------------------------------------------------------
    for (const n of SIZES) {
      const file = bulkFile(n);
      const r = { tufa: [], tufaLowKdf: [], notary: undefined };
      res.sign[n] = r;
      for (let round = 0; round < ROUNDS; round++) {
        const gun = `bench.example.com/sign-${n}-r${round}`;
        await tufaInit(home, pub, gun);
        const t = await must('tufa sign --bulk', tufa(['sign', gun, '--bulk', file], tufaEnv(home)));
        r.tufa.push(t);
        const gunLow = `bench.example.com/sign-${n}-lowkdf-r${round}`;
        await tufaInit(home, pub, gunLow, 1024);
        const tl = await must(
          'tufa sign --bulk (N=1024)',
          tufa(['sign', gunLow, '--bulk', file], tufaEnv(home)),
        );
        r.tufaLowKdf.push(tl);
        log(
          `sign ${n} round ${round + 1}: tufa ${fmtMs(t.wallMs)} (${fmtMb(t.maxRssKb)}), with N=1024 keys ${fmtMs(tl.wallMs)}`,
        );
      }
      const cfg = notaryConfig(`notary-sign-${n}`, server.url);
      const gun = `bench.example.com/sign-${n}`;
      await must('notary init', notary(cfg, ['init', gun]));
      await must('notary publish (init)', notary(cfg, ['publish', gun]));
      r.notaryConfig = cfg;
      r.notaryGun = gun;
      r.notary = await notarySign(cfg, gun, n, n > 1000 ? NOTARY_CAP_S : undefined);
      log(
        `sign ${n}: notary addhash ${r.notary.done} tags in ${fmtMs(r.notary.addMs)} (${r.notary.perTagMs.toFixed(1)} ms each)` +
          `${r.notary.extrapolated ? `, extrapolated to ${fmtMs(r.notary.addMsFull)}` : ''}; publish ${fmtMs(r.notary.publishMs)}`,
      );
    }

    // --- verify one tag in the largest repository, and start-up on a one-tag repository -------
    const big = Math.max(...SIZES);
    tufaServer = await tufaServe(BIN, pub);
    const tiny = { n: 1, tufaGun: 'bench.example.com/tiny', notaryGun: 'bench.example.com/tiny' };
    await tufaInit(home, pub, tiny.tufaGun);
    await must(
      'tufa sign tiny',
      tufa(
        [
          'sign',
          `${tiny.tufaGun}:${tagOf(0)}`,
          '--digest',
          `sha256:${digestOf(0)}`,
          '--size',
          String(sizeOf(0)),
        ],
        tufaEnv(home),
      ),
    );
    const tinyCfg = notaryConfig('notary-tiny', server.url);
    await must('notary init tiny', notary(tinyCfg, ['init', tiny.notaryGun]));
    await must(
      'notary addhash tiny',
      notary(tinyCfg, ['addhash', tiny.notaryGun, tagOf(0), String(sizeOf(0)), '--sha256', digestOf(0)]),
    );
    await must('notary publish tiny', notary(tinyCfg, ['publish', tiny.notaryGun]));

    const verifyCases = [
      {
        key: big,
        tufaGun: `bench.example.com/sign-${big}-r0`,
        notaryGun: `bench.example.com/sign-${big}`,
        tag: Math.floor(big / 2) + 3,
      },
      { key: 1, tufaGun: tiny.tufaGun, notaryGun: tiny.notaryGun, tag: 0 },
    ];
    for (const c of verifyCases) {
      const ref = `${c.tufaGun}:${tagOf(c.tag)}`;
      const root = join(pub, c.tufaGun, 'metadata', '1.root.json');
      const env = { TUFA_HOME: clientHome };
      const cold = await must(
        'tufa verify (first use)',
        tufa(
          [
            'verify',
            '--server',
            tufaServer.url,
            '--root',
            root,
            ref,
            '--digest',
            `sha256:${digestOf(c.tag)}`,
          ],
          env,
        ),
      );
      const warm = await repeat(REPEATS, () =>
        must(
          'tufa verify',
          tufa(['verify', '--server', tufaServer.url, ref, '--digest', `sha256:${digestOf(c.tag)}`], env),
        ),
      );
      // A verifier with its own trust directory (not the publisher's): the first lookup pins
      // the root (TOFU), later ones are warm.
      const ncfg = notaryConfig(`notary-client-${c.key}`, server.url);
      const ncold = await must('notary lookup (first)', notary(ncfg, ['lookup', c.notaryGun, tagOf(c.tag)]));
      const nwarm = await repeat(REPEATS, () =>
        must('notary lookup', notary(ncfg, ['lookup', c.notaryGun, tagOf(c.tag)])),
      );
      if (!nwarm[0].stdout.includes(digestOf(c.tag)))
        throw new Error(`notary lookup printed ${nwarm[0].stdout}`);
      res.verify[c.key] = { cold, warm, ncold, nwarm };
      log(
        `verify in ${c.key}-tag repository: tufa warm ${fmtMs(median(warm.map((x) => x.wallMs)))}, notary lookup warm ${fmtMs(median(nwarm.map((x) => x.wallMs)))}`,
      );
    }

    res.startup.tufaVersion = await repeat(REPEATS, () => must('tufa --version', tufa(['--version'], {})));
    res.startup.notaryVersion = await repeat(REPEATS, () =>
      must('notary version', run('notary', ['version'])),
    );
    res.startup.node = await repeat(REPEATS, () => must('node -e 0', run(process.execPath, ['-e', '0'])));
  } finally {
    if (tufaServer) tufaServer.child.kill('SIGTERM');
    try {
      process.kill(server.pid, 'SIGTERM');
    } catch {}
  }

  const md = render(m, res);
  process.stdout.write(`\n${md}\n`);
  mkdirSync(dirname(RESULTS), { recursive: true });
  const { withNotes } = await import('./client.mjs');
  writeFileSync(RESULTS, withNotes(md, RESULTS));
  log(`wrote ${RESULTS}`);
}

function render(m, res) {
  const medMs = (xs) => median(xs.map((x) => x.wallMs));
  const medRss = (xs) => median(xs.map((x) => x.maxRssKb));
  const out = [];
  out.push('## CLI: tufa vs Notary v1 (bench/cli-notary.mjs)');
  out.push('');
  out.push(
    `Measured ${m.date} on ${describeMachine(m)} (\`nproc\` = ${m.nproc}; the machine was shared with other work). notary 0.7 (Debian) against a local notary-server (in-memory storage, HTTPS with the test certificates); tufa served by \`tufa serve\` (HTTP), both on 127.0.0.1.`,
  );
  out.push('');
  out.push(
    `Method: wall time of each command as a process (spawn to exit), peak RSS from /usr/bin/time. tufa signs with its default key encryption (scrypt N = 2^17: one derivation measured here at ${fmtMs(res.scryptMs)}; \`tufa sign\` unlocks three keys, targets, snapshot and timestamp, one after the other); "keys made with TUFA_SCRYPT_N=1024" shows the same command with cheap key unlocking. tufa: median of ${ROUNDS} runs, each on a freshly initialised repository (\`tufa init\`, not timed). Notary: \`notary init\` + \`notary publish\` (not timed), then one \`notary addhash GUN TAG SIZE --sha256 HEX\` process per tag and one \`notary publish\`, one run. ` +
      `At 10k the addhash loop is capped at ${NOTARY_CAP_S} s: the addhash total is then extrapolated from the tags done (marked *), the remaining changelist entries are written in notary's format, and the 10k-tag \`notary publish\` is measured for real. Verify: a client with its own trust cache; first use once, then warm, median of ${REPEATS}.`,
  );
  out.push('');
  const rows = [];
  const ratioRows = [];
  for (const [n, r] of Object.entries(res.sign)) {
    const t = medMs(r.tufa);
    const tl = medMs(r.tufaLowKdf);
    const nt = r.notary;
    const total = nt.addMsFull + nt.publishMs;
    const star = nt.extrapolated ? '*' : '';
    rows.push([
      `sign ${Number(n).toLocaleString('en')} tags`,
      'tufa sign --bulk',
      fmtMs(t),
      fmtMb(medRss(r.tufa)),
      '1 process',
    ]);
    rows.push([
      `sign ${Number(n).toLocaleString('en')} tags`,
      'tufa sign --bulk (keys made with TUFA_SCRYPT_N=1024)',
      fmtMs(tl),
      fmtMb(medRss(r.tufaLowKdf)),
      '1 process',
    ]);
    rows.push([
      `sign ${Number(n).toLocaleString('en')} tags`,
      `notary addhash × ${Number(n).toLocaleString('en')} + publish`,
      `${fmtMs(total)}${star}`,
      `${fmtMb(nt.addRssKb)} / ${fmtMb(nt.publishRssKb)}`,
      `addhash ${fmtMs(nt.addMsFull)}${star} (${nt.perTagMs.toFixed(1)} ms/tag${nt.extrapolated ? `, ${nt.done.toLocaleString('en')} tags measured` : ''}), publish ${fmtMs(nt.publishMs)}`,
    ]);
    ratioRows.push([
      `sign ${Number(n).toLocaleString('en')} tags`,
      `${fmtRatio(total / t)}${star}`,
      fmtRatio(nt.publishMs / t),
      `${fmtRatio(total / tl)}${star}`,
    ]);
  }
  for (const [k, v] of Object.entries(res.verify)) {
    const label = `verify 1 tag, ${Number(k).toLocaleString('en')}-tag repository`;
    rows.push([
      label,
      'tufa verify --digest (first use, --root)',
      fmtMs(v.cold.wallMs),
      fmtMb(v.cold.maxRssKb),
      '',
    ]);
    rows.push([label, 'tufa verify --digest (warm cache)', fmtMs(medMs(v.warm)), fmtMb(medRss(v.warm)), '']);
    rows.push([label, 'notary lookup (first use, TOFU)', fmtMs(v.ncold.wallMs), fmtMb(v.ncold.maxRssKb), '']);
    rows.push([label, 'notary lookup (warm cache)', fmtMs(medMs(v.nwarm)), fmtMb(medRss(v.nwarm)), '']);
    ratioRows.push([label, '', '', '', `${fmtRatio(medMs(v.warm) / medMs(v.nwarm))}`]);
  }
  const s = res.startup;
  rows.push(['start-up', 'tufa --version', fmtMs(medMs(s.tufaVersion)), fmtMb(medRss(s.tufaVersion)), '']);
  rows.push([
    'start-up',
    'notary version',
    fmtMs(medMs(s.notaryVersion)),
    fmtMb(medRss(s.notaryVersion)),
    '',
  ]);
  rows.push(['start-up', 'node -e 0 (Node itself)', fmtMs(medMs(s.node)), fmtMb(medRss(s.node)), '']);
  out.push(table(['task', 'command', 'wall time', 'peak RSS', 'notes'], rows, ['l', 'l', 'r', 'r', 'l']));
  out.push('');
  out.push(
    'Ratios (notary / tufa for signing, higher = tufa faster; tufa / notary for verify, lower = tufa faster):',
  );
  out.push('');
  out.push(
    table(
      [
        'task',
        'notary / tufa (total)',
        'notary publish alone / tufa',
        'notary / tufa with N=1024 keys',
        'tufa / notary (warm)',
      ],
      ratioRows.map((r) => [...r, ...Array(5 - r.length).fill('')].slice(0, 5)),
      ['l'],
    ),
  );
  out.push('');
  const small = res.sign[Math.min(...Object.keys(res.sign).map(Number))];
  const unlock = small ? medMs(small.tufa) - medMs(small.tufaLowKdf) : undefined;
  out.push(
    `What it means: signing in bulk is one tufa process and one transaction, so it costs about what the library does plus Node start-up and the key unlocking (≈ ${fmtMs(unlock)} of every signing command here at the default scrypt cost, ${fmtMs(res.scryptMs)} per key × 3 keys); notary pays a process per tag. ` +
      `For one look-up the Go binary starts faster than Node (\`tufa --version\` ${fmtMs(medMs(s.tufaVersion))} vs \`notary version\` ${fmtMs(medMs(s.notaryVersion))}), which dominates verify on a small repository.`,
  );
  return out.join('\n');
}

if (process.argv[1] && fileURLToPath(pathToFileURL(process.argv[1])) === fileURLToPath(import.meta.url)) {
  await main();
}
