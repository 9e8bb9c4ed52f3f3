#!/usr/bin/env node
/**
 * Makes the V8 code cache of the CLI's CommonJS bundle, `packages/cli/dist/tufa.cjs.cache`,
 * which bin/tufa.js compiles the bundle with (packages/cli/bin/code-cache.js;
 * docs/adr/0030-cli-code-cache.md). Part of `npm run build` (scripts/bundle-cli.mjs runs it
 * after writing the bundle).
 *
 * The cache holds what V8 compiled by the time it is made, and V8 compiles a function when it is
 * first called: a cache made right after compiling would hold the top level only. So it is made
 * after running what CI jobs run: a `tufa verify` of a one-tag repository served on loopback by
 * `tufa serve`, cold (a new trust cache, --root), then warm (the same cache again). Each run is
 * this script in `--run` mode, which runs the bundle in its own process exactly as bin/tufa.js
 * does, starting from the cache so far, and writes the cache when the command has finished.
 * The repository (keys with a low scrypt cost: signing is not what is cached) and the server are
 * child processes of the plain bundle, so their code is not in the cache.
 *
 * The cache is only as good as the Node.js that made it: V8 rejects it in any other version
 * (and the bin then compiles as usual).
 *
 *   node scripts/code-cache.mjs [BUNDLE]           # default packages/cli/dist/tufa.cjs
 *   node scripts/code-cache.mjs --run BUNDLE -- ARGS...
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheFile, runBundle } from '../packages/cli/bin/code-cache.js';

const SELF = fileURLToPath(import.meta.url);
const ROOT = resolve(dirname(SELF), '..');
export const CJS_BUNDLE = join(ROOT, 'packages', 'cli', 'dist', 'tufa.cjs');

/** `--run`: runs `bundle ARGS` here, then writes the cache of everything it compiled. */
function runAndCache(bundle, args) {
  process.argv = [process.argv[0], bundle, ...args];
  // The first run has no cache yet; the next starts from the one before it.
  const run = runBundle(bundle, { withoutCache: true });
  if (run === undefined) throw new Error(`${bundle} does not exist`);
  process.on('exit', (code) => {
    if (code !== 0) return;
    const out = `${bundle}.cache`;
    const tmp = `${out}.${process.pid}.tmp`;
    writeFileSync(tmp, cacheFile(run.source, run.script.createCachedData()));
    renameSync(tmp, out);
  });
}

/** `tufa serve DIR --port 0` of the plain bundle → its URL and process. */
function serve(bundle, dir) {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [bundle, 'serve', dir, '--port', '0'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const url = /(http:\/\/\S+?)\/?(\s|$)/.exec(out)?.[1];
      if (url !== undefined) done({ url, child });
    });
    child.on('exit', (code) => fail(new Error(`tufa serve exited (${code}) before listening`)));
  });
}

/** Makes `bundle.cache` from a cold and a warm `tufa verify` (see the top of this file). */
export async function buildCodeCache(bundle = CJS_BUNDLE) {
  rmSync(`${bundle}.cache`, { force: true });
  const dir = mkdtempSync(join(tmpdir(), 'tufa-code-cache-'));
  const base = { PATH: process.env.PATH ?? '', HOME: dir };
  // stderr kept for the error when a step fails (init's warning about the offline root key is
  // not worth showing on every build).
  const quiet = { stdio: ['ignore', 'ignore', 'pipe'] };
  let server;
  try {
    const publisher = {
      ...base,
      TUFA_HOME: join(dir, 'publisher'),
      TUFA_PASSPHRASE: 'cache',
      TUFA_SCRYPT_N: '1024',
    };
    const gun = 'cache.example/app';
    const pub = join(dir, 'pub');
    const plain = (args) => execFileSync(process.execPath, [bundle, ...args], { ...quiet, env: publisher });
    plain(['init', gun, '--publish-root', pub, '--root-key-out', join(dir, 'offline')]);
    const digest = 'a'.repeat(64);
    writeFileSync(join(dir, 'tags.txt'), `v1 sha256:${digest} 1024\n`);
    plain(['sign', gun, '--bulk', join(dir, 'tags.txt')]);
    server = await serve(bundle, pub);
    const client = { ...base, TUFA_HOME: join(dir, 'client') };
    const verify = ['verify', '--server', server.url, `${gun}:v1`, '--digest', `sha256:${digest}`];
    const root = join(pub, ...gun.split('/'), 'metadata', '1.root.json');
    for (const args of [[...verify, '--root', root], verify]) {
      execFileSync(process.execPath, [SELF, '--run', bundle, '--', ...args], { ...quiet, env: client });
    }
  } finally {
    server?.child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
  return `${bundle}.cache`;
}

if (process.argv[1] && resolve(process.argv[1]) === SELF) {
  const args = process.argv.slice(2);
  if (args[0] === '--run') {
    if (args[1] === undefined || args[2] !== '--') throw new Error('usage: --run BUNDLE -- ARGS...');
    runAndCache(resolve(args[1]), args.slice(3));
  } else {
    await buildCodeCache(args[0] === undefined ? CJS_BUNDLE : resolve(args[0]));
  }
}
