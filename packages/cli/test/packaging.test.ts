/**
 * What users install: `npm pack` @tufa/core and @tufa/cli, install the two tarballs into an
 * empty project (this reaches the npm registry for their dependencies), and run `npx tufa` from
 * there: `--version`, then a real verify against a repository created and served by the
 * repository's own built binary. Catches a missing `files` entry, a dependency that is only
 * present in the workspace, a broken `bin`, or a command module left out of the tarball.
 *
 * Never skipped (it needs network access to the registry, like `npm ci`).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLI_DIR,
  digestOf,
  expectExit,
  metadataDir,
  type RunResult,
  runProcess,
  Sandbox,
  type Served,
  show,
  startServe,
} from './helpers/cli.js';

const REPO_ROOT = resolve(CLI_DIR, '..', '..');
const CORE_DIR = join(REPO_ROOT, 'packages', 'core');
const VERSION = (JSON.parse(readFileSync(join(CLI_DIR, 'package.json'), 'utf8')) as { version: string })
  .version;
const GUN = 'registry.example.com/packaging/app';
const TIMEOUT = 290_000;

function onPath(program: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const HAVE_DOCKER = onPath('docker');

/**
 * The environment for npm and the installed tufa: no TUFA_* settings, and none of the
 * npm_config_* / npm_package_* variables an outer `npm test` sets for its workspace (they would
 * point npm at the repository), except those that say how to reach the registry.
 */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const keep =
    /^npm_config_(registry|cache|userconfig|globalconfig|proxy|https_proxy|noproxy|cafile|ca|strict_ssl)$/i;
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith('TUFA_') || k.startsWith('VITEST') || k === 'NODE_OPTIONS') continue;
    if (/^npm_/i.test(k) && !keep.test(k)) continue;
    env[k] = v;
  }
  return { ...env, NO_COLOR: '1', npm_config_audit: 'false', npm_config_fund: 'false', ...extra };
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<RunResult> {
  return runProcess(cmd, args, { cwd, env });
}

interface Packed {
  name: string;
  filename: string;
  files: { path: string }[];
}

describe('packaging: npm pack, npm install, npx tufa', () => {
  const box = new Sandbox('tufa-packaging-');
  const packDir = box.path('pack');
  const project = box.path('project');
  let packed: Packed[] = [];
  let server: Served | undefined;

  beforeAll(async () => {
    for (const dir of [CLI_DIR, CORE_DIR]) {
      if (!existsSync(join(dir, 'dist'))) throw new Error(`${dir}/dist is missing: run \`npx tsc -b\` first`);
    }
    mkdirSync(packDir, { recursive: true });
    const r = await run(
      'npm',
      [
        'pack',
        '--json',
        '--pack-destination',
        packDir,
        '-w',
        'packages/core',
        '-w',
        'packages/pkcs11',
        '-w',
        'packages/oci',
        '-w',
        'packages/server',
        '-w',
        'packages/cli',
      ],
      REPO_ROOT,
      cleanEnv(),
    );
    expectExit(r, 0);
    packed = JSON.parse(r.stdout) as Packed[];
  }, TIMEOUT);

  afterAll(async () => {
    await server?.stop();
    box.cleanup();
  });

  it('packs dist, the sources its maps point to, package.json and nothing else', () => {
    expect(packed.map((p) => p.name).sort()).toEqual([
      '@tufa/cli',
      '@tufa/core',
      '@tufa/oci',
      '@tufa/pkcs11',
      '@tufa/server',
    ]);
    const files = (name: string) => packed.find((p) => p.name === name)?.files.map((f) => f.path) ?? [];
    expect(files('@tufa/core')).toEqual(
      expect.arrayContaining(['package.json', 'dist/index.js', 'dist/node/index.js']),
    );
    expect(files('@tufa/cli')).toEqual(
      expect.arrayContaining([
        'package.json',
        'bin/package.json',
        'bin/tufa.js',
        'bin/code-cache.js',
        'dist/tufa.cjs',
        'dist/tufa.cjs.cache',
        'dist/tufa.mjs',
        'dist/docker-tufa.mjs',
        'dist/bin.js',
        'dist/main.js',
        'dist/commands/verify.js',
      ]),
    );
    for (const p of packed) {
      const stray = p.files
        .map((f) => f.path)
        .filter(
          (f) =>
            !['package.json', 'README.md', 'LICENSE'].includes(f) &&
            !f.startsWith('dist/') &&
            !f.startsWith('src/') &&
            !(p.name === '@tufa/cli' && f.startsWith('bin/')),
        );
      expect(stray, `${p.name} packs files outside dist/ and src/ (and the CLI's bin/)`).toEqual([]);
      // Every published package says what it is and under which licence.
      expect(
        p.files.map((f) => f.path),
        `${p.name} packs its README and LICENSE`,
      ).toEqual(expect.arrayContaining(['README.md', 'LICENSE']));
      expect(p.files.map((f) => f.path)).not.toContain('dist/.tsbuildinfo');
      expect(existsSync(join(packDir, p.filename)), p.filename).toBe(true);
    }
  });

  it(
    'installs from the tarballs; npx tufa --version and a real verify work there',
    async () => {
      mkdirSync(project, { recursive: true });
      writeFileSync(
        join(project, 'package.json'),
        `${JSON.stringify({ name: 'tufa-packaging-check', version: '1.0.0', private: true }, null, 2)}\n`,
      );
      const tarballs = ['@tufa/core', '@tufa/pkcs11', '@tufa/oci', '@tufa/server', '@tufa/cli'].map(
        (name) => {
          const p = packed.find((x) => x.name === name);
          if (!p) throw new Error(`${name} was not packed`);
          return join(packDir, p.filename);
        },
      );
      const env = cleanEnv();
      expectExit(await run('npm', ['install', '--prefix', project, ...tarballs], project, env), 0);

      // Installed from the tarballs (real directories in the project), not linked to the workspace.
      for (const name of ['@tufa/cli', '@tufa/core']) {
        const real = realpathSync(join(project, 'node_modules', ...name.split('/')));
        expect(real.startsWith(realpathSync(project) + sep), `${name} resolves to ${real}`).toBe(true);
      }

      const npxTufa = (args: string[], extra: Record<string, string> = {}) =>
        run('npx', ['--no', '--', 'tufa', ...args], project, cleanEnv(extra));

      // The bins run the one-file bundles (scripts/bundle-cli.mjs), not the modules tsc wrote:
      // with those gone from the installed copy, every step below still works.
      rmSync(join(project, 'node_modules', '@tufa', 'cli', 'dist', 'main.js'));
      rmSync(join(project, 'node_modules', '@tufa', 'cli', 'dist', 'commands'), { recursive: true });
      // `tufa` runs the CommonJS bundle with its V8 code cache (bin/code-cache.js), not the ES
      // module bundle, which stays for the standalone build and as the fallback.
      const installed = join(project, 'node_modules', '@tufa', 'cli');
      rmSync(join(installed, 'dist', 'tufa.mjs'));
      const loader = JSON.stringify(join(installed, 'bin', 'code-cache.js'));
      const bundle = JSON.stringify(join(installed, 'dist', 'tufa.cjs'));
      const cached = await run(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const { runBundle } = await import(${loader}); process.argv = [process.argv[0], ${bundle}, '--version'];` +
            ` const r = runBundle(${bundle}); process.on('exit', () => process.stderr.write('CACHE-USED ' + r.used));`,
        ],
        project,
        cleanEnv(),
      );
      expectExit(cached, 0);
      expect(cached.stderr, 'the installed bundle compiles from the packed cache').toContain(
        'CACHE-USED true',
      );

      const version = await npxTufa(['--version']);
      expectExit(version, 0);
      expect(version.stdout.trim()).toBe(VERSION);

      // Publisher side, with the repository's own build: a repository with one signed tag, served.
      const digest = digestOf('packaging manifest');
      expectExit(
        await box.tufa(['init', GUN, '--publish-root', './published', '--root-key-out', './usb']),
        0,
      );
      expectExit(await box.tufa(['sign', `${GUN}:1.0`, '--digest', digest, '--size', '1234']), 0);
      server = await startServe(box, './published');
      const root = join(metadataDir(box.path('published'), GUN), '1.root.json');

      // Client side, with the installed package.
      const client = { TUFA_HOME: join(project, 'tufa-home') };
      const ok = await npxTufa(
        ['--json', 'verify', '--server', server.url, '--root', root, `${GUN}:1.0`, '--digest', digest],
        client,
      );
      expectExit(ok, 0);
      expect(JSON.parse(ok.stdout), show(ok)).toMatchObject({
        tufa: 1,
        gun: GUN,
        tag: '1.0',
        verified: true,
        digest,
        size: 1234,
        role: 'targets',
      });

      const wrong = await npxTufa(
        ['verify', '--server', server.url, `${GUN}:1.0`, '--digest', digestOf('another manifest')],
        client,
      );
      expectExit(wrong, 4);
      expect(wrong.stderr).toContain('is not the signed one');
    },
    TIMEOUT,
  );

  it(
    'installs docker-tufa, the Docker CLI plugin, which the documented one-liner links into Docker',
    async () => {
      // After the install test above: the same project.
      const bin = join(project, 'node_modules', '.bin');
      const env = cleanEnv({
        PATH: `${bin}:${process.env['PATH'] ?? ''}`,
        DOCKER_CONFIG: box.path('docker'),
      });
      const meta = await run('docker-tufa', ['docker-cli-plugin-metadata'], project, env);
      expectExit(meta, 0);
      expect(JSON.parse(meta.stdout)).toMatchObject({
        SchemaVersion: '0.1.0',
        Vendor: 'tufa',
        Version: VERSION,
      });
      // The install one-liner of docs/cli.md ("Docker CLI plugin"), as written there.
      const oneLiner = readFileSync(join(REPO_ROOT, 'docs', 'cli.md'), 'utf8')
        .split('\n')
        .find((l) => l.includes('ln -sf "$(command -v docker-tufa)"'));
      expect(oneLiner, 'docs/cli.md shows how to link docker-tufa into Docker').toBeDefined();
      // docker-plugin-docker.test.ts requires docker under CI=true; here only where it is installed.
      if (!HAVE_DOCKER) return;
      expectExit(await run('bash', ['-euo', 'pipefail', '-c', oneLiner as string], project, env), 0);
      const version = await run('docker', ['tufa', '--version'], project, env);
      expectExit(version, 0);
      expect(version.stdout.trim()).toBe(VERSION);
    },
    TIMEOUT,
  );
});

describe('in this repository: npm exec --no -- tufa', () => {
  // npm links a bin at `npm ci`, before anything is built, and skips one whose target is missing:
  // the bin must be a committed file, or `npx tufa` in a fresh clone goes to the npm registry.
  it('the bin entry is a file git tracks, not a build output', async () => {
    const bin = (JSON.parse(readFileSync(join(CLI_DIR, 'package.json'), 'utf8')) as { bin: { tufa: string } })
      .bin.tufa;
    const tracked = await run('git', ['ls-files', '--error-unmatch', bin], CLI_DIR, cleanEnv());
    expect(tracked.code, show(tracked)).toBe(0);
  });

  it('runs the local CLI with no registry look-up', async () => {
    const r = await run('npm', ['exec', '--no', '--', 'tufa', '--version'], REPO_ROOT, cleanEnv());
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toBe(`${VERSION}\n`);
  });
});
