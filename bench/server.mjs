#!/usr/bin/env node
/**
 * The trust server (`tufa server`, embedded directory store) against notary-server 0.7 (Debian,
 * in-memory storage, its keys held by a notary-signer with in-memory storage), both on 127.0.0.1
 * over plain HTTP, in the same run, cases interleaved (tufa, notary, tufa, notary, …), load from
 * autocannon in this process.
 *
 * Read path (what a client fetches on refresh), for GUNs of several sizes (BENCH_SIZES targets),
 * every request with `Accept-Encoding: gzip` as python-tuf, tuf-js and browsers send it (tufa
 * answers files of 1 KiB or more gzip-compressed, `timestamp.json` never; notary-server's Go
 * net/http compresses nothing), and one row without it, the largest GUN's versioned targets:
 *   - `timestamp.json`, every request a full answer;
 *   - `timestamp.json` with `If-None-Match` (tufa answers 304; notary-server sends no ETag);
 *   - the versioned snapshot (tufa `N.snapshot.json`, notary `snapshot.<sha256>.json`);
 *   - the versioned targets (tufa `N.targets.json`, notary `targets.<sha256>.json`);
 *   - a client's refresh: timestamp, snapshot, targets in turn on each connection.
 *
 * Write path (a publish of a change: a new targets version adding one tag, signed by the
 * publisher ahead of time; the server verifies it and signs snapshot and timestamp), for GUNs
 * of BENCH_WRITE_SIZES targets: one GUN (one connection: versions of one GUN must arrive in
 * order) and across GUNs (BENCH_CONNECTIONS connections, each its own GUN). Bodies:
 *   - tufa: targets versions made with `Repository` in a scratch repository that has the same
 *     root and targets keys (only the snapshot and timestamp keys differ, and targets.json does
 *     not name them), the JSON upload body of docs/server.md;
 *   - notary: the multipart bodies `notary publish` sent, captured by a recording proxy in front
 *     of a second notary-server (the "capture" server) on which each GUN is built with the
 *     notary CLI (`init -p`, `key rotate GUN snapshot -r`: snapshot signed by the server, as
 *     docker's content trust sets it up, then one `publish` per version); replayed on the
 *     measured server, whose signer is the same notary-signer (keys are found by key id): the
 *     set-up uploads (first publish, root rotation) without timing, then the measured ones.
 * Every measured answer must be 2xx (the bench stops otherwise) and the last version of each
 * GUN is read back (tufa: the GUN's snapshot; notary: `notary lookup` of the last tag).
 *
 * Then the same on PostgreSQL (BENCH_SERVER_PARTS chooses the halves: `embedded`, `postgres`;
 * both by default): one PostgreSQL cluster started by the bench (bench/lib/postgres.mjs), one
 * database for `tufa server --store postgres://…`, one for notary-server (its tables made by the
 * bench: `-bootstrap` makes none for SQL); reads (timestamp, versioned targets, refresh) and the
 * same uploads with the same kinds of bodies, and uploads across GUNs split over two `tufa
 * server` processes on the one database.
 *
 *   npm run build && node bench/run.mjs server
 *   BENCH_WRITE_SIZES= node bench/server.mjs     (the reads only)
 *
 * Writes bench/results/server.md and the `bench:server` section of docs/performance.md, and
 * bench/results/server-postgres.md and the `bench:server-postgres` section.
 *
 * Not a test: it asserts nothing about speed.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { createRequire } from 'node:module';
import { createServer as createNetServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import { digestOf, NOTARY_ENV, sizeOf, tagOf, writeChangelist } from './cli-notary.mjs';
import { OUT_DIR, ROOT_DIR } from './lib/fixtures.mjs';
import {
  describeMachine,
  fmtRatio,
  gitRevision,
  machine,
  median,
  table,
  writeDocSection,
} from './lib/harness.mjs';
import { startPostgres } from './lib/postgres.mjs';

const DIR = join(OUT_DIR, 'server');
const RESULTS = join(ROOT_DIR, 'bench', 'results', 'server.md');
const BIN = join(ROOT_DIR, 'packages', 'cli', 'dist', 'bin.js');
const TLS = join(ROOT_DIR, 'test-vectors', 'tls');
const CORE = pathToFileURL(join(ROOT_DIR, 'packages', 'core', 'dist', 'index.js')).href;
const CORE_NODE = pathToFileURL(join(ROOT_DIR, 'packages', 'core', 'dist', 'index-node.js')).href;
const SERVER_LIB = pathToFileURL(join(ROOT_DIR, 'packages', 'server', 'dist', 'index.js')).href;

const SIZES = (process.env.BENCH_SIZES ?? '10,1000,10000').split(',').map(Number);
// BENCH_WRITE_SIZES= (empty) measures reads only.
const WRITE_SIZES = (process.env.BENCH_WRITE_SIZES ?? '10,1000').split(',').filter(Boolean).map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8); // per read measurement
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3); // interleaved rounds per case
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const WRITE_CONNECTIONS = Number(process.env.BENCH_WRITE_CONNECTIONS ?? 8);
const ONE_GUN_VERSIONS = Number(process.env.BENCH_ONE_GUN_VERSIONS ?? 60);
const PER_GUN_VERSIONS = Number(process.env.BENCH_PER_GUN_VERSIONS ?? 20);
const KEY_PASSPHRASE = 'bench online-key passphrase (not a secret)';
/** What python-tuf (urllib3), tuf-js (fetch) and browsers send with every read. */
const ACCEPT_GZIP = { 'accept-encoding': 'gzip' };
const IDENTITY_TARGETS = 'versioned targets, no Accept-Encoding';
// Which halves run: `embedded` (tufa's directory store against notary's memory store) and
// `postgres` (both servers on one PostgreSQL cluster); each writes its own section.
const PARTS = (process.env.BENCH_SERVER_PARTS ?? 'embedded,postgres').split(',');
for (const p of PARTS)
  if (p !== 'embedded' && p !== 'postgres')
    throw new Error(
      `BENCH_SERVER_PARTS: expected embedded and/or postgres, comma-separated; found ${JSON.stringify(p)}`,
    );

const log = (s) => process.stderr.write(`[server] ${s}\n`);

// ------------------------------------------------------------------------------------------
// processes
// ------------------------------------------------------------------------------------------

const children = [];
const tmpStores = [];
const TMPFS = '/dev/shm';
/** dpkg-query's format for a package's version. */
const DPKG_VERSION = ['$', '{Version}'].join('');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createNetServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function daemon(cmd, args, logFile, env = {}) {
  const child = spawn(cmd, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  children.push(child);
  const parts = [];
  child.stdout.on('data', (d) => parts.push(d));
  child.stderr.on('data', (d) => parts.push(d));
  child.on('exit', () => writeFileSync(logFile, Buffer.concat(parts)));
  child.output = () => Buffer.concat(parts).toString();
  return child;
}

/** Runs a command to completion; rejects with its output when it fails. */
function run(cmd, args, { env = {}, timeoutMs = 600_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} failed (exit ${code}):\n${out}`));
    });
  });
}

/** One HTTP request; resolves with status, headers and body. */
function call(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(parts) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function waitFor(url, child, what) {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited:\n${child.output()}`);
    try {
      const r = await call(url);
      if (r.status === 200) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not answer at ${url}:\n${child.output()}`);
}

/**
 * notary-signer (gRPC over TLS with the test certificates, keys in memory) and two
 * notary-servers using it: `measured` and `capture`. Plain HTTP, in-memory metadata storage
 * (the measured server's is `storage`, with `env` for its NOTARY_SERVER_* settings), Ed25519
 * online keys (as tufa's).
 */
async function startNotary({ dirName = 'notary', storage = { backend: 'memory' }, env = {} } = {}) {
  const dir = join(DIR, dirName);
  mkdirSync(dir, { recursive: true });
  const grpc = await freePort();
  const signerConfig = join(dir, 'signer.json');
  writeFileSync(
    signerConfig,
    JSON.stringify({
      server: {
        grpc_addr: `127.0.0.1:${grpc}`,
        tls_cert_file: join(TLS, 'server.pem'),
        tls_key_file: join(TLS, 'server-key.pem'),
      },
      logging: { level: 'error' },
      storage: { backend: 'memory' },
    }),
  );
  const signer = daemon(
    'notary-signer',
    ['-config', signerConfig, '-logf', 'logfmt'],
    join(dir, 'signer.log'),
  );
  const servers = {};
  for (const name of ['measured', 'capture']) {
    const port = await freePort();
    const config = join(dir, `server-${name}.json`);
    writeFileSync(
      config,
      JSON.stringify({
        server: { http_addr: `127.0.0.1:${port}` },
        trust_service: {
          type: 'remote',
          hostname: '127.0.0.1',
          port: String(grpc),
          tls_ca_file: join(TLS, 'ca.pem'),
          key_algorithm: 'ed25519',
        },
        logging: { level: 'error' },
        // `storage` for the measured server; the capture server only records bodies.
        storage: name === 'measured' ? storage : { backend: 'memory' },
      }),
    );
    // The signer may still be starting: the server retries its connection.
    const child = daemon(
      'notary-server',
      ['-config', config, '-logf', 'logfmt'],
      join(dir, `server-${name}.log`),
      name === 'measured' ? env : {},
    );
    const url = `http://127.0.0.1:${port}`;
    await waitFor(`${url}/_notary_server/health`, child, `notary-server (${name})`);
    servers[name] = { url, child };
  }
  if (signer.exitCode !== null) throw new Error(`notary-signer exited:\n${signer.output()}`);
  return servers;
}

/**
 * `tufa server --store DIR --listen 127.0.0.1:0 --json` → its URL. A directory store starts
 * empty; a `postgres://` store is used as it is (its password in `env`, never in argv).
 */
async function startTufa(store, name, env = {}) {
  if (!store.startsWith('postgres://')) rmSync(store, { recursive: true, force: true });
  const child = daemon(
    process.execPath,
    [BIN, 'server', '--listen', '127.0.0.1:0', '--store', store, '--json'],
    join(DIR, `${name}.log`),
    { TUFA_SERVER_KEY_PASSPHRASE: KEY_PASSPHRASE, ...env },
  );
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`tufa server printed no URL:\n${child.output()}`)),
      20_000,
    );
    child.stdout.on('data', () => {
      const m = /"url"\s*:\s*"([^"]+)"/.exec(child.output());
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`tufa server exited (${code}):\n${child.output()}`)));
  });
  await waitFor(`${url}_tufa/ready`, child, 'tufa server');
  return { url, child };
}

// ------------------------------------------------------------------------------------------
// repositories
// ------------------------------------------------------------------------------------------

let core;
let coreNode;
let serverLib;

async function tufaKeys() {
  const pair = async () => {
    const p = await coreNode.generateKeyPair('ed25519');
    return { key: p.key, signer: coreNode.PrivateKeySigner.fromPem(p.privateKeyPem) };
  };
  return { root: await pair(), targets: await pair(), snapshot: await pair(), timestamp: await pair() };
}

const target = (i) => new core.TargetFile(tagOf(i), sizeOf(i), new Map([['sha256', digestOf(i)]]));
const targetRange = (from, to) => Array.from({ length: to - from }, (_, k) => target(from + k));

/**
 * A GUN on the tufa server with `n` targets, and (with `versions`) the upload bodies of the
 * next `versions` targets versions, each adding one tag: made in a scratch repository with the
 * same root and targets keys.
 */
async function tufaGun(url, gun, n, versions = 0) {
  const keys = await tufaKeys();
  const client = new serverLib.ServerClient({ url });
  await client.create(gun, {
    keys: { root: [keys.root.key], targets: [keys.targets.key] },
    signers: [keys.root.signer, keys.targets.signer],
  });
  const scratch = new core.MemoryRepositoryStorage();
  const repo = await core.Repository.create(scratch, {
    keys: {
      root: [keys.root.key],
      targets: [keys.targets.key],
      snapshot: [keys.snapshot.key],
      timestamp: [keys.timestamp.key],
    },
    signers: Object.values(keys).map((k) => k.signer),
  });
  await repo.publish(); // targets v1, as on the server
  await repo.addTargets(targetRange(0, n));
  await repo.publish();
  const body = async (v) => {
    const bytes = await scratch.read(`metadata/${v}.targets.json`);
    return JSON.stringify({ roles: [{ role: 'targets', metadata: Buffer.from(bytes).toString('base64') }] });
  };
  // targets v2 (the n tags) is set-up, uploaded now.
  const up = await call(`${url}${gun}/metadata`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: await body(2),
  });
  if (up.status !== 200) throw new Error(`tufa upload of ${gun} v2: ${up.status} ${up.body}`);
  const bodies = [];
  for (let k = 0; k < versions; k++) {
    await repo.addTargets([target(n + k)]);
    await repo.publish();
    bodies.push(await body(3 + k));
  }
  return { gun, bodies, lastTag: tagOf(n + versions - 1) };
}

function notaryConfig(name, serverUrl) {
  const dir = join(DIR, 'notary-clients', name);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ trust_dir: join(dir, 'trust'), remote_server: { url: serverUrl } }));
  return { file, trustDir: join(dir, 'trust') };
}

const notary = (cfg, args) => run('notary', ['-c', cfg.file, ...args], { env: NOTARY_ENV });

/** A notary GUN with the snapshot key on the server and `n` targets (one publish for them all). */
async function notaryGun(cfg, gun, n) {
  await notary(cfg, ['init', gun, '-p']);
  await notary(cfg, ['key', 'rotate', gun, 'snapshot', '-r']);
  writeChangelist(cfg, gun, 0, n);
  await notary(cfg, ['publish', gun]);
}

/**
 * A proxy in front of the capture server recording the metadata uploads
 * (`POST /v2/<gun>/_trust/tuf/`): path, content type and body.
 */
async function captureProxy(upstream) {
  const records = [];
  const u = new URL(upstream);
  const proxy = createServer((req, res) => {
    const parts = [];
    req.on('data', (d) => parts.push(d));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      if (req.method === 'POST' && /^\/v2\/.+\/_trust\/tuf\/$/.test(req.url)) {
        records.push({ path: req.url, contentType: req.headers['content-type'], body });
      }
      const headers = { ...req.headers, host: u.host };
      const up = request(
        { hostname: u.hostname, port: u.port, path: req.url, method: req.method, headers },
        (r) => {
          res.writeHead(r.statusCode, r.headers);
          r.pipe(res);
        },
      );
      up.on('error', (e) => {
        res.writeHead(502);
        res.end(String(e));
      });
      up.end(body);
    });
  });
  await new Promise((ok) => proxy.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${proxy.address().port}`, records, close: () => proxy.close() };
}

/**
 * Notary upload bodies for `gun` on the capture server: the set-up uploads (first publish, the
 * snapshot-key rotation, the `n` tags) and then `versions` publishes of one tag each.
 */
async function notaryBodies(proxy, gun, n, versions) {
  const cfg = notaryConfig(`capture-${gun.replaceAll('/', '_')}`, proxy.url);
  const start = proxy.records.length;
  await notaryGun(cfg, gun, n);
  const setup = proxy.records.length;
  for (let k = 0; k < versions; k++) {
    writeChangelist(cfg, gun, n + k, n + k + 1);
    await notary(cfg, ['publish', gun]);
  }
  const recs = proxy.records.slice(start);
  if (recs.length !== setup - start + versions)
    throw new Error(`captured ${recs.length - (setup - start)} uploads of ${gun}, expected ${versions}`);
  return {
    gun,
    setup: recs.slice(0, setup - start),
    bodies: recs.slice(setup - start),
    lastTag: tagOf(n + versions - 1),
  };
}

async function replay(baseUrl, rec) {
  const r = await call(`${baseUrl}${rec.path}`, {
    method: 'POST',
    headers: { 'Content-Type': rec.contentType },
    body: rec.body,
  });
  if (r.status !== 200) throw new Error(`notary replay ${rec.path}: ${r.status} ${r.body}`);
}

// ------------------------------------------------------------------------------------------
// load
// ------------------------------------------------------------------------------------------

function cannon(opts) {
  return new Promise((resolve, reject) => {
    autocannon({ timeout: 120, ...opts }, (err, r) => (err ? reject(err) : resolve(r)));
  });
}

/**
 * Runs `fn` with autocannon keeping no answer bodies. autocannon 9 appends every answer's body to
 * a string (a UTF-8 decode per chunk, in the one process that also generates the load); for gzip
 * bytes that decode costs more than the server spends on the answer (a 1,000-target targets.json
 * gzip: 400 answers/s through autocannon, 3,950/s through Node's http client on the same server).
 * Nothing reads the bodies of the reads.
 */
async function withoutBodies(fn) {
  const queue = createRequire(import.meta.url)('autocannon/lib/pipelinedRequestsQueue.js').prototype;
  const keepBody = queue.addBody;
  queue.addBody = () => {};
  try {
    return await fn();
  } finally {
    queue.addBody = keepBody;
  }
}

function summary(r) {
  const bad = r.non2xx + r.errors + r.timeouts;
  return {
    rps: r.requests.average,
    total: r.requests.total,
    p50: r.latency.p50,
    p99: r.latency.p99,
    bad,
  };
}

/** `requests` are per connection (arrays), or one array for all. */
async function load(url, { requests, connections, seconds, amount, allow304 = false }) {
  let i = 0;
  const perClient = Array.isArray(requests[0]) ? requests : undefined;
  const r = await cannon({
    url,
    connections,
    ...(amount ? { amount } : { duration: seconds }),
    ...(perClient
      ? { requests: perClient[0], setupClient: (client) => client.setRequests(perClient[i++]) }
      : { requests }),
  });
  const s = summary(r);
  // With a fixed number of requests (uploads), autocannon ends the run on its next one-second
  // tick, so requests over wall time would be rounded to whole seconds. Each connection sends
  // its next request when the answer arrives: the rate is connections / mean latency.
  if (amount) s.rps = (connections * 1000) / r.latency.mean;
  if (allow304) s.bad -= r.statusCodeStats?.['304']?.count ?? 0;
  if (s.bad > 0)
    throw new Error(
      `${url}: ${s.bad} answers were not 2xx (${JSON.stringify(r.statusCodeStats)}, errors ${r.errors}, timeouts ${r.timeouts})`,
    );
  return s;
}

/** The versioned snapshot and targets a client of `gun` would fetch now. */
async function readPaths(kind, base, gun) {
  if (kind === 'tufa') {
    const prefix = `/${gun}/metadata/`;
    const ts = JSON.parse((await call(`${base}${gun}/metadata/timestamp.json`)).body);
    const sv = ts.signed.meta['snapshot.json'].version;
    const sn = JSON.parse((await call(`${base}${gun}/metadata/${sv}.snapshot.json`)).body);
    const tv = sn.signed.meta['targets.json'].version;
    const etag = (await call(`${base}${gun}/metadata/timestamp.json`)).headers.etag;
    return {
      timestamp: `${prefix}timestamp.json`,
      snapshot: `${prefix}${sv}.snapshot.json`,
      targets: `${prefix}${tv}.targets.json`,
      etag,
    };
  }
  const prefix = `/v2/${gun}/_trust/tuf/`;
  const hex = (b64) => Buffer.from(b64, 'base64').toString('hex');
  const ts = JSON.parse((await call(`${base}${prefix}timestamp.json`)).body);
  const sh = hex(ts.signed.meta.snapshot.hashes.sha256);
  const sn = JSON.parse((await call(`${base}${prefix}snapshot.${sh}.json`)).body);
  const th = hex(sn.signed.meta.targets.hashes.sha256);
  return {
    timestamp: `${prefix}timestamp.json`,
    snapshot: `${prefix}snapshot.${sh}.json`,
    targets: `${prefix}targets.${th}.json`,
  };
}

// ------------------------------------------------------------------------------------------

export async function main() {
  const m = machine();
  // The code the servers run is the code at the start.
  const revision = gitRevision();
  const loadBefore = (await import('node:os')).loadavg()[0];
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  core = await import(CORE);
  coreNode = await import(CORE_NODE);
  serverLib = await import(SERVER_LIB);
  if (!PARTS.includes('embedded')) return postgresPart();
  const res = { reads: [], writes: [], bytes: {} };
  let proxy;
  try {
    const nservers = await startNotary();
    const tufa = await startTufa(join(DIR, 'tufa-store'), 'tufa-server');
    // The same server with its store on tmpfs, where fsync costs nothing: the storage class of
    // notary-server's memory store, for the write path.
    const tufaTmpfs = existsSync(TMPFS)
      ? await startTufa(join(TMPFS, `tufa-bench-${process.pid}`), 'tufa-server-tmpfs')
      : undefined;
    if (tufaTmpfs) tmpStores.push(join(TMPFS, `tufa-bench-${process.pid}`));
    const servers = { tufa: tufa.url, notary: nservers.measured.url, 'tufa-tmpfs': tufaTmpfs?.url };
    log(
      `tufa server at ${tufa.url} (tmpfs: ${tufaTmpfs?.url ?? 'none'}); notary-server at ${servers.notary} (capture at ${nservers.capture.url})`,
    );
    res.notaryVersion = (
      await run('dpkg-query', ['-W', '-f', DPKG_VERSION, 'notary']).catch(() => '0.7')
    ).trim();

    // --- read path --------------------------------------------------------------------------
    const ncfg = notaryConfig('reads', servers.notary);
    const paths = {};
    for (const n of SIZES) {
      const gun = `bench.example.com/read-${n}`;
      await tufaGun(tufa.url, gun, n);
      await notaryGun(ncfg, gun, n);
      paths[n] = {
        tufa: await readPaths('tufa', tufa.url, gun),
        notary: await readPaths('notary', servers.notary, gun),
      };
      // Bytes of the answer as sent (node's http does not decompress): with and without gzip.
      const size = async (kind, p, headers = {}) =>
        (await call(`${kind === 'tufa' ? tufa.url.replace(/\/$/, '') : servers.notary}${p}`, { headers }))
          .body.length;
      res.bytes[n] = {};
      for (const k of ['tufa', 'notary']) {
        res.bytes[n][k] = {
          targets: await size(k, paths[n][k].targets),
          targetsGzip: await size(k, paths[n][k].targets, ACCEPT_GZIP),
          timestamp: await size(k, paths[n][k].timestamp),
        };
      }
      log(`read GUNs with ${n} targets ready`);
    }
    const origin = (u) => new URL(u).origin;
    // Every read asks for gzip, as real clients do; one row does not (see the header).
    const get = (path, headers = {}) => ({ method: 'GET', path, headers: { ...ACCEPT_GZIP, ...headers } });
    const readCases = (n) => [
      { name: 'timestamp.json', req: (k) => [get(paths[n][k].timestamp)] },
      {
        name: 'timestamp.json, If-None-Match',
        only: 'tufa',
        req: (k) => [get(paths[n][k].timestamp, { 'if-none-match': paths[n][k].etag })],
        allow304: true,
      },
      { name: 'versioned snapshot', req: (k) => [get(paths[n][k].snapshot)] },
      { name: 'versioned targets', req: (k) => [get(paths[n][k].targets)] },
      ...(n === Math.max(...SIZES)
        ? [
            {
              name: IDENTITY_TARGETS,
              req: (k) => [{ method: 'GET', path: paths[n][k].targets }],
            },
          ]
        : []),
      {
        name: 'refresh (timestamp, snapshot, targets)',
        req: (k) => ['timestamp', 'snapshot', 'targets'].map((f) => get(paths[n][k][f])),
      },
    ];
    await withoutBodies(async () => {
      // Warm-up: JIT, connections, page cache.
      for (const k of ['tufa', 'notary'])
        await load(origin(servers[k]), {
          requests: readCases(SIZES[0])[0].req(k),
          connections: CONNECTIONS,
          seconds: 2,
        });
      for (const n of SIZES) {
        for (const c of readCases(n)) {
          const kinds = c.only ? [c.only] : ['tufa', 'notary'];
          const runs = { tufa: [], notary: [] };
          for (let round = 0; round < ROUNDS; round++) {
            for (const k of round % 2 ? [...kinds].reverse() : kinds) {
              runs[k].push(
                await load(origin(servers[k]), {
                  requests: c.req(k),
                  connections: CONNECTIONS,
                  seconds: SECONDS,
                  allow304: c.allow304,
                }),
              );
            }
          }
          res.reads.push({ n, name: c.name, runs });
          log(
            `read ${n} ${c.name}: ${kinds.map((k) => `${k} ${median(runs[k].map((r) => r.rps)).toFixed(0)}/s p99 ${median(runs[k].map((r) => r.p99))} ms`).join(', ')}`,
          );
        }
      }
    });

    // --- write path -------------------------------------------------------------------------
    proxy = await captureProxy(nservers.capture.url);
    for (const n of WRITE_SIZES) {
      const shapes = [
        { name: 'one GUN', guns: 1, versions: ONE_GUN_VERSIONS, connections: 1 },
        {
          name: `${WRITE_CONNECTIONS} GUNs`,
          guns: WRITE_CONNECTIONS,
          versions: PER_GUN_VERSIONS,
          connections: WRITE_CONNECTIONS,
        },
      ];
      for (const shape of shapes) {
        // Bodies for ROUNDS measurements of each server, each on fresh GUNs.
        const kinds = ['tufa', 'notary', ...(servers['tufa-tmpfs'] ? ['tufa-tmpfs'] : [])];
        const prepared = Object.fromEntries(kinds.map((k) => [k, []]));
        for (let round = 0; round < ROUNDS; round++) {
          const per = Object.fromEntries(kinds.map((k) => [k, []]));
          for (let g = 0; g < shape.guns; g++) {
            const gun = `bench.example.com/write-${n}-${shape.guns}-r${round}-g${g}`;
            per.tufa.push(await tufaGun(servers.tufa, gun, n, shape.versions));
            if (per['tufa-tmpfs'])
              per['tufa-tmpfs'].push(await tufaGun(servers['tufa-tmpfs'], gun, n, shape.versions));
            const nb = await notaryBodies(proxy, gun, n, shape.versions);
            for (const rec of nb.setup) await replay(servers.notary, rec);
            per.notary.push(nb);
          }
          for (const k of kinds) prepared[k].push(per[k]);
        }
        log(`write ${n} ${shape.name}: bodies ready`);
        const runs = Object.fromEntries(kinds.map((k) => [k, []]));
        for (let round = 0; round < ROUNDS; round++) {
          for (const k of round % 2 ? [...kinds].reverse() : kinds) {
            const guns = prepared[k][round];
            const requests = guns.map((g) =>
              g.bodies.map((b) =>
                k !== 'notary'
                  ? {
                      method: 'POST',
                      path: `/${g.gun}/metadata`,
                      headers: { 'content-type': 'application/json' },
                      body: b,
                    }
                  : {
                      method: 'POST',
                      path: b.path,
                      headers: { 'content-type': b.contentType },
                      body: b.body,
                    },
              ),
            );
            runs[k].push(
              await load(origin(servers[k]), {
                requests,
                connections: shape.connections,
                amount: shape.guns * shape.versions,
              }),
            );
          }
        }
        // Read back: the last version of every GUN is what the servers now serve.
        for (const k of kinds.filter((x) => x !== 'notary')) {
          for (const g of prepared[k].flat()) {
            const ts = JSON.parse((await call(`${servers[k]}${g.gun}/metadata/timestamp.json`)).body);
            const sv = ts.signed.meta['snapshot.json'].version;
            const sn = JSON.parse((await call(`${servers[k]}${g.gun}/metadata/${sv}.snapshot.json`)).body);
            if (sn.signed.meta['targets.json'].version !== 2 + shape.versions)
              throw new Error(`${k} ${g.gun}: targets version ${sn.signed.meta['targets.json'].version}`);
          }
        }
        const lookupCfg = notaryConfig(`lookup-${n}-${shape.guns}`, servers.notary);
        for (const g of [prepared.notary[0][0], prepared.notary.at(-1).at(-1)]) {
          const out = await notary(lookupCfg, ['lookup', g.gun, g.lastTag]);
          if (!out.includes(digestOf(Number(g.lastTag.slice(1)))))
            throw new Error(`notary lookup ${g.gun} ${g.lastTag}: ${out}`);
        }
        res.writes.push({
          n,
          name: shape.name,
          connections: shape.connections,
          uploads: shape.guns * shape.versions,
          runs,
        });
        log(
          `write ${n} ${shape.name}: ${kinds.map((k) => `${k} ${median(runs[k].map((r) => r.rps)).toFixed(1)}/s p99 ${median(runs[k].map((r) => r.p99))} ms`).join(', ')}`,
        );
      }
    }
  } finally {
    proxy?.close();
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    for (const d of tmpStores) rmSync(d, { recursive: true, force: true });
  }
  res.loadBefore = loadBefore;
  res.revision = revision;
  res.loadAfter = (await import('node:os')).loadavg()[0];
  const md = render(m, res);
  process.stdout.write(`\n${md}\n`);
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, `${md}\n`);
  writeDocSection('server', md);
  log(`wrote ${RESULTS} and its section of docs/performance.md`);
  if (PARTS.includes('postgres')) await postgresPart();
}

function fmtRps(x) {
  return x >= 100 ? x.toFixed(0) : x.toFixed(1);
}

function render(m, res) {
  const med = (runs, f) => (runs.length ? median(runs.map((r) => r[f])) : undefined);
  const out = [];
  out.push('## Trust server: tufa server vs notary-server (bench/server.mjs)');
  out.push('');
  out.push(
    `Measured ${m.date} on ${describeMachine(m)} (\`nproc\` = ${m.nproc}; the machine was shared with other work: load average ${res.loadBefore.toFixed(2)} at the start, ${res.loadAfter.toFixed(2)} at the end), tufa at ${res.revision}, with \`node bench/run.mjs server\`. ` +
      `tufa: \`tufa server --store DIR\` (embedded directory store, every file written with fsync; one Node process); "tufa (tmpfs)" is the same with DIR on /dev/shm, where fsync costs nothing, the nearest to notary's memory store. notary: notary-server ${res.notaryVersion} (Debian) with in-memory storage and a notary-signer (in-memory key storage, gRPC over TLS on loopback) holding its keys, as notary-server is deployed; Ed25519 online keys on both. Both plain HTTP on 127.0.0.1; autocannon 9 in the bench process is the load generator (it shares the 2 CPUs with the server under test).`,
  );
  out.push('');
  out.push(
    `Reads: ${CONNECTIONS} connections, ${SECONDS} s per measurement, ${ROUNDS} rounds interleaved (tufa, notary, notary, tufa, …); medians of the rounds; autocannon does not keep the answers' bodies (see bench/server.mjs). Every read request carries \`Accept-Encoding: gzip\`, as python-tuf (urllib3), tuf-js (fetch) and browsers send it: tufa answers files of 1 KiB or more gzip-compressed (compressed once per committed version; \`timestamp.json\` never), notary-server compresses nothing; the row "${IDENTITY_TARGETS}" asks for the uncompressed file, so both are shown. Targets are tags with a sha256 and a size; tufa's targets.json is the core's layout, notary's is Go's compact JSON. Writes: each upload is a new targets version adding one tag to a repository of N targets (the whole targets file is sent, as TUF requires); the server verifies it and signs snapshot and timestamp. "One GUN": one connection, ${ONE_GUN_VERSIONS} versions in order; "${WRITE_CONNECTIONS} GUNs": ${WRITE_CONNECTIONS} connections, each sending ${PER_GUN_VERSIONS} versions of its own GUN. Every round uses fresh GUNs; every answer was 2xx, and the last version of each GUN was read back afterwards. How the bodies were made is in the header of bench/server.mjs.`,
  );
  out.push('');
  const rows = [];
  for (const r of res.reads) {
    const t = r.runs.tufa;
    const nn = r.runs.notary;
    const b = res.bytes[r.n];
    rows.push([
      Number(r.n).toLocaleString('en'),
      r.name,
      fmtRps(med(t, 'rps')),
      nn.length ? fmtRps(med(nn, 'rps')) : '–',
      nn.length ? fmtRatio(med(t, 'rps') / med(nn, 'rps')) : '–',
      `${med(t, 'p50')} / ${med(t, 'p99')}`,
      nn.length ? `${med(nn, 'p50')} / ${med(nn, 'p99')}` : '–',
      nn.length ? fmtRatio(med(nn, 'p99') / Math.max(med(t, 'p99'), 1)) : '–',
      r.name === 'versioned targets'
        ? `${(b.tufa.targetsGzip / 1024).toFixed(0)} / ${(b.notary.targetsGzip / 1024).toFixed(0)} KB`
        : r.name === IDENTITY_TARGETS
          ? `${(b.tufa.targets / 1024).toFixed(0)} / ${(b.notary.targets / 1024).toFixed(0)} KB`
          : '',
    ]);
  }
  out.push('### Reads');
  out.push('');
  out.push(
    table(
      [
        'targets',
        'request',
        'tufa req/s',
        'notary req/s',
        'tufa / notary',
        'tufa p50 / p99 ms',
        'notary p50 / p99 ms',
        'notary p99 / tufa p99',
        'bytes sent tufa / notary',
      ],
      rows,
      ['r', 'l'],
    ),
  );
  out.push('');
  const wrows = [];
  for (const w of res.writes) {
    const t = w.runs.tufa;
    const tm = w.runs['tufa-tmpfs'] ?? [];
    const nn = w.runs.notary;
    const lat = (runs) => (runs.length ? `${med(runs, 'p50')} / ${med(runs, 'p99')}` : '–');
    wrows.push([
      Number(w.n).toLocaleString('en'),
      w.name,
      String(w.connections),
      fmtRps(med(t, 'rps')),
      tm.length ? fmtRps(med(tm, 'rps')) : '–',
      fmtRps(med(nn, 'rps')),
      fmtRatio(med(t, 'rps') / med(nn, 'rps')),
      tm.length ? fmtRatio(med(tm, 'rps') / med(nn, 'rps')) : '–',
      lat(t),
      lat(tm),
      lat(nn),
    ]);
  }
  out.push('### Uploads (a publish of a change)');
  out.push('');
  out.push(
    table(
      [
        'targets',
        'GUNs',
        'connections',
        'tufa uploads/s',
        'tufa (tmpfs) uploads/s',
        'notary uploads/s',
        'tufa / notary',
        'tufa (tmpfs) / notary',
        'tufa p50 / p99 ms',
        'tufa (tmpfs) p50 / p99 ms',
        'notary p50 / p99 ms',
      ],
      wrows,
      ['r', 'l'],
    ),
  );
  out.push('');
  out.push(
    'Latencies are autocannon\'s (whole milliseconds). A "tufa / notary" ratio above 1 means tufa served more requests per second. Uploads per second are connections × 1000 / mean latency (each connection sends its next upload when the answer to the last arrives; the duration autocannon reports is rounded to whole seconds, too coarse for 60 uploads); across GUNs the servers work on several uploads at once (notary-server on both CPUs, tufa in one process, its signing and hashing on the event loop).',
  );
  return out.join('\n');
}

// ------------------------------------------------------------------------------------------
// PostgreSQL: both servers on one database cluster
// ------------------------------------------------------------------------------------------

const PG_RESULTS = join(ROOT_DIR, 'bench', 'results', 'server-postgres.md');

/**
 * notary-server's tables, written for this bench from what notary-server 0.7's SQL store reads
 * and writes (its gorm models: `tuf_files` with gorm's id and time columns, and `changefeed`),
 * with the unique key and indexes notary's own migrations give them, so its look-ups (the newest
 * version of a role, a file by checksum, the change feed by GUN) are indexed as in a deployment.
 * `notary-server -bootstrap` does not make them: with a SQL backend it stops with "store does not
 * support bootstrapping" (only its RethinkDB store bootstraps), and Debian's package ships no
 * migrations.
 */
const NOTARY_SCHEMA = `
CREATE TABLE tuf_files (
  id serial PRIMARY KEY,
  created_at timestamp, updated_at timestamp, deleted_at timestamp,
  gun varchar(255) NOT NULL,
  role varchar(255) NOT NULL,
  version integer NOT NULL,
  sha256 char(64),
  data bytea NOT NULL,
  UNIQUE (gun, role, version)
);
CREATE INDEX ON tuf_files (sha256);
CREATE TABLE changefeed (
  id serial PRIMARY KEY,
  created_at timestamp DEFAULT CURRENT_TIMESTAMP,
  gun varchar(255) NOT NULL,
  version integer NOT NULL,
  sha256 char(64),
  category varchar(20) NOT NULL DEFAULT 'update'
);
CREATE INDEX ON changefeed (gun);
`;

/**
 * The PostgreSQL half: one cluster started here (bench/lib/postgres.mjs) with two databases, one
 * for `tufa server --store postgres://…` (two processes on it: the second is the replica of the
 * two-process upload rows and reads every GUN back) and one for notary-server (the same
 * notary-signer set-up as the embedded half, its metadata in PostgreSQL). Cases interleaved as in
 * the embedded half; writes its own section of docs/performance.md.
 */
async function postgresPart() {
  const m = machine();
  const revision = gitRevision();
  const { loadavg } = await import('node:os');
  const res = { reads: [], writes: [], loadBefore: loadavg()[0], revision };
  const first = children.length;
  let pg;
  let proxy;
  try {
    pg = await startPostgres(['tufa', 'notary']);
    pg.psql('notary', NOTARY_SCHEMA);
    res.pgVersion = pg.version;
    const nservers = await startNotary({
      dirName: 'notary-pg',
      storage: { backend: 'postgres', db_url: 'from NOTARY_SERVER_STORAGE_DB_URL' },
      // notary-server reads its configuration's keys from NOTARY_SERVER_* variables too: the
      // password stays out of the configuration file and argv.
      env: {
        NOTARY_SERVER_STORAGE_DB_URL: `postgres://${pg.user}:${pg.password}@127.0.0.1:${pg.port}/notary?sslmode=disable`,
      },
    });
    const env = { PGPASSWORD: pg.password };
    const tufa = await startTufa(pg.url('tufa'), 'tufa-server-pg', env);
    const replica = await startTufa(pg.url('tufa'), 'tufa-server-pg-replica', env);
    const servers = { tufa: tufa.url, notary: nservers.measured.url, replica: replica.url };
    log(
      `PostgreSQL ${pg.version} on port ${pg.port}; tufa server at ${tufa.url} and ${replica.url}; notary-server at ${servers.notary}`,
    );
    res.notaryVersion = (
      await run('dpkg-query', ['-W', '-f', DPKG_VERSION, 'notary']).catch(() => '0.7')
    ).trim();
    await postgresReads(servers, res);
    // The replica has served nothing yet: warm both processes' upload path (JIT, pool) alike.
    for (const url of [servers.tufa, servers.replica]) await warmUploads(url);
    proxy = await captureProxy(nservers.capture.url);
    await postgresWrites(servers, proxy, res);
  } finally {
    proxy?.close();
    await stopChildren(children.slice(first));
    pg?.stop();
  }
  res.loadAfter = loadavg()[0];
  const md = renderPostgres(m, res);
  process.stdout.write(`\n${md}\n`);
  mkdirSync(dirname(PG_RESULTS), { recursive: true });
  writeFileSync(PG_RESULTS, `${md}\n`);
  writeDocSection('server-postgres', md);
  log(`wrote ${PG_RESULTS} and its section of docs/performance.md`);
}

/** SIGTERM, then the exit of each (SIGKILL after 10 s), so the database can stop cleanly. */
async function stopChildren(list) {
  await Promise.all(
    list.map(
      (c) =>
        new Promise((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
          c.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          c.kill('SIGTERM');
        }),
    ),
  );
}

/** Reads on PostgreSQL: `timestamp.json`, the versioned targets and a refresh, for every size. */
async function postgresReads(servers, res) {
  const ncfg = notaryConfig('pg-reads', servers.notary);
  const paths = {};
  for (const n of SIZES) {
    const gun = `bench.example.com/pg-read-${n}`;
    await tufaGun(servers.tufa, gun, n);
    await notaryGun(ncfg, gun, n);
    paths[n] = {
      tufa: await readPaths('tufa', servers.tufa, gun),
      notary: await readPaths('notary', servers.notary, gun),
    };
    log(`PostgreSQL: read GUNs with ${n} targets ready`);
  }
  // As in the embedded half: every read asks for gzip, as real clients do; one row without.
  const get = (path, headers = ACCEPT_GZIP) => ({ method: 'GET', path, headers });
  const cases = (n) => [
    { name: 'timestamp.json', req: (k) => [get(paths[n][k].timestamp)] },
    { name: 'versioned targets', req: (k) => [get(paths[n][k].targets)] },
    { name: IDENTITY_TARGETS, req: (k) => [get(paths[n][k].targets, {})] },
    {
      name: 'refresh (timestamp, snapshot, targets)',
      req: (k) => ['timestamp', 'snapshot', 'targets'].map((f) => get(paths[n][k][f])),
    },
  ];
  // The reads keep no answer bodies, as in the embedded half (withoutBodies).
  await withoutBodies(() => postgresReadRounds(servers, res, cases));
}

async function postgresReadRounds(servers, res, cases) {
  const origin = (u) => new URL(u).origin;
  for (const k of ['tufa', 'notary'])
    await load(origin(servers[k]), {
      requests: cases(SIZES[0])[0].req(k),
      connections: CONNECTIONS,
      seconds: 2,
    });
  for (const n of SIZES) {
    for (const c of cases(n)) {
      const runs = { tufa: [], notary: [] };
      for (let round = 0; round < ROUNDS; round++) {
        for (const k of round % 2 ? ['notary', 'tufa'] : ['tufa', 'notary']) {
          runs[k].push(
            await load(origin(servers[k]), {
              requests: c.req(k),
              connections: CONNECTIONS,
              seconds: SECONDS,
            }),
          );
        }
      }
      res.reads.push({ n, name: c.name, runs });
      log(
        `PostgreSQL read ${n} ${c.name}: ${['tufa', 'notary'].map((k) => `${k} ${median(runs[k].map((r) => r.rps)).toFixed(0)}/s p99 ${median(runs[k].map((r) => r.p99))} ms`).join(', ')}`,
      );
    }
  }
}

/** 20 untimed uploads of a GUN of 10 targets through `url`. */
async function warmUploads(url) {
  const g = await tufaGun(url, `bench.example.com/pg-warm-${new URL(url).port}`, 10, 20);
  for (const req of uploadRequests('tufa', [g])[0]) {
    const r = await call(`${new URL(url).origin}${req.path}`, req);
    if (r.status !== 200) throw new Error(`warm-up upload to ${url}: ${r.status} ${r.body}`);
  }
}

/** autocannon requests, one array per connection (one GUN each), for prepared upload bodies. */
function uploadRequests(kind, guns) {
  return guns.map((g) =>
    g.bodies.map((b) =>
      kind === 'notary'
        ? { method: 'POST', path: b.path, headers: { 'content-type': b.contentType }, body: b.body }
        : {
            method: 'POST',
            path: `/${g.gun}/metadata`,
            headers: { 'content-type': 'application/json' },
            body: b,
          },
    ),
  );
}

/** The targets version the snapshot that `base` serves for `gun` names. */
async function servedTargetsVersion(base, gun) {
  const ts = JSON.parse((await call(`${base}${gun}/metadata/timestamp.json`)).body);
  const sv = ts.signed.meta['snapshot.json'].version;
  const sn = JSON.parse((await call(`${base}${gun}/metadata/${sv}.snapshot.json`)).body);
  return sn.signed.meta['targets.json'].version;
}

/**
 * Uploads on PostgreSQL, the embedded half's shapes and bodies: tufa (one process), notary, and
 * for the shapes with several GUNs "tufa, 2 processes": half the GUNs' connections to one
 * `tufa server`, half to the other, both on the same database, at the same time.
 */
async function postgresWrites(servers, proxy, res) {
  const origin = (u) => new URL(u).origin;
  for (const n of WRITE_SIZES) {
    const shapes = [
      { name: 'one GUN', guns: 1, versions: ONE_GUN_VERSIONS, connections: 1 },
      {
        name: `${WRITE_CONNECTIONS} GUNs`,
        guns: WRITE_CONNECTIONS,
        versions: PER_GUN_VERSIONS,
        connections: WRITE_CONNECTIONS,
      },
    ];
    for (const shape of shapes) {
      const kinds = ['tufa', 'notary', ...(shape.guns > 1 ? ['tufa-2'] : [])];
      const prepared = Object.fromEntries(kinds.map((k) => [k, []]));
      for (let round = 0; round < ROUNDS; round++) {
        const per = Object.fromEntries(kinds.map((k) => [k, []]));
        for (let g = 0; g < shape.guns; g++) {
          const gun = `bench.example.com/pg-write-${n}-${shape.guns}-r${round}-g${g}`;
          per.tufa.push(await tufaGun(servers.tufa, gun, n, shape.versions));
          // Each GUN is created through the process that will take its uploads: that process
          // made its online keys and holds them unlocked, as a replica does once it has served
          // a GUN (the first upload of a GUN on a replica unlocks its two key files: scrypt).
          const via = g < Math.ceil(shape.guns / 2) ? servers.tufa : servers.replica;
          if (per['tufa-2']) per['tufa-2'].push(await tufaGun(via, `${gun}-x2`, n, shape.versions));
          const nb = await notaryBodies(proxy, gun, n, shape.versions);
          for (const rec of nb.setup) await replay(servers.notary, rec);
          per.notary.push(nb);
        }
        for (const k of kinds) prepared[k].push(per[k]);
      }
      log(`PostgreSQL write ${n} ${shape.name}: bodies ready`);
      const runs = Object.fromEntries(kinds.map((k) => [k, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const k of round % 2 ? [...kinds].reverse() : kinds) {
          const guns = prepared[k][round];
          if (k === 'tufa-2') {
            const half = Math.ceil(guns.length / 2);
            const parts = [
              [servers.tufa, guns.slice(0, half)],
              [servers.replica, guns.slice(half)],
            ];
            const rs = await Promise.all(
              parts.map(([url, gs]) =>
                load(origin(url), {
                  requests: uploadRequests(k, gs),
                  connections: gs.length,
                  amount: gs.length * shape.versions,
                }),
              ),
            );
            // Both processes' rates add up; latencies are the slower process's.
            runs[k].push({
              rps: rs[0].rps + rs[1].rps,
              p50: Math.max(rs[0].p50, rs[1].p50),
              p99: Math.max(rs[0].p99, rs[1].p99),
            });
          } else {
            runs[k].push(
              await load(origin(servers[k]), {
                requests: uploadRequests(k, guns),
                connections: shape.connections,
                amount: shape.guns * shape.versions,
              }),
            );
          }
        }
      }
      // Read back from both tufa processes: each serves every GUN's last version, whichever
      // process took the upload.
      for (const k of kinds.filter((x) => x !== 'notary')) {
        for (const g of prepared[k].flat()) {
          for (const base of [servers.tufa, servers.replica]) {
            const v = await servedTargetsVersion(base, g.gun);
            if (v !== 2 + shape.versions) throw new Error(`${k} ${g.gun} at ${base}: targets version ${v}`);
          }
        }
      }
      const lookupCfg = notaryConfig(`pg-lookup-${n}-${shape.guns}`, servers.notary);
      for (const g of [prepared.notary[0][0], prepared.notary.at(-1).at(-1)]) {
        const out = await notary(lookupCfg, ['lookup', g.gun, g.lastTag]);
        if (!out.includes(digestOf(Number(g.lastTag.slice(1)))))
          throw new Error(`notary lookup ${g.gun} ${g.lastTag}: ${out}`);
      }
      res.writes.push({ n, name: shape.name, connections: shape.connections, runs });
      log(
        `PostgreSQL write ${n} ${shape.name}: ${kinds.map((k) => `${k} ${median(runs[k].map((r) => r.rps)).toFixed(1)}/s p99 ${median(runs[k].map((r) => r.p99))} ms`).join(', ')}`,
      );
    }
  }
}

function renderPostgres(m, res) {
  const med = (runs, f) => (runs?.length ? median(runs.map((r) => r[f])) : undefined);
  const lat = (runs) => (runs?.length ? `${med(runs, 'p50')} / ${med(runs, 'p99')}` : '–');
  const out = [];
  out.push('## Trust server on PostgreSQL: tufa server vs notary-server (bench/server.mjs)');
  out.push('');
  out.push(
    `Measured ${m.date} on ${describeMachine(m)} (\`nproc\` = ${m.nproc}; the machine was shared with other work: load average ${res.loadBefore.toFixed(2)} at the start, ${res.loadAfter.toFixed(2)} at the end), tufa at ${res.revision}, with \`BENCH_SERVER_PARTS=postgres node bench/run.mjs server\`. ` +
      `One PostgreSQL ${res.pgVersion} cluster, started by the bench on loopback with its default, durable settings (fsync and synchronous_commit on), two databases in it. tufa: \`tufa server --store postgres://…\` (its migrations applied at start; the password in PGPASSWORD); "tufa, 2 processes" is two \`tufa server\` processes on the same database, half the GUNs' connections to each. notary: notary-server ${res.notaryVersion} (Debian) with \`"storage": {"backend": "postgres"}\` (its tables made by the bench: \`-bootstrap\` does not make SQL tables) and the embedded half's notary-signer set-up (in-memory key storage). The same bodies, method and checks as the embedded half (reads ask for gzip, one row without); every round uses fresh GUNs, every answer was 2xx, every tufa GUN's last version was read back from both processes.`,
  );
  out.push('');
  const rows = res.reads.map((r) => {
    const t = r.runs.tufa;
    const nn = r.runs.notary;
    return [
      Number(r.n).toLocaleString('en'),
      r.name,
      fmtRps(med(t, 'rps')),
      fmtRps(med(nn, 'rps')),
      fmtRatio(med(t, 'rps') / med(nn, 'rps')),
      lat(t),
      lat(nn),
    ];
  });
  out.push('### Reads on PostgreSQL');
  out.push('');
  out.push(
    table(
      [
        'targets',
        'request',
        'tufa req/s',
        'notary req/s',
        'tufa / notary',
        'tufa p50 / p99 ms',
        'notary p50 / p99 ms',
      ],
      rows,
      ['r', 'l'],
    ),
  );
  out.push('');
  const wrows = res.writes.map((w) => {
    const t = w.runs.tufa;
    const t2 = w.runs['tufa-2'];
    const nn = w.runs.notary;
    return [
      Number(w.n).toLocaleString('en'),
      w.name,
      String(w.connections),
      fmtRps(med(t, 'rps')),
      t2 ? fmtRps(med(t2, 'rps')) : '–',
      fmtRps(med(nn, 'rps')),
      fmtRatio(med(t, 'rps') / med(nn, 'rps')),
      t2 ? fmtRatio(med(t2, 'rps') / med(nn, 'rps')) : '–',
      lat(t),
      lat(t2),
      lat(nn),
    ];
  });
  out.push('### Uploads on PostgreSQL (a publish of a change)');
  out.push('');
  out.push(
    table(
      [
        'targets',
        'GUNs',
        'connections',
        'tufa uploads/s',
        'tufa, 2 processes, uploads/s',
        'notary uploads/s',
        'tufa / notary',
        'tufa, 2 processes / notary',
        'tufa p50 / p99 ms',
        'tufa, 2 processes p50 / p99 ms',
        'notary p50 / p99 ms',
      ],
      wrows,
      ['r', 'l'],
    ),
  );
  out.push('');
  out.push(
    `Reads: ${CONNECTIONS} connections, ${SECONDS} s per measurement; uploads: "one GUN" one connection, ${ONE_GUN_VERSIONS} versions, "${WRITE_CONNECTIONS} GUNs" ${WRITE_CONNECTIONS} connections, ${PER_GUN_VERSIONS} versions each; ${ROUNDS} rounds interleaved, medians. Uploads per second as in the embedded half (connections × 1000 / mean latency; for 2 processes the sum of both, latencies the slower one's).`,
  );
  return out.join('\n');
}

if (process.argv[1] && fileURLToPath(pathToFileURL(process.argv[1])) === fileURLToPath(import.meta.url)) {
  await main();
}
