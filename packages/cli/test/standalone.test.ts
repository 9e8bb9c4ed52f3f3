/**
 * The standalone `tufa` executable (scripts/build-standalone.mjs: the CLI bundle compiled with
 * Bun, no Node.js needed): built once here, then
 *   - run with an empty environment and no Node.js on PATH, as in a CI image without Node;
 *   - put through a representative part of the CLI's end-to-end suite, the same test files that
 *     run against the Node.js bundle, with TUFA_TEST_BIN naming the executable (helpers/bundle.ts):
 *     init, sign, publish and verify over a directory and over HTTP, the attack scenarios, usage
 *     errors and exit codes.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_DIR, digestOf, expectExit, runProcess, Sandbox, show } from './helpers/cli.js';

const REPO_ROOT = resolve(CLI_DIR, '..', '..');
const BUILD = join(REPO_ROOT, 'scripts', 'build-standalone.mjs');
const VITEST = join(REPO_ROOT, 'node_modules', 'vitest', 'vitest.mjs');
const VERSION = '0.1.0';

/** The end-to-end test files run again against the executable. */
const SUBSET = [
  'packages/cli/test/cli-repository.test.ts',
  'packages/cli/test/cli-verify.test.ts',
  'packages/cli/test/cli-attacks.test.ts',
  'packages/cli/test/cli-usage.test.ts',
];

describe('standalone executable (bun build --compile)', () => {
  const box = new Sandbox('tufa-standalone-');
  const exe = box.path('bin', 'tufa');

  beforeAll(() => {
    // helpers/cli.js has brought the bundle up to date; this compiles that bundle.
    execFileSync(process.execPath, [BUILD, '--outfile', exe], { stdio: ['ignore', 'ignore', 'inherit'] });
    expect(existsSync(exe)).toBe(true);
  });

  afterAll(() => box.cleanup());

  it('runs with no Node.js anywhere: an empty environment, nothing on PATH', async () => {
    const env = { PATH: box.path('empty'), TUFA_HOME: box.path('home') };
    const version = await runProcess(exe, ['--version'], { env, cwd: box.dir });
    expectExit(version, 0);
    expect(version.stdout).toBe(`${VERSION}\n`);

    // A publisher (the Node.js build) signs a tag; the executable alone verifies it.
    const gun = 'registry.example.com/standalone/app';
    const digest = digestOf('standalone manifest');
    expectExit(await box.tufa(['init', gun, '--publish-root', 'pub', '--root-key-out', 'offline']), 0);
    expectExit(await box.tufa(['sign', `${gun}:1.0`, '--digest', digest, '--size', '42']), 0);
    const root = join(box.dir, 'pub', ...gun.split('/'), 'metadata', '1.root.json');
    const ok = await runProcess(
      exe,
      ['--json', 'verify', '--server', 'pub', '--root', root, `${gun}:1.0`, '--digest', digest],
      { env, cwd: box.dir },
    );
    expect(JSON.parse(ok.stdout), show(ok)).toMatchObject({ verified: true, digest, size: 42 });
    const wrong = await runProcess(
      exe,
      ['verify', '--server', 'pub', `${gun}:1.0`, '--digest', digestOf('another manifest')],
      { env, cwd: box.dir },
    );
    expectExit(wrong, 4);
    expect(wrong.stderr).toContain('is not the signed one');
  });

  it('starts a tufa agent in the background from itself (no script to run, no Node.js)', async () => {
    const env = { PATH: box.path('empty'), TUFA_HOME: box.path('home-agent') };
    const started = await runProcess(exe, ['--json', 'agent', 'start', '--idle-timeout', '60'], {
      env,
      cwd: box.dir,
    });
    expectExit(started, 0);
    const { socket } = JSON.parse(started.stdout).agent as { socket: string };
    const agentEnv = { ...env, TUFA_AGENT_SOCK: socket };
    const listed = await runProcess(exe, ['--json', 'agent', 'list'], { env: agentEnv, cwd: box.dir });
    expectExit(listed, 0);
    expectExit(await runProcess(exe, ['agent', 'stop'], { env: agentEnv, cwd: box.dir }), 0);
  });

  it('passes the end-to-end tests it is given (TUFA_TEST_BIN)', async () => {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) {
      // The inner run is a run of its own, not a worker of this one.
      if (v !== undefined && !k.startsWith('VITEST') && k !== 'NODE_OPTIONS') env[k] = v;
    }
    env['TUFA_TEST_BIN'] = exe;
    const r = await runProcess(
      process.execPath,
      [VITEST, 'run', '--project', 'node', '--maxWorkers', '1', '--reporter', 'dot', ...SUBSET],
      { cwd: REPO_ROOT, env },
    );
    expect(r.code, show(r)).toBe(0);
    // Every file of the subset ran, none was skipped.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the colours of vitest's summary
    const summary = r.stdout.replace(/\x1b\[[0-9;]*m/g, '');
    expect(summary, show(r)).toMatch(
      new RegExp(`Test Files\\s+${SUBSET.length} passed \\(${SUBSET.length}\\)`),
    );
    expect(summary, show(r)).not.toMatch(/\d+ skipped/);
  });
});
