/**
 * `docker tufa …` through the real `docker` CLI (only the CLI: plugin discovery and invocation
 * need no daemon). The built `docker-tufa` is linked into a temporary `$DOCKER_CONFIG/cli-plugins`
 * as the install one-liner does (a symlink), and every command's stdout and exit code are
 * compared with `tufa`'s own, against a repository the CLI publishes into a local directory.
 *
 * Runs the built CLI (npx tsc -b first). Skips when `docker` is missing, except under CI=true.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLI_DIR,
  digestOf,
  expectExit,
  PASSPHRASE,
  publisher,
  type RunResult,
  runProcess,
  Sandbox,
  show,
  tufaEnv,
} from './helpers/cli.js';

function onPath(program: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const HAVE_DOCKER = onPath('docker');
if (!HAVE_DOCKER && process.env['CI'] === 'true') {
  throw new Error(
    'the docker CLI is required under CI=true (apt-get install -y docker.io; no daemon is used)',
  );
}

const PLUGIN = join(CLI_DIR, 'bin', 'docker-tufa.js');
const VERSION = (JSON.parse(readFileSync(join(CLI_DIR, 'package.json'), 'utf8')) as { version: string })
  .version;
const GUN = 'registry.example.com/plugin/app';
const DIGEST = digestOf('plugin app 1.0');

describe.skipIf(!HAVE_DOCKER)('docker tufa: the Docker CLI plugin, run by the docker CLI', () => {
  const box = new Sandbox('tufa-docker-plugin-');
  const pub = publisher(box, GUN);
  const dockerConfig = box.path('docker-config');
  let homes = 0;

  /** Runs `docker ARGS` (or `tufa ARGS`) as a client with a new, empty $TUFA_HOME. */
  const client = (
    program: 'docker' | 'tufa',
    args: string[],
    env: Record<string, string | undefined> = {},
  ) => {
    const home = box.path(`client-${++homes}`);
    const command = program === 'docker' ? 'docker' : process.execPath;
    const argv = program === 'docker' ? args : [join(CLI_DIR, 'dist', 'bin.js'), ...args];
    return runProcess(command, argv, {
      cwd: box.dir,
      env: tufaEnv({ TUFA_HOME: home, DOCKER_CONFIG: dockerConfig, ...env }),
    });
  };
  const docker = (args: string[], env: Record<string, string | undefined> = {}) =>
    client('docker', args, env);
  const tufa = (args: string[]) => client('tufa', args);

  beforeAll(async () => {
    await pub.init();
    expectExit(await box.tufa(['sign', `${GUN}:1.0`, '--digest', DIGEST, '--size', '1234']), 0);
    // The install one-liner: a symlink in $DOCKER_CONFIG/cli-plugins to the installed bin, which
    // npm makes executable on install (here it is the build output: done as npm would).
    chmodSync(PLUGIN, 0o755);
    mkdirSync(join(dockerConfig, 'cli-plugins'), { recursive: true });
    symlinkSync(PLUGIN, join(dockerConfig, 'cli-plugins', 'docker-tufa'));
  }, 60_000);

  afterAll(() => box.cleanup());

  it('docker --help lists the plugin with its short description', async () => {
    const r = expectExit(await docker(['--help']), 0);
    expect(r.stdout, show(r)).toMatch(
      /^\s+tufa\*\s+Content trust for images: sign and verify tags with TUF/m,
    );
    expect(r.stdout).not.toMatch(/invalid plugins/i);
  });

  it('docker tufa --version prints the CLI version', async () => {
    const r = expectExit(await docker(['tufa', '--version']), 0);
    expect(r.stdout).toBe(`${VERSION}\n`);
  });

  it('docker help tufa and docker tufa --help show tufa\'s help as "docker tufa"', async () => {
    for (const args of [
      ['help', 'tufa'],
      ['tufa', '--help'],
    ]) {
      const r = expectExit(await docker(args), 0);
      expect(r.stdout, show(r)).toMatch(/^Usage: docker tufa \[options\] \[command\]/);
      expect(r.stdout).toMatch(/^\s+verify /m);
    }
  });

  const verify = (tag: string, digest: string, json: boolean) => [
    ...(json ? ['--json'] : []),
    'verify',
    '--server',
    'pub',
    '--root',
    pub.root,
    `${GUN}:${tag}`,
    '--digest',
    digest,
  ];
  const cases: { name: string; args: string[]; code: number }[] = [
    { name: 'the signed digest', args: verify('1.0', DIGEST, false), code: 0 },
    { name: 'the signed digest, --json', args: verify('1.0', DIGEST, true), code: 0 },
    { name: 'another digest (exit 4)', args: verify('1.0', digestOf('pushed over'), false), code: 4 },
    { name: 'another digest, --json (exit 4)', args: verify('1.0', digestOf('pushed over'), true), code: 4 },
    { name: 'a tag that is not signed (exit 5)', args: verify('2.0', DIGEST, false), code: 5 },
    { name: 'a tag that is not signed, --json (exit 5)', args: verify('2.0', DIGEST, true), code: 5 },
  ];
  for (const c of cases) {
    it(`docker tufa verify gives the stdout and exit code of tufa verify: ${c.name}`, async () => {
      const direct = await tufa(c.args);
      const plugin = await docker(['tufa', ...c.args]);
      expectExit(direct, c.code);
      expectExit(plugin, c.code);
      expect(plugin.stdout, `${show(direct)}\n${show(plugin)}`).toBe(direct.stdout);
      const errorLine = (r: RunResult) => r.stderr.split('\n').find((l) => l.startsWith('Error: '));
      expect(errorLine(plugin)).toBe(errorLine(direct));
      if (c.code !== 0) expect(errorLine(plugin), show(plugin)).toBeDefined();
    });
  }

  it('a hint reads "docker tufa …" when run as the plugin', async () => {
    const args = verify('2.0', DIGEST, false);
    const direct = await tufa(args);
    const plugin = await docker(['tufa', ...args]);
    expect(direct.stderr, show(direct)).toContain(`\nHint: tufa list ${GUN} --server pub\n`);
    expect(plugin.stderr, show(plugin)).toContain(`\nHint: docker tufa list ${GUN} --server pub\n`);
  });

  it("is found through docker --config DIR as well as $DOCKER_CONFIG; Docker's global options are skipped", async () => {
    const r = expectExit(
      await docker(
        ['--config', dockerConfig, '-D', '--log-level', 'error', 'tufa', ...verify('1.0', DIGEST, false)],
        {
          DOCKER_CONFIG: undefined,
        },
      ),
      0,
    );
    expect(r.stdout).toContain(`${GUN}:1.0 ${DIGEST}`);
  });

  it('signs through the plugin, and tufa verifies what it signed', async () => {
    const digest = digestOf('plugin app 1.1');
    const signed = await runProcess(
      'docker',
      ['tufa', 'sign', `${GUN}:1.1`, '--digest', digest, '--size', '99'],
      {
        cwd: box.dir,
        env: tufaEnv({ ...box.env, DOCKER_CONFIG: dockerConfig }),
      },
    );
    expectExit(signed, 0);
    expect(signed.stdout + signed.stderr).not.toContain(PASSPHRASE);
    expectExit(await tufa(verify('1.1', digest, false)), 0);
  });
});
