#!/usr/bin/env node
/**
 * Client suite: refresh + look-up of one target in a repository with 1k, 10k and 100k targets
 * (flat, in top-level targets), served over HTTP on 127.0.0.1, cold cache (fresh metadata
 * directory holding only the trusted root) and warm cache (second refresh, repository
 * unchanged), for:
 *
 *   - tufa: `Updater` + `HttpFetcher` + `FsMetadataStore`
 *   - tuf-js 5: `Updater` (its default fetcher, its metadata directory), capped
 *   - a lean floor written here: node:http GETs, length + sha256 check of snapshot and targets
 *     against their parent, `JSON.parse`, the bench's byte-buffer canonical encoder and one
 *     node:crypto Ed25519 verify per role with a cached KeyObject, version/expiry checks, files
 *     persisted as a crash-safe cache (temp file, fsync, rename) like tufa's, a hash look-up in
 *     the parsed `targets` object.
 *
 * Also: look-up cost in an already refreshed client (ns/op over 100k look-ups of existing
 * targets in random order).
 *
 * Every measurement is its own child process (this file with `--worker`): the first run in a
 * fresh process ("first run": what a CLI or a short-lived job pays, JIT cold, module import
 * excluded and reported apart) and, in another process, the median of several runs after a
 * warm-up ("steady": a long-lived process). Peak RSS is the first-run process's VmHWM (one
 * refresh + look-up on top of Node). Implementations are interleaved round by round; medians
 * over BENCH_ROUNDS rounds (default 3). The HTTP server runs in the parent process (files held
 * in memory). Peers are capped at BENCH_PEER_TIMEOUT seconds (default 120) per process.
 *
 * Repositories are built once with tufa's `Repository` (fixed Ed25519 keys from seeds, fixed
 * clock, expiry in 2125: byte-identical on every machine) in `.bench-out/client/`.
 *
 *   node bench/client.mjs                     # everything; writes bench/results/client.md
 *   BENCH_SIZES=1000,10000 node bench/client.mjs
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { canonicalEncode } from './lib/canonical.mjs';
import { keyPairFromSeed, OUT_DIR, ROOT_DIR } from './lib/fixtures.mjs';
import {
  describeMachine,
  fmtBytes,
  fmtMb,
  fmtMs,
  fmtRatio,
  machine,
  median,
  reportResult,
  runChild,
  table,
} from './lib/harness.mjs';

const SELF = fileURLToPath(import.meta.url);
const CORE = pathToFileURL(join(ROOT_DIR, 'packages/core/dist/index-node.js')).href;
const CORE_NODE = pathToFileURL(join(ROOT_DIR, 'packages/core/dist/node/index.js')).href;
const DIR = join(OUT_DIR, 'client');
const RESULTS = join(ROOT_DIR, 'bench', 'results', 'client.md');

const SIZES = (process.env.BENCH_SIZES ?? '1000,10000,100000').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PEER_TIMEOUT_S = Number(process.env.BENCH_PEER_TIMEOUT ?? 120);
const OWN_TIMEOUT_S = 300;
const LOOKUPS = 100_000;

const FIXTURE_VERSION = 1;
const FIXED_NOW = new Date('2025-01-01T00:00:00Z');
const CENTURY_S = 100 * 365 * 86_400;

/** Target i: an image tag and the digest and size of its manifest. */
export function tagName(i) {
  return `app-${i}:v${i}`;
}
export function tagDigest(i) {
  return createHash('sha256').update(`image-${i}`).digest('hex');
}
export function tagSize(i) {
  return 1024 + ((i * 7919) % 100_000);
}

const IMPLS = [
  { id: 'floor', label: 'lean floor', peer: false },
  { id: 'tufa', label: 'tufa Updater', peer: false },
  { id: 'tuf-js', label: 'tuf-js 5.0.1 Updater', peer: true },
];

// ------------------------------------------------------------------------------------------
// Fixtures (built in a child: `--build N`)
// ------------------------------------------------------------------------------------------

function repoDir(n) {
  return join(DIR, `repo-${n}`);
}

async function buildRepository(n) {
  const { Key, PrivateKeySigner, Repository, TargetFile } = await import(CORE);
  const { FsRepositoryStorage } = await import(CORE_NODE);
  const dir = repoDir(n);
  rmSync(dir, { recursive: true, force: true });
  const pair = (label) => {
    const kp = keyPairFromSeed(`client-${label}`);
    const key = Key.fromPublicKeyObject(kp.publicKey);
    return { key, signer: new PrivateKeySigner(kp.privateKey, key) };
  };
  const root = pair('root');
  const targets = pair('targets');
  const snapshot = pair('snapshot');
  const timestamp = pair('timestamp');
  const repo = await Repository.create(new FsRepositoryStorage(dir), {
    keys: { root: [root.key], targets: [targets.key], snapshot: [snapshot.key], timestamp: [timestamp.key] },
    signers: [root.signer, targets.signer, snapshot.signer, timestamp.signer],
    now: () => FIXED_NOW,
    expiry: { root: CENTURY_S, targets: CENTURY_S, snapshot: CENTURY_S, timestamp: CENTURY_S },
  });
  const list = [];
  for (let i = 0; i < n; i++)
    list.push(new TargetFile(tagName(i), tagSize(i), new Map([['sha256', tagDigest(i)]])));
  await repo.addTargets(list);
  await repo.publish();
  writeFileSync(join(dir, 'fixture.json'), JSON.stringify({ version: FIXTURE_VERSION, n }));
}

async function ensureRepository(n, log) {
  const marker = join(repoDir(n), 'fixture.json');
  if (existsSync(marker)) {
    const m = JSON.parse(readFileSync(marker, 'utf8'));
    if (m.version === FIXTURE_VERSION && m.n === n) return;
  }
  log(`building the ${n}-target repository with tufa's Repository …`);
  const r = await runChild(SELF, ['--build', String(n)], { timeoutMs: 900_000 });
  if (!r.ok) throw new Error(`building repo-${n} failed: ${r.error ?? 'timeout'}`);
}

// ------------------------------------------------------------------------------------------
// The static server (parent process; files in memory)
// ------------------------------------------------------------------------------------------

function startServer(sizes) {
  const files = new Map();
  for (const n of sizes) {
    const md = join(repoDir(n), 'metadata');
    for (const f of readdirSync(md)) {
      if (f.endsWith('.json')) files.set(`/${n}/metadata/${f}`, readFileSync(join(md, f)));
    }
  }
  const server = http.createServer((req, res) => {
    const body = files.get(decodeURIComponent(req.url.split('?')[0]));
    if (!body || req.method !== 'GET') {
      res.writeHead(404, { 'Content-Length': 0 });
      res.end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
    res.end(body);
  });
  server.keepAliveTimeout = 5000;
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, port: server.address().port }));
  });
}

// ------------------------------------------------------------------------------------------
// Worker: one implementation, one mode, in its own process
// ------------------------------------------------------------------------------------------

function peakRssKb() {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]);
  } catch {}
  return process.resourceUsage().maxRSS;
}

/** Crash-safe write, as tufa's writeFileAtomic does: temp file, fsync, rename, fsync directory. */
function writeDurable(dir, name, bytes) {
  const tmp = join(dir, `.tmp-${name}`);
  const fd = openSync(tmp, 'w', 0o644);
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, name));
  const d = openSync(dir, 'r');
  try {
    fsyncSync(d);
  } finally {
    closeSync(d);
  }
}

const agent = new http.Agent({ keepAlive: true });

/** GET url → Buffer (undefined on 404), at most maxLength bytes. */
function httpGet(url, maxLength, acc) {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      if (res.statusCode === 404 || res.statusCode === 403) {
        res.resume();
        res.on('end', () => {
          acc.ms += performance.now() - t0;
          resolve(undefined);
        });
        return;
      }
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`${url}: HTTP ${res.statusCode}`));
        return;
      }
      const chunks = [];
      let n = 0;
      res.on('data', (c) => {
        n += c.length;
        if (n > maxLength) {
          req.destroy(new Error(`${url}: more than ${maxLength} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => {
        acc.ms += performance.now() - t0;
        acc.bytes += n;
        resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, n));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/**
 * The lean floor. What it checks: root self-signature, timestamp/snapshot/targets signatures
 * (threshold 1 of the role's keys), snapshot and targets length + sha256 against their
 * parent's listing, versions, expiry. What it leaves out (tufa does these): strict parsing
 * (duplicate keys, number forms), schema validation of every field, rollback checks against the
 * cached versions, root rotation beyond "is there a 2.root.json", delegations.
 */
function makeFloor() {
  const spkiPrefix = Buffer.from('302a300506032b6570032100', 'hex');
  const keyCache = new Map();
  const keyObject = (keyval) => {
    let k = keyCache.get(keyval.public);
    if (!k) {
      k = createPublicKey({
        key: Buffer.concat([spkiPrefix, Buffer.from(keyval.public, 'hex')]),
        format: 'der',
        type: 'spki',
      });
      keyCache.set(keyval.public, k);
    }
    return k;
  };
  const check = (root, role, doc, bytesLength) => {
    const r = root.roles[role];
    const data = canonicalEncode(doc.signed, bytesLength);
    let good = 0;
    for (const s of doc.signatures) {
      if (!r.keyids.includes(s.keyid)) continue;
      if (verify(null, data, keyObject(root.keys[s.keyid].keyval), Buffer.from(s.sig, 'hex'))) good++;
    }
    if (good < r.threshold) throw new Error(`floor: ${role} signature threshold not met`);
    if (doc.signed._type !== role) throw new Error(`floor: expected ${role}`);
    if (Date.parse(doc.signed.expires) <= Date.now()) throw new Error(`floor: ${role} expired`);
  };
  const checkMeta = (meta, bytes, what) => {
    if (meta.length !== undefined && meta.length !== bytes.length) throw new Error(`floor: ${what} length`);
    const want = meta.hashes?.sha256;
    if (want && createHash('sha256').update(bytes).digest('hex') !== want)
      throw new Error(`floor: ${what} hash`);
  };
  const readCached = (dir, name) => {
    try {
      return readFileSync(join(dir, name));
    } catch {
      return undefined;
    }
  };
  return async (dir, base, acc) => {
    const rootBuf = readFileSync(join(dir, 'root.json'));
    const rootDoc = JSON.parse(rootBuf.toString('utf8'));
    const root = rootDoc.signed;
    check(root, 'root', rootDoc, rootBuf.length);
    if (await httpGet(`${base}${root.version + 1}.root.json`, 512_000, acc))
      throw new Error('floor: root rotation not implemented');
    const tsBuf = await httpGet(`${base}timestamp.json`, 16_384, acc);
    const ts = JSON.parse(tsBuf.toString('utf8'));
    check(root, 'timestamp', ts, tsBuf.length);
    const cachedTs = readCached(dir, 'timestamp.json');
    const tsChanged = !cachedTs?.equals(tsBuf);
    if (tsChanged) writeDurable(dir, 'timestamp.json', tsBuf);
    const snMeta = ts.signed.meta['snapshot.json'];
    let snBuf = tsChanged ? undefined : readCached(dir, 'snapshot.json');
    let snFresh = false;
    if (!snBuf) {
      snBuf = await httpGet(`${base}${snMeta.version}.snapshot.json`, snMeta.length ?? 2_000_000, acc);
      checkMeta(snMeta, snBuf, 'snapshot');
      snFresh = true;
    }
    const sn = JSON.parse(snBuf.toString('utf8'));
    check(root, 'snapshot', sn, snBuf.length);
    if (sn.signed.version !== snMeta.version) throw new Error('floor: snapshot version');
    if (snFresh) writeDurable(dir, 'snapshot.json', snBuf);
    const tMeta = sn.signed.meta['targets.json'];
    let tBuf = snFresh ? undefined : readCached(dir, 'targets.json');
    let tFresh = false;
    if (!tBuf) {
      tBuf = await httpGet(`${base}${tMeta.version}.targets.json`, tMeta.length ?? 5_000_000, acc);
      checkMeta(tMeta, tBuf, 'targets');
      tFresh = true;
    }
    const t = JSON.parse(tBuf.toString('utf8'));
    check(root, 'targets', t, tBuf.length);
    if (t.signed.version !== tMeta.version) throw new Error('floor: targets version');
    if (tFresh) writeDurable(dir, 'targets.json', tBuf);
    // JSON.parse already built a hash table (a dictionary-mode object): copying 100k entries
    // into a Map would add ~80 ms for nothing.
    return t.signed.targets;
  };
}

/** A Fetcher wrapper that adds up the time spent downloading (request to last byte). */
function timedFetcher(inner, acc) {
  return {
    async *fetch(url, request) {
      const t0 = performance.now();
      try {
        for await (const c of inner.fetch(url, request)) {
          acc.bytes += c.length;
          yield c;
        }
      } finally {
        acc.ms += performance.now() - t0;
      }
    },
  };
}

/** Each implementation: init(dir) writes the trusted root; run(dir, path, acc) → { client, hit }. */
const WORKER_IMPLS = {
  async floor(o, rootBytes) {
    const refresh = makeFloor();
    return {
      init(dir) {
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'root.json'), rootBytes);
      },
      async run(dir, path, acc) {
        const targets = await refresh(dir, o.baseUrl, acc);
        const t = Object.hasOwn(targets, path) ? targets[path] : undefined;
        return { client: targets, hit: t && { sha256: t.hashes.sha256, length: t.length } };
      },
      lookup(targets, p) {
        return Object.hasOwn(targets, p) ? targets[p] : undefined;
      },
    };
  },

  async tufa(o, rootBytes) {
    const { Updater } = await import(CORE);
    const { FsMetadataStore, HttpFetcher } = await import(CORE_NODE);
    return {
      async init(dir) {
        await FsMetadataStore.initialize(dir, rootBytes);
      },
      async run(dir, path, acc) {
        const updater = new Updater({
          metadataBaseUrl: o.baseUrl,
          fetcher: timedFetcher(new HttpFetcher(), acc),
          store: new FsMetadataStore(dir),
        });
        await updater.refresh();
        const info = await updater.getTargetInfo(path);
        return {
          client: updater,
          hit: info && { sha256: info.target.hashes.get('sha256'), length: info.target.length },
        };
      },
      lookup(updater, p) {
        return updater.getTargetInfo(p);
      },
    };
  },

  async 'tuf-js'(o, rootBytes) {
    const { Updater } = await import('tuf-js');
    return {
      init(dir) {
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'root.json'), rootBytes);
      },
      async run(dir, path) {
        const updater = new Updater({ metadataDir: dir, metadataBaseUrl: o.baseUrl, targetDir: dir });
        await updater.refresh();
        const t = await updater.getTargetInfo(path);
        return { client: updater, hit: t && { sha256: t.hashes.sha256, length: t.length } };
      },
      lookup(updater, p) {
        return updater.getTargetInfo(p);
      },
    };
  },
};

async function worker(o) {
  const rootBytes = readFileSync(o.rootFile);
  const i0 = performance.now();
  const impl = await WORKER_IMPLS[o.impl](o, rootBytes);
  const importMs = performance.now() - i0;
  const baselineRssKb = Math.round(process.memoryUsage().rss / 1024);
  const expected = { sha256: tagDigest(o.lookupIndex), length: tagSize(o.lookupIndex) };
  const path = tagName(o.lookupIndex);
  let client;

  const once = async () => {
    let dir = o.warmDir;
    if (o.mode === 'cold') {
      dir = mkdtempSync(join(o.scratch, `${o.impl}-`));
      await impl.init(dir);
    }
    const acc = { ms: 0, bytes: 0 };
    const t0 = performance.now();
    const r = await impl.run(dir, path, acc);
    const total = performance.now() - t0;
    if (!r.hit || r.hit.sha256 !== expected.sha256 || r.hit.length !== expected.length)
      throw new Error(`${o.impl}: wrong look-up result ${JSON.stringify(r.hit)}`);
    client = r.client;
    if (o.mode === 'cold') {
      if (o.keepDir) {
        rmSync(o.keepDir, { recursive: true, force: true });
        renameSync(dir, o.keepDir);
        o.keepDir = undefined;
      } else rmSync(dir, { recursive: true, force: true });
    }
    return { total, fetchMs: acc.ms, bytes: acc.bytes };
  };

  const started = performance.now();
  const first = await once();
  const firstRssKb = peakRssKb();
  const samples = [];
  let warmups = 0;
  if (o.runs > 1) {
    while (warmups < 20 && (warmups < 1 || performance.now() - started < 1000)) {
      await once();
      warmups++;
    }
    for (let i = 0; i < o.runs; i++) {
      if (samples.length >= 2 && performance.now() - started > o.budgetMs) break;
      samples.push(await once());
    }
  }
  let lookupNs;
  if (o.lookups > 0) {
    // Existing targets in a fixed pseudo-random order (not one hot key).
    const paths = [];
    let x = 12345;
    for (let i = 0; i < 4096; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      paths.push(tagName(x % o.size));
    }
    let hits = 0;
    for (let i = 0; i < 2000; i++) if (await impl.lookup(client, paths[i & 4095])) hits++; // warm-up
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < o.lookups; i++) if (await impl.lookup(client, paths[i & 4095])) hits++;
    lookupNs = Number(process.hrtime.bigint() - t0) / o.lookups;
    if (hits !== o.lookups + 2000) throw new Error(`${o.impl}: look-ups missed`);
  }
  reportResult({
    impl: o.impl,
    mode: o.mode,
    importMs,
    first,
    firstRssKb,
    baselineRssKb,
    samples,
    warmups,
    lookupNs,
  });
  await new Promise((r) => setTimeout(r, 0));
  process.exit(0); // keep-alive sockets would otherwise hold the process open
}

// ------------------------------------------------------------------------------------------
// Parent
// ------------------------------------------------------------------------------------------

function runsFor(n) {
  if (n <= 1000) return 15;
  if (n <= 10_000) return 7;
  return 5;
}

export async function main() {
  const log = (s) => process.stderr.write(`[client] ${s}\n`);
  const m = machine();
  mkdirSync(DIR, { recursive: true });
  for (const n of SIZES) await ensureRepository(n, log);
  const { server, port } = await startServer(SIZES);
  const scratch = join(DIR, 'scratch');
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  const results = {}; // results[n][impl] = {...}
  const fileSizes = {};
  try {
    for (const n of SIZES) {
      const md = join(repoDir(n), 'metadata');
      const tFile = readdirSync(md).find((f) => /^\d+\.targets\.json$/.test(f));
      fileSizes[n] = readFileSync(join(md, tFile)).length;
      const common = {
        size: n,
        baseUrl: `http://127.0.0.1:${port}/${n}/metadata/`,
        rootFile: join(md, '1.root.json'),
        lookupIndex: Math.floor(n / 2) + 7,
        scratch,
        budgetMs: 20_000,
      };
      results[n] = {};
      const dead = new Set();
      for (const impl of IMPLS) {
        results[n][impl.id] = { cold: [], warm: [], coldRss: [], warmRss: [], import: [] };
      }
      const child = (impl, extra) =>
        runChild(SELF, ['--worker', JSON.stringify({ ...common, impl: impl.id, ...extra })], {
          timeoutMs: (impl.peer ? PEER_TIMEOUT_S : OWN_TIMEOUT_S) * 1000,
        });
      const note = (impl, what, r) => {
        if (r.ok) return true;
        const why = r.timedOut
          ? `did not finish in ${impl.peer ? PEER_TIMEOUT_S : OWN_TIMEOUT_S} s`
          : r.error.split('\n').slice(-3).join(' ');
        log(`${impl.id} ${n} ${what}: ${why}`);
        results[n][impl.id].failed = r.timedOut ? 'dnf' : why;
        results[n][impl.id].failedRssKb = r.sampledPeakKb;
        dead.add(impl.id);
        return false;
      };
      // First runs, interleaved: cold (keeping its cache), then warm on that cache.
      for (let round = 0; round < ROUNDS; round++) {
        for (const impl of IMPLS) {
          if (dead.has(impl.id)) continue;
          const acc = results[n][impl.id];
          if (impl.peer && round > 0 && acc.cold[0]?.total > 10_000) continue; // one slow round is enough
          const warmDir = join(scratch, `warm-${impl.id}-${n}`);
          const c = await child(impl, { mode: 'cold', runs: 1, keepDir: warmDir });
          if (!note(impl, 'cold', c)) continue;
          acc.cold.push(c.result.first);
          acc.coldRss.push(c.result.firstRssKb);
          acc.import.push(c.result.importMs);
          acc.baselineRssKb = c.result.baselineRssKb;
          const w = await child(impl, { mode: 'warm', runs: 1, warmDir });
          if (!note(impl, 'warm', w)) continue;
          acc.warm.push(w.result.first);
          acc.warmRss.push(w.result.firstRssKb);
          log(
            `${n} round ${round + 1} ${impl.id}: cold ${fmtMs(c.result.first.total)}, warm ${fmtMs(w.result.first.total)}`,
          );
        }
      }
      // Steady state: many runs in one process (skipped for a peer whose first run took > 10 s).
      for (const impl of IMPLS) {
        if (dead.has(impl.id)) continue;
        const acc = results[n][impl.id];
        if (impl.peer && median(acc.cold.map((s) => s.total)) > 10_000) continue;
        const warmDir = join(scratch, `warm-${impl.id}-${n}`);
        const c = await child(impl, { mode: 'cold', runs: runsFor(n) });
        if (c.ok) acc.steadyCold = c.result.samples;
        const w = await child(impl, { mode: 'warm', runs: runsFor(n), warmDir, lookups: LOOKUPS });
        if (w.ok) {
          acc.steadyWarm = w.result.samples;
          acc.lookupNs = w.result.lookupNs;
        }
        log(
          `${n} steady ${impl.id}: cold ${fmtMs(median((acc.steadyCold ?? []).map((s) => s.total)))}, warm ${fmtMs(median((acc.steadyWarm ?? []).map((s) => s.total)))}, look-up ${acc.lookupNs?.toFixed(0)} ns`,
        );
      }
    }
  } finally {
    server.close();
    rmSync(scratch, { recursive: true, force: true });
  }
  const md = render(m, results, fileSizes);
  process.stdout.write(`\n${md}\n`);
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, withNotes(md, RESULTS));
  log(`wrote ${RESULTS}`);
}

/** Keeps a hand-written block (between `<!-- notes:begin -->` and `<!-- notes:end -->`) across runs. */
export function withNotes(md, file) {
  const begin = '<!-- notes:begin -->';
  const end = '<!-- notes:end -->';
  if (!existsSync(file)) return `${md.trim()}\n`;
  const old = readFileSync(file, 'utf8');
  const a = old.indexOf(begin);
  const b = old.indexOf(end);
  if (a < 0 || b < a) return `${md.trim()}\n`;
  return `${md.trim()}\n\n${old.slice(a, b + end.length)}\n`;
}

const med = (xs, f = (x) => x) => (xs?.length ? median(xs.map(f)) : undefined);

function render(m, results, fileSizes) {
  const out = [];
  out.push('## Client: refresh + look-up (bench/client.mjs)');
  out.push('');
  out.push(
    `Measured ${m.date} on ${describeMachine(m)} (\`nproc\` = ${m.nproc}; the machine was shared with other work).`,
  );
  out.push('');
  out.push(
    "Method: each repository (flat: all targets in top-level `targets.json`; built with tufa's `Repository`, fixed Ed25519 keys, one key per role) is served from memory by a `node:http` server on 127.0.0.1 in the parent process. One operation = `refresh()` + look-up of one existing target. **Cold**: a fresh metadata directory holding only the trusted root (fetches 2.root.json (404), timestamp, snapshot, targets, and persists them). **Warm**: a second refresh on that cache with the repository unchanged (fetches 2.root.json and timestamp; re-reads and re-verifies the cached snapshot and targets). **First run**: the first operation in a fresh Node process (JIT cold; module import excluded), median of " +
      `${ROUNDS} processes per implementation, interleaved. **Steady**: median of several operations in one process after a warm-up. **Peak RSS**: VmHWM of the first-run process (Node itself is ~45 MB). ` +
      '**Download** is the part of the operation spent between request and last byte (not measured for tuf-js). tuf-js is capped at ' +
      `${PEER_TIMEOUT_S} s per process. The lean floor: node:http GETs, length+sha256 of snapshot/targets, \`JSON.parse\`, the bench byte-buffer canonical encoder, one Ed25519 verify per role (cached \`KeyObject\`), version/expiry checks, the same crash-safe cache writes as tufa (temp file, fsync, rename), a hash look-up in the parsed \`targets\` object (JSON.parse already built a dictionary; copying it into a \`Map\` would add ~80 ms at 100k); it skips strict parsing, schema checks and rollback checks.`,
  );
  out.push('');
  const cell = (r, mode) => {
    if (!r) return '–';
    const xs = r[mode];
    if (xs?.length) return fmtMs(med(xs, (s) => s.total));
    return r.failed === 'dnf' ? `did not finish (> ${PEER_TIMEOUT_S} s)` : r.failed ? 'failed' : '–';
  };
  const rows = [];
  for (const n of Object.keys(results).map(Number)) {
    const R = results[n];
    for (const impl of IMPLS) {
      const r = R[impl.id];
      const steadyC = med(r.steadyCold, (s) => s.total);
      const steadyW = med(r.steadyWarm, (s) => s.total);
      rows.push([
        `${n.toLocaleString('en')} (${fmtBytes(fileSizes[n])})`,
        impl.label,
        cell(r, 'cold'),
        r.cold.length && impl.id !== 'tuf-js' ? fmtMs(med(r.cold, (s) => s.fetchMs)) : '–',
        cell(r, 'warm'),
        steadyC === undefined ? '–' : fmtMs(steadyC),
        steadyW === undefined ? '–' : fmtMs(steadyW),
        r.coldRss.length ? fmtMb(med(r.coldRss)) : r.failedRssKb ? `≥ ${fmtMb(r.failedRssKb)}` : '–',
        r.warmRss.length ? fmtMb(med(r.warmRss)) : '–',
        r.lookupNs === undefined
          ? '–'
          : r.lookupNs < 1000
            ? `${r.lookupNs.toFixed(0)} ns`
            : `${(r.lookupNs / 1000).toFixed(1)} µs`,
      ]);
    }
  }
  out.push(
    table(
      [
        'targets (targets.json)',
        'implementation',
        'cold, first run',
        'of which download',
        'warm, first run',
        'cold, steady',
        'warm, steady',
        'peak RSS cold',
        'peak RSS warm',
        'look-up (refreshed)',
      ],
      rows,
      ['l', 'l'],
    ),
  );
  out.push('');
  // Ratios
  const ratioRows = [];
  for (const n of Object.keys(results).map(Number)) {
    const R = results[n];
    const t = (id, mode) => med(R[id][mode], (s) => s.total);
    const s = (id, k) => med(R[id][k], (x) => x.total);
    const pj = (id, mode) =>
      R[id][mode]?.length ? t(id, mode) : R[id].failed === 'dnf' ? Infinity : undefined;
    const fmtPeer = (a, b) =>
      a === Infinity ? `> ${fmtRatio((PEER_TIMEOUT_S * 1000) / b)}` : fmtRatio(a / b);
    ratioRows.push([
      n.toLocaleString('en'),
      fmtRatio(t('tufa', 'cold') / t('floor', 'cold')),
      fmtRatio(t('tufa', 'warm') / t('floor', 'warm')),
      fmtRatio(s('tufa', 'steadyCold') / s('floor', 'steadyCold')),
      fmtRatio(s('tufa', 'steadyWarm') / s('floor', 'steadyWarm')),
      fmtRatio(med(R.tufa.coldRss) / med(R.floor.coldRss)),
      fmtPeer(pj('tuf-js', 'cold'), t('tufa', 'cold')),
      fmtPeer(pj('tuf-js', 'warm'), t('tufa', 'warm')),
    ]);
  }
  out.push('Ratios (lower is better for tufa; goal from the issue: tufa within 1.3× of the floor at 100k):');
  out.push('');
  out.push(
    table(
      [
        'targets',
        'tufa / floor cold (first run)',
        'tufa / floor warm (first run)',
        'tufa / floor cold (steady)',
        'tufa / floor warm (steady)',
        'tufa / floor peak RSS (cold)',
        'tuf-js / tufa cold',
        'tuf-js / tufa warm',
      ],
      ratioRows,
      ['l'],
    ),
  );
  out.push('');
  const imports = IMPLS.map((i) => {
    const xs = Object.values(results).flatMap((R) => R[i.id].import);
    return `${i.label} ${xs.length ? fmtMs(median(xs)) : '–'}`;
  });
  out.push(`Module import (not included above), median: ${imports.join(', ')}.`);
  out.push('');
  const big = Math.max(...Object.keys(results).map(Number));
  if (results[big]) {
    const R = results[big];
    const t = (id, mode) => med(R[id][mode], (s) => s.total);
    const goal = (r) => (r <= 1.3 ? 'meets' : 'misses');
    const rc = t('tufa', 'cold') / t('floor', 'cold');
    const rw = t('tufa', 'warm') / t('floor', 'warm');
    out.push(
      `What it means: at ${big.toLocaleString('en')} targets tufa's refresh + look-up is ${fmtRatio(rc)} the floor cold and ${fmtRatio(rw)} warm (first run in a fresh process), so it ${goal(Math.max(rc, rw))} the 1.3× goal` +
        ` (steady state: ${fmtRatio(med(R.tufa.steadyCold, (s) => s.total) / med(R.floor.steadyCold, (s) => s.total))} cold, ${fmtRatio(med(R.tufa.steadyWarm, (s) => s.total) / med(R.floor.steadyWarm, (s) => s.total))} warm). ` +
        `A look-up in a refreshed tufa Updater costs ${R.tufa.lookupNs?.toFixed(0)} ns (an async call and a Map get). ` +
        (R['tuf-js'].failed === 'dnf'
          ? `tuf-js 5 did not finish a refresh within ${PEER_TIMEOUT_S} s at ${big.toLocaleString('en')} targets.`
          : `tuf-js 5 took ${fmtMs(t('tuf-js', 'cold'))} cold.`),
    );
  }
  return out.join('\n');
}

// ------------------------------------------------------------------------------------------

const argv = process.argv.slice(2);
if (process.argv[1] && fileURLToPath(pathToFileURL(process.argv[1])) === SELF) {
  if (argv[0] === '--worker') await worker(JSON.parse(argv[1]));
  else if (argv[0] === '--build') {
    await buildRepository(Number(argv[1]));
    reportResult({ ok: true });
  } else await main();
}
