/**
 * File-system problems as the user sees them: a permission problem on $TUFA_HOME, the keys
 * directory or a file named on the command line is exit 7 naming the path — never "not set up"
 * with advice to run `tufa init` — and a Node.js error no command explained gets its documented
 * code and the path rather than exit 1. Also: argument-parser errors honour --json.
 *
 * Permission denial needs a user the file modes apply to: root bypasses them, so as root (CI)
 * the CLI runs as `nobody` through setpriv; otherwise as ourselves after a chmod.
 */
import { chmodSync, mkdirSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, expectError, expectExit, expectJson, runProcess, Sandbox } from './helpers/cli.js';

const sandbox = new Sandbox('tufa-files-');
const GUN = 'registry.example.com/team/app';
const isRoot = process.getuid?.() === 0;

/** Runs the CLI as a user without access to `locked` (mode 000). */
function denied(locked: string, args: string[]) {
  // The way there must be open to that user; only `locked` is not.
  for (const dir of [sandbox.dir, sandbox.home]) chmodSync(dir, 0o755);
  chmodSync(locked, 0o000);
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    TUFA_HOME: sandbox.home,
    TUFA_SCRYPT_N: '1024',
    NO_COLOR: '1',
  };
  const run = isRoot
    ? runProcess(
        'setpriv',
        ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, ...args],
        {
          env,
          cwd: '/',
        },
      )
    : runProcess(process.execPath, [BIN, ...args], { env, cwd: '/' });
  return run.finally(() => chmodSync(locked, 0o700));
}

beforeAll(async () => {
  expectExit(await sandbox.tufa(['init', GUN, '--publish-root', 'pub', '--root-key-out', 'offline']), 0);
});
afterAll(() => sandbox.cleanup());

describe('permission problems are exit 7 with the path', () => {
  it('an unreadable repository configuration is not "no repository set up"', async () => {
    const repos = sandbox.path('home', 'repos');
    const r = await denied(repos, ['status', GUN]);
    expectError(
      r,
      7,
      /cannot read the configuration \/.*\/repos\/.*config\.json: permission denied \(EACCES\)$/,
    );
    expect(r.stderr).not.toContain('tufa init');
  });

  it('an unreadable keys directory is not an empty key list', async () => {
    const keys = sandbox.path('home', 'keys');
    const r = await denied(keys, ['key', 'list']);
    expectError(r, 7, `cannot list the keys in ${keys}: permission denied (EACCES)`, /permissions/);
  });

  it('a key behind an unreadable directory is not "not found"', async () => {
    const keys = sandbox.path('home', 'keys');
    // The configuration readable to that user, so the keys directory is what stops it.
    const config = readdirSync(sandbox.path('home', 'repos'))[0] as string;
    chmodSync(sandbox.path('home', 'repos'), 0o755);
    chmodSync(sandbox.path('home', 'repos', config), 0o755);
    chmodSync(sandbox.path('home', 'repos', config, 'config.json'), 0o644);
    const sign = await denied(keys, [
      'sign',
      `${GUN}:1`,
      '--digest',
      `sha256:${'a'.repeat(64)}`,
      '--size',
      '1',
    ]);
    expectError(sign, 7, /permission denied \(EACCES\)/);
    expect(sign.stderr).toContain(keys);
  });

  it('an unreadable $TUFA_HOME in --json mode is the documented error object', async () => {
    const r = await denied(sandbox.home, ['--json', 'status', GUN]);
    const v = JSON.parse(r.stdout);
    expect(v.error).toMatchObject({ exitCode: 7 });
    expect(v.error.message).toContain('permission denied (EACCES)');
  });
});

describe('Node.js errors get their documented codes', () => {
  it('a directory given as a file is exit 7 naming the path', async () => {
    mkdirSync(sandbox.path('a-dir'));
    expectError(
      await sandbox.tufa(['key', 'import', 'k', sandbox.path('a-dir')]),
      7,
      `cannot read the key ${sandbox.path('a-dir')}: is a directory, expected a file (EISDIR)`,
    );
  });

  it('a missing file is exit 5 naming the path', async () => {
    expectError(
      await sandbox.tufa(['status', '--request', sandbox.path('nope.json')]),
      5,
      `cannot read the signing request ${sandbox.path('nope.json')}: no such file or directory`,
    );
  });
});

describe('argument-parser errors and --json', () => {
  it('print the documented error object on stdout', async () => {
    const v = expectJson<{ error: unknown }>(
      await sandbox.tufa(['--json', 'status', GUN, '--no-such-flag']),
      2,
    );
    expect(v.error).toEqual({
      message: "unknown option '--no-such-flag'",
      code: 'USAGE',
      exitCode: 2,
      hint: 'tufa --help',
    });
  });
});
