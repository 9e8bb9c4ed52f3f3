/** `tufa --version`, `--help`, unknown commands and options, and the `--json` error shape. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_DIR, expectError, expectExit, expectJson, Sandbox, show } from './helpers/cli.js';

const sandbox = new Sandbox('tufa-usage-');
afterAll(() => sandbox.cleanup());

describe.concurrent('tufa: version, help and usage errors', () => {
  it('--version and -V print the package version and exit 0', async () => {
    const pkg = JSON.parse(readFileSync(join(CLI_DIR, 'package.json'), 'utf8')) as { version: string };
    const [long, short] = await Promise.all([sandbox.tufa(['--version']), sandbox.tufa(['-V'])]);
    for (const r of [long, short]) {
      expectExit(r, 0);
      expect(r.stdout).toBe(`${pkg.version}\n`);
      expect(r.stderr).toBe('');
    }
  });

  it('--help lists every command and exits 0', async () => {
    const r = expectExit(await sandbox.tufa(['--help']), 0);
    expect(r.stdout).toMatch(/^Usage: tufa /);
    for (const c of [
      'key',
      'init',
      'sign',
      'unsign',
      'verify',
      'lookup',
      'list',
      'delegation',
      'root',
      'status',
      'timestamp',
      'unlock',
      'serve',
    ]) {
      expect(r.stdout).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
    }
  });

  it('sub-command help exits 0 and shows its options', async () => {
    const [sign, verify, rotate] = await Promise.all([
      sandbox.tufa(['sign', '--help']),
      sandbox.tufa(['verify', '--help']),
      sandbox.tufa(['key', 'rotate', '--help']),
    ]);
    expectExit(sign, 0);
    expect(sign.stdout).toContain('--digest <digest>');
    expect(sign.stdout).toContain('--bulk <file>');
    expectExit(verify, 0);
    expect(verify.stdout).toContain('--server <url|dir>');
    expect(verify.stdout).toContain('--unsafe-tofu');
    expectExit(rotate, 0);
    expect(rotate.stdout).toContain('--new-root-key-out <dir>');
  });

  it('an unknown command exits 2 with an Error: line', async () => {
    const r = await sandbox.tufa(['frobnicate']);
    expectError(r, 2, "unknown command 'frobnicate'");
    expect(r.stdout).toBe('');
  });

  it('an unknown global option exits 2', async () => {
    expectError(await sandbox.tufa(['--frobnicate']), 2, "unknown option '--frobnicate'");
  });

  it('a bad option value caught by tufa itself exits 2', async () => {
    expectError(await sandbox.tufa(['serve', '.', '--port', 'abc']), 2, 'not a whole number: abc');
    expectError(
      await sandbox.tufa(['init', 'x.io/a', '-p', 'pub', '--root-key-out', 'o', '--root-threshold', '-1']),
      2,
      /not a whole number|unknown option/,
    );
  });

  // Regression: commander errors raised by a *sub*-command used to exit 1 with a lower-case
  // `error:` line (exitOverride/configureOutput were set after the sub-commands were created).
  const subcommandUsageErrors: [string, string[], string][] = [
    ['an unknown option of a sub-command', ['key', 'list', '--frobnicate'], "unknown option '--frobnicate'"],
    ['an unknown sub-command', ['key', 'frobnicate'], "unknown command 'frobnicate'"],
    ['a missing argument', ['key', 'generate'], "missing required argument 'name'"],
    ['a missing publish location', ['init', 'x.io/a'], 'give --publish-to DIR'],
    ['an invalid choice', ['key', 'generate', 'k', '--type', 'dsa'], "argument 'dsa' is invalid"],
    ['too many arguments', ['status', 'a', 'b', 'c'], 'too many arguments'],
  ];
  for (const [what, args, message] of subcommandUsageErrors) {
    it(`${what} exits 2 with an Error: line (tufa ${args.join(' ')})`, async () => {
      const r = await sandbox.tufa(args);
      expect(r.stderr, show(r)).toContain(message);
      expectError(r, 2, message);
    });
  }

  it('errors carry no stack trace, unless --debug is given', async () => {
    const args = ['sign', 'no.such/repo', '1.0', '--digest', `sha256:${'0'.repeat(64)}`, '--size', '1'];
    const [plain, debug] = await Promise.all([sandbox.tufa(args), sandbox.tufa(['--debug', ...args])]);
    expectError(plain, 5, 'no repository no.such/repo is set up', 'tufa init no.such/repo');
    expect(plain.stderr.trimEnd().split('\n')).toHaveLength(2);
    expectError(debug, 5, 'no repository no.such/repo is set up');
    expect(debug.stderr).toMatch(/\n\s+at .+:\d+:\d+/);
  });

  it('with --json, an error is also a JSON document on stdout', async () => {
    const r = await sandbox.tufa([
      '--json',
      'sign',
      'no.such/repo',
      '1.0',
      '--digest',
      'sha256:00',
      '--size',
      '1',
    ]);
    const v = expectJson<{ error: Record<string, unknown> }>(r, 2);
    expect(v.error).toEqual({
      message: expect.stringContaining('not a digest'),
      code: 'USAGE',
      exitCode: 2,
      hint: null,
    });
    expect(r.stderr).toMatch(/^Error: not a digest/m);
  });

  // Regression: errors the CLI raised itself had `code: null`, so a script could branch only on
  // the exit code; each now has a stable code (docs/cli.md, "JSON output").
  it.each([
    [['status', 'no.such/repo'], 'NOT_FOUND', 5],
    [['init', 'example.com/app', '--publish-to', 'pub'], 'USAGE', 2],
    [['key', 'export', 'env:TUFA_TEST_UNSET_KEY'], 'USAGE', 2],
    [['completion', 'tcsh'], 'USAGE', 2],
  ])('with --json, tufa %j reports code %s (exit %i), never null', async (args, code, exitCode) => {
    const v = expectJson<{ error: { code: unknown; exitCode: number } }>(
      await sandbox.tufa(['--json', ...args]),
      exitCode,
    );
    expect(v.error).toMatchObject({ code, exitCode });
  });
});

describe('an interrupted command with --json', () => {
  it('reports code INTERRUPTED and exit 130 on SIGINT', async () => {
    const gun = 'example.com/interrupted/app';
    expectExit(await sandbox.tufa(['init', gun, '--publish-to', 'pub', '--root-key-out', 'offline']), 0);
    // Core's test hook sends the signal at a fixed point of the publish: no timing involved.
    const r = await sandbox.tufa(
      ['--json', 'sign', `${gun}:1.0`, '--digest', `sha256:${'a'.repeat(64)}`, '--size', '1'],
      { env: { TUFA_TEST_ONLY_KILL_AT: 'SIGINT@lock-begin#1' } },
    );
    expectExit(r, 130);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'INTERRUPTED', exitCode: 130 });
  });
});
