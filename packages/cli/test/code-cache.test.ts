/**
 * The published bin runs the CommonJS bundle with the V8 code cache the build made for it
 * (packages/cli/bin/code-cache.js, scripts/code-cache.mjs; docs/adr/0030-cli-code-cache.md). A
 * cache only makes a run faster: with it, without it, damaged, made by another V8, or made for
 * another bundle, the command runs and does the same. Without a cache this V8 can use, the bin
 * runs the ES module bundle (dist/tufa.mjs) instead: compiling the CommonJS one without a cache
 * is slower. Each case runs a copy of the package's bin/ and dist/ bundles in its own directory:
 * `--version`, a real verify against a served repository, which bundle ran (the file a
 * `--debug` stack trace names), and what the loader did with the cache (asked of the loader
 * itself, in the same kind of process).
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

interface Loader {
  ENGINE: Buffer;
  cacheFile: (source: Buffer, data: Buffer) => Buffer;
}

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
    'bin/package.json',
    'bin/tufa.js',
    'bin/code-cache.js',
    'dist/tufa.cjs',
    'dist/tufa.cjs.cache',
    'dist/tufa.mjs',
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

/**
 * What the copy's loader does in a `tufa --version` run, as the bin runs it: `cache` (V8
 * compiled the CommonJS bundle from the cache), `rejected` (V8 turned the cache down and
 * compiled the bundle) or `esm` (no cache this V8 can use: the bin imports the ES module bundle).
 */
async function cacheUse(dir: string, version = VERSION): Promise<'cache' | 'rejected' | 'esm'> {
  const loader = JSON.stringify(join(dir, 'bin', 'code-cache.js'));
  const bundle = JSON.stringify(join(dir, 'dist', 'tufa.cjs'));
  const script = [
    `const { runBundle } = await import(${loader});`,
    `process.argv = [process.argv[0], ${bundle}, '--version'];`,
    `const ran = runBundle(${bundle});`,
    "const use = ran === undefined ? 'esm' : ran.used ? 'cache' : 'rejected';",
    `process.on('exit', () => process.stderr.write('CACHE-USE ' + use + '\\n'));`,
  ].join('\n');
  const r = await runProcess(process.execPath, ['--input-type=module', '-e', script], { env: tufaEnv() });
  expectExit(r, 0);
  const m = /CACHE-USE (cache|rejected|esm)/.exec(r.stderr);
  if (m === null) throw new Error(`no CACHE-USE line: ${show(r)}`);
  const use = m[1] as 'cache' | 'rejected' | 'esm';
  if (use !== 'esm') expect(r.stdout.trim()).toBe(version);
  return use;
}

/**
 * `--version` and a cold verify (a new trust cache) through the copy's bin both work, and a
 * `--debug` stack trace names `bundle`: the bundle that ran.
 */
async function expectWorks(dir: string, bundle: 'tufa.cjs' | 'tufa.mjs', version = VERSION): Promise<void> {
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
  const r = await runBin(dir, ['--debug', 'verify', '--server', join(dir, 'none'), `${GUN}:1.0`], home);
  expect(r.code, show(r)).toBe(5);
  // The CommonJS bundle is compiled under a name that is the same on every machine (a script from
  // a cache keeps the name it was made under); the ES module bundle is named by its URL.
  const file =
    bundle === 'tufa.cjs' ? '@tufa/cli/dist/tufa.cjs' : pathToFileURL(join(dir, 'dist', bundle)).href;
  expect(r.stderr).toMatch(new RegExp(`\\n\\s+at .+\\(${file.replaceAll('.', '\\.')}:\\d+:\\d+\\)`));
}

/** The copy's loader module (its ENGINE line and how it writes a cache file). */
async function loaderOf(dir: string): Promise<Loader> {
  return (await import(pathToFileURL(join(dir, 'bin', 'code-cache.js')).href)) as Loader;
}

/** V8's data in a cache file: after the magic line, the engine line and the digest. */
function v8Data(file: Buffer, loader: Loader): Buffer {
  return Buffer.from(file.subarray(CACHE_MAGIC.length + loader.ENGINE.length + 32));
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
  it('the build made one for this V8, and the bin runs the CommonJS bundle with it', async () => {
    const { dir, cache } = packageCopy('intact');
    const loader = await loaderOf(dir);
    const head = readFileSync(cache)
      .subarray(0, CACHE_MAGIC.length + loader.ENGINE.length)
      .toString();
    expect(head).toBe(`${CACHE_MAGIC}${process.versions.v8} ${process.arch}\n`);
    expect(await cacheUse(dir)).toBe('cache');
    await expectWorks(dir, 'tufa.cjs');
  });

  it('the optional pkcs11js is looked up beside the installed bundle, not where the cache was made', async () => {
    // The copy has no node_modules: pkcs11js is not installed for it, whatever the checkout has.
    // (Resolved against the script's name, which a cached script takes from the build, an
    // import() would look in this checkout.) Any existing file as the module: pkcs11js loads first.
    const { dir } = packageCopy('pkcs11');
    expect(await cacheUse(dir)).toBe('cache');
    const args = ['key', 'generate', 'targets', '--pkcs11', 'pkcs11:token=t;object=o'];
    const r = await runProcess(process.execPath, [join(dir, 'bin', 'tufa.js'), ...args], {
      env: tufaEnv({
        TUFA_HOME: join(dir, 'home'),
        TUFA_PIN: '1234',
        TUFA_PKCS11_MODULE: join(dir, 'package.json'),
      }),
    });
    expect(r.code, show(r)).not.toBe(0);
    expect(r.stderr).toContain('pkcs11js is not installed');
  });

  it('the build turns the one import() of the bundle into a require, and fails on another', async () => {
    const source = readFileSync(join(CLI_DIR, 'dist', 'tufa.cjs'), 'utf8');
    expect(source).not.toMatch(/(?<![\w$.])import\(/);
    expect(source).toContain('__tufaImport(PACKAGE)');
    const entry = box.path('two-imports.js');
    writeFileSync(entry, "const a = 'pkcs11js';\nimport(a);\nimport(a);\n");
    const script = [
      `const { bundle } = await import(${JSON.stringify(pathToFileURL(join(CLI_DIR, '..', '..', 'scripts', 'bundle-cli.mjs')).href)});`,
      `await bundle(${JSON.stringify(entry)}, ${JSON.stringify(box.path('two-imports.cjs'))}, 'cjs');`,
    ].join('\n');
    const r = await runProcess(process.execPath, ['--input-type=module', '-e', script], { env: tufaEnv() });
    expect(r.code, show(r)).not.toBe(0);
    expect(r.stderr).toContain('expected 1 dynamic import() (pkcs11js), found 2');
  });

  it('the build keeps the bundle ASCII (the bin decodes it as Latin-1), and fails on anything else', async () => {
    const source = readFileSync(join(CLI_DIR, 'dist', 'tufa.cjs'));
    expect(source.every((b) => b < 0x80)).toBe(true);
    const entry = box.path('not-ascii.js');
    // The string escape writes a raw superscript one into the regular expression literal.
    writeFileSync(entry, "const a = 'pkcs11js';\nimport(a);\nexport const DEVICE = /^com[\u00b9]$/;\n");
    const script = [
      `const { bundle } = await import(${JSON.stringify(pathToFileURL(join(CLI_DIR, '..', '..', 'scripts', 'bundle-cli.mjs')).href)});`,
      `await bundle(${JSON.stringify(entry)}, ${JSON.stringify(box.path('not-ascii.cjs'))}, 'cjs');`,
    ].join('\n');
    const r = await runProcess(process.execPath, ['--input-type=module', '-e', script], { env: tufaEnv() });
    expect(r.code, show(r)).not.toBe(0);
    expect(r.stderr).toContain('expected ASCII only, found');
    // And a file that is not ASCII after all is decoded as UTF-8: the text is never wrong.
    const { sourceText } = (await import(pathToFileURL(join(CLI_DIR, 'bin', 'code-cache.js')).href)) as {
      sourceText: (b: Buffer) => string;
    };
    expect(sourceText(Buffer.from('x = "caf\u00e9 \u00b9"', 'utf8'))).toBe('x = "caf\u00e9 \u00b9"');
    expect(sourceText(Buffer.from('plain', 'utf8'))).toBe('plain');
  });

  it('without a cache the bin runs the ES module bundle', async () => {
    const { dir, cache } = packageCopy('none');
    rmSync(cache);
    expect(await cacheUse(dir)).toBe('esm');
    await expectWorks(dir, 'tufa.mjs');
  });

  it('a cache with flipped bytes (which V8 itself would accept) is not used', async () => {
    const { dir, cache } = packageCopy('corrupt');
    const file = readFileSync(cache);
    const start = file.length - v8Data(file, await loaderOf(dir)).length;
    for (const at of [start + 100, start + Math.floor((file.length - start) / 2), file.length - 10]) {
      const b = Buffer.from(file);
      b[at] = (b[at] as number) ^ 0xff;
      writeFileSync(cache, b);
      expect(await cacheUse(dir), `byte ${at} flipped`).toBe('esm');
    }
    await expectWorks(dir, 'tufa.mjs');
  });

  it('a cache made by another V8 (its engine line differs) is not used', async () => {
    const { dir, cache } = packageCopy('other-engine');
    const file = readFileSync(cache);
    const loader = await loaderOf(dir);
    const other = Buffer.from(`0.${loader.ENGINE.toString()}`);
    const data = v8Data(file, loader);
    writeFileSync(
      cache,
      Buffer.concat([
        file.subarray(0, CACHE_MAGIC.length),
        other,
        file.subarray(file.length - data.length - 32),
      ]),
    );
    expect(await cacheUse(dir)).toBe('esm');
    await expectWorks(dir, 'tufa.mjs');
  });

  it('a cache V8 itself rejects is not used, and the CommonJS bundle compiles and runs', async () => {
    const { dir, bundle, cache } = packageCopy('rejected');
    const loader = await loaderOf(dir);
    const data = v8Data(readFileSync(cache), loader);
    // V8's own header: magic number, then the hash of the V8 version that made it.
    data[4] = (data[4] as number) ^ 0xff;
    // A whole, well-formed file of ours for this bundle and V8: only V8 can turn it down.
    writeFileSync(cache, loader.cacheFile(readFileSync(bundle), data));
    expect(await cacheUse(dir)).toBe('rejected');
    await expectWorks(dir, 'tufa.cjs');
  });

  it('a cache made for another bundle of the same length is not used, and the bundle runs as it is', async () => {
    const { dir, bundle } = packageCopy('stale');
    const other = VERSION.replace(/\d/g, '9');
    expect(other.length).toBe(VERSION.length);
    for (const f of [bundle, join(dir, 'dist', 'tufa.mjs')]) {
      const source = readFileSync(f, 'utf8');
      const edited = source.replaceAll(`"${VERSION}"`, `"${other}"`);
      expect(edited).not.toBe(source);
      writeFileSync(f, edited);
    }
    expect(await cacheUse(dir, other)).toBe('esm');
    await expectWorks(dir, 'tufa.mjs', other);
  });

  it('a truncated or empty cache file is not used', async () => {
    const { dir, cache } = packageCopy('truncated');
    const file = readFileSync(cache);
    for (const cut of [0, CACHE_MAGIC.length, CACHE_MAGIC.length + 40, file.length - 1]) {
      writeFileSync(cache, file.subarray(0, cut));
      expect(await cacheUse(dir), `cut at ${cut}`).toBe('esm');
    }
    await expectWorks(dir, 'tufa.mjs');
  });
});
