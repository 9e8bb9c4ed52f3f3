/**
 * The published bin runs the CommonJS bundle with the V8 code cache the build made for it
 * (packages/cli/bin/code-cache.js, scripts/code-cache.mjs; docs/adr/0030-cli-code-cache.md). A
 * cache only makes a run faster: with it, without it, damaged, made by another V8, or made for
 * another bundle, the command runs and does the same. Each case runs a copy of the package's bin/
 * and dist/tufa.cjs in its own directory: `--version`, a real verify against a served repository,
 * and whether V8 used the cache (asked of the loader itself, in the same kind of process).
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BIN,
  CLI_DIR,
  digestOf,
  expectExit,
  publisher,
  type RunResult,
  runProcess,
  Sandbox,
  type Served,
  show,
  startServe,
  tufaEnv,
} from './helpers/cli.js';

const GUN = 'registry.example.com/cache/app';
const VERSION = (JSON.parse(readFileSync(join(CLI_DIR, 'package.json'), 'utf8')) as { version: string })
  .version;
const CACHE_MAGIC = 'tufa-v8-code-cache-1\n';

const box = new Sandbox('tufa-code-cache-');
const repo = publisher(box, GUN);
const digest = digestOf('code cache manifest');
let server: Served | undefined;

/** A copy of the package as npm installs it (bin/, dist/tufa.cjs and its cache, package.json). */
function packageCopy(name: string): { dir: string; bundle: string; cache: string } {
  const dir = box.path(name);
  for (const sub of ['bin', 'dist']) mkdirSync(join(dir, sub), { recursive: true });
  for (const f of [
    'package.json',
    'bin/tufa.js',
    'bin/code-cache.js',
    'dist/tufa.cjs',
    'dist/tufa.cjs.cache',
  ]) {
    copyFileSync(join(CLI_DIR, f), join(dir, f));
  }
  return { dir, bundle: join(dir, 'dist', 'tufa.cjs'), cache: join(dir, 'dist', 'tufa.cjs.cache') };
}

function runBin(dir: string, args: string[], home: string): Promise<RunResult> {
  return runProcess(process.execPath, [join(dir, 'bin', 'tufa.js'), ...args], {
    cwd: box.dir,
    env: tufaEnv({ TUFA_HOME: home }),
  });
}

/** Whether V8 compiled the copy's bundle from its cache, in a `tufa --version` run as the bin does it. */
async function cacheUsed(dir: string, version = VERSION): Promise<boolean> {
  const loader = JSON.stringify(join(dir, 'bin', 'code-cache.js'));
  const bundle = JSON.stringify(join(dir, 'dist', 'tufa.cjs'));
  const script = [
    `const { runBundle } = await import(${loader});`,
    `process.argv = [process.argv[0], ${bundle}, '--version'];`,
    `const ran = runBundle(${bundle});`,
    `process.on('exit', () => process.stderr.write('CACHE-USED ' + ran.used + '\\n'));`,
  ].join('\n');
  const r = await runProcess(process.execPath, ['--input-type=module', '-e', script], { env: tufaEnv() });
  expectExit(r, 0);
  expect(r.stdout.trim()).toBe(version);
  const m = /CACHE-USED (true|false)/.exec(r.stderr);
  if (m === null) throw new Error(`no CACHE-USED line: ${show(r)}`);
  return m[1] === 'true';
}

/** `--version` and a cold verify (a new trust cache) through the copy's bin both work. */
async function expectWorks(dir: string, version = VERSION): Promise<void> {
  const v = expectExit(await runBin(dir, ['--version'], join(dir, 'home-version')), 0);
  expect(v.stdout.trim()).toBe(version);
  if (server === undefined) throw new Error('no server');
  const home = join(dir, 'home');
  rmSync(home, { recursive: true, force: true });
  const args = [
    '--json',
    'verify',
    '--server',
    server.url,
    '--root',
    repo.root,
    `${GUN}:1.0`,
    '--digest',
    digest,
  ];
  const ok = expectExit(await runBin(dir, args, home), 0);
  expect(JSON.parse(ok.stdout), show(ok)).toMatchObject({ verified: true, digest, tag: '1.0' });
  const wrong = ['verify', '--server', server.url, `${GUN}:1.0`, '--digest', digestOf('another')];
  expect((await runBin(dir, wrong, home)).code).toBe(4);
}

/** V8's data in a cache file and the header before it. */
function split(file: Buffer): { header: Buffer; data: Buffer } {
  const at = CACHE_MAGIC.length + 32;
  return { header: file.subarray(0, at), data: Buffer.from(file.subarray(at)) };
}

beforeAll(async () => {
  expect(BIN.endsWith(join('bin', 'tufa.js')), 'the CLI tests run the published bin').toBe(true);
  await repo.init();
  expectExit(await box.tufa(['sign', `${GUN}:1.0`, '--digest', digest, '--size', '1234']), 0);
  server = await startServe(box, repo.pub);
});

afterAll(async () => {
  await server?.stop();
});

describe('the V8 code cache of the CLI bundle', () => {
  it('the build made one, starting with its header, and the bin uses it', async () => {
    const { dir, cache } = packageCopy('intact');
    expect(readFileSync(cache).subarray(0, CACHE_MAGIC.length).toString()).toBe(CACHE_MAGIC);
    expect(await cacheUsed(dir)).toBe(true);
    await expectWorks(dir);
    // --debug stack traces name the bundle's file, as they would without the cache.
    const r = await runBin(
      dir,
      ['--debug', 'verify', '--server', box.path('none'), `${GUN}:1.0`],
      box.path('h'),
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/\n\s+at .+dist\/tufa\.cjs:\d+:\d+/);
  });

  it('without a cache the bin compiles the bundle and runs it', async () => {
    const { dir, cache } = packageCopy('none');
    rmSync(cache);
    expect(await cacheUsed(dir)).toBe(false);
    await expectWorks(dir);
  });

  it('a cache with flipped bytes (which V8 itself would accept) is not used', async () => {
    const { dir, cache } = packageCopy('corrupt');
    const file = readFileSync(cache);
    const { data } = split(file);
    for (const at of [100, Math.floor(data.length / 2), data.length - 10]) {
      const b = Buffer.from(file);
      b[CACHE_MAGIC.length + 32 + at] = (b[CACHE_MAGIC.length + 32 + at] as number) ^ 0xff;
      writeFileSync(cache, b);
      expect(await cacheUsed(dir), `byte ${at} flipped`).toBe(false);
    }
    await expectWorks(dir);
  });

  it('a cache V8 rejects (made by another V8: its version in the header differs) is not used', async () => {
    const { dir, bundle, cache } = packageCopy('rejected');
    const { cacheFile } = (await import(pathToFileURL(join(dir, 'bin', 'code-cache.js')).href)) as {
      cacheFile: (source: Buffer, data: Buffer) => Buffer;
    };
    const { data } = split(readFileSync(cache));
    // V8's own header: magic number, then the hash of the V8 version that made it.
    data[4] = (data[4] as number) ^ 0xff;
    // A whole, well-formed file of ours for this bundle: only V8 can turn it down.
    writeFileSync(cache, cacheFile(readFileSync(bundle), data));
    expect(await cacheUsed(dir)).toBe(false);
    await expectWorks(dir);
  });

  it('a cache made for another bundle of the same length is not used, and the bundle runs as it is', async () => {
    const { dir, bundle } = packageCopy('stale');
    const source = readFileSync(bundle, 'utf8');
    const other = VERSION.replace(/\d/g, '9');
    expect(other.length).toBe(VERSION.length);
    const edited = source.replaceAll(`"${VERSION}"`, `"${other}"`);
    expect(edited).not.toBe(source);
    writeFileSync(bundle, edited);
    expect(await cacheUsed(dir, other)).toBe(false);
    await expectWorks(dir, other);
  });

  it('a truncated or empty cache file is not used', async () => {
    const { dir, cache } = packageCopy('truncated');
    const file = readFileSync(cache);
    for (const cut of [0, CACHE_MAGIC.length, CACHE_MAGIC.length + 32, file.length - 1]) {
      writeFileSync(cache, file.subarray(0, cut));
      expect(await cacheUsed(dir), `cut at ${cut}`).toBe(false);
    }
    await expectWorks(dir);
  });
});
