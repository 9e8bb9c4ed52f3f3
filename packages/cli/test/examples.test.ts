/**
 * The programs in `examples/` run as a user would run them, against the built packages: an
 * example that drifts from the API or the CLI fails here rather than in a user's hands.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAVE_REGISTRY_TOOLS, requireRegistryTools } from '../../oci/test/helpers/registry.js';
import {
  CLI_DIR,
  expectExit,
  publisher,
  type RunResult,
  runProcess,
  Sandbox,
  type Served,
  sha256hex,
  startServe,
} from './helpers/cli.js';

requireRegistryTools();

const REPO = resolve(CLI_DIR, '..', '..');
const EXAMPLES = join(REPO, 'examples');

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return runProcess(cmd, args, {
    cwd: REPO,
    env: { ...process.env, TUFA_SCRYPT_N: '1024', NO_COLOR: '1', ...env },
  });
}

function ok(r: RunResult): RunResult {
  expect(r.code, `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(0);
  return r;
}

describe('library examples', () => {
  it('browser/serve.mjs --check: the page verifies its target in headless Chromium', async () => {
    const r = ok(await run(process.execPath, [join(EXAMPLES, 'browser', 'serve.mjs'), '--check']));
    // CI installs chromium (.ci/run); only a local run without it may skip.
    if (process.env['CI'] !== 'true' && r.stdout.startsWith('skipped:')) return;
    expect(r.stdout).toMatch(/^verified hello\.txt \(signed by targets\): Hello from a TUF repository!/);
  });

  it('sign-and-verify.mjs signs, verifies and refuses a tampered digest', async () => {
    const r = ok(await run(process.execPath, [join(EXAMPLES, 'sign-and-verify.mjs')]));
    expect(r.stdout).toMatch(/refused/i);
  });

  it('demo.mjs runs the main job end to end', async () => {
    ok(await run(process.execPath, [join(EXAMPLES, 'demo.mjs')]));
  }, 180_000);

  // Skips itself politely without the tools; under CI=true they are required (registry harness).
  it.skipIf(!HAVE_REGISTRY_TOOLS)(
    'registry-demo.mjs signs, verifies and resolves against docker-registry',
    async () => {
      const r = ok(await run(process.execPath, [join(EXAMPLES, 'registry-demo.mjs')]));
      expect(r.stdout).toContain('registry demo: every step behaved as expected');
      expect(r.stdout).toContain('refuses the moved tag (exit 4, expected 4)');
      // The repository then lives in the registry itself (issue 14).
      expect(r.stdout).toContain(
        'ok   CI: tufa verify --registry --server oci:// (only the registry is read)',
      );
    },
    180_000,
  );
});

describe('the conformance client', () => {
  const sandbox = new Sandbox('tufa-examples-');
  const GUN = 'registry.example/team/app';
  const repo = publisher(sandbox, GUN);
  const CLIENT = join(EXAMPLES, 'conformance-client', 'client.mjs');
  const content = 'the artifact bytes\n';
  let served: Served;

  beforeAll(async () => {
    await repo.init();
    // A target whose bytes the client can download: the file served under its hash-prefixed name.
    const hash = sha256hex(content);
    expectExit(
      await sandbox.tufa([
        'sign',
        `${GUN}:release`,
        '--digest',
        `sha256:${hash}`,
        '--size',
        `${content.length}`,
      ]),
      0,
    );
    const targets = sandbox.path('targets-served');
    mkdirSync(targets, { recursive: true });
    writeFileSync(join(targets, `${hash}.release`), content);
    served = await startServe(sandbox, sandbox.dir);
  });
  afterAll(async () => {
    await served?.stop();
    sandbox.cleanup();
  });

  it('initialises, refreshes and downloads a verified target; refuses a tampered one', async () => {
    const md = sandbox.path('client-md');
    const td = sandbox.path('client-targets');
    mkdirSync(td, { recursive: true });
    const meta = `${served.url}pub/${GUN}/metadata/`;
    ok(await run(process.execPath, [CLIENT, '--metadata-dir', md, 'init', repo.root]));
    ok(await run(process.execPath, [CLIENT, '--metadata-url', meta, '--metadata-dir', md, 'refresh']));
    const download = [
      CLIENT,
      '--metadata-url',
      meta,
      '--metadata-dir',
      md,
      '--target-name',
      'release',
      '--target-dir',
      td,
      '--target-base-url',
      `${served.url}targets-served/`,
      'download',
    ];
    ok(await run(process.execPath, download));
    expect(readFileSync(join(td, 'release'), 'utf8')).toBe(content);

    writeFileSync(join(sandbox.path('targets-served'), `${sha256hex(content)}.release`), 'something else\n');
    writeFileSync(join(td, 'release'), 'stale local copy\n');
    const r = await run(process.execPath, download);
    expect(r.code).toBe(1);
    expect(readFileSync(join(td, 'release'), 'utf8')).toBe('stale local copy\n');
  });
});
