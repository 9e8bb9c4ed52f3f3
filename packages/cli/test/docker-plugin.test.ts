/**
 * The Docker CLI plugin without Docker: how `docker-tufa` reads the arguments Docker passes
 * (src/docker-plugin.ts), how hints are rewritten to `docker tufa …` (src/command-name.ts), and
 * the built `docker-tufa` answering Docker's metadata request and refusing to run as anything
 * but a plugin. With the real `docker` CLI: docker-plugin-docker.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { asInvokedBy } from '../src/command-name.js';
import { type Invocation, parseInvocation } from '../src/docker-plugin.js';
import { DOCKER_BUNDLE as PLUGIN } from './helpers/bundle.js';
import { CLI_DIR, expectError, expectExit, runProcess, show } from './helpers/cli.js';

const PKG = JSON.parse(readFileSync(join(CLI_DIR, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
};

describe('parseInvocation: the arguments Docker passes a plugin', () => {
  const cases: [string[], Invocation][] = [
    [['docker-cli-plugin-metadata'], { kind: 'metadata' }],
    [
      ['tufa', 'verify', 'app:1', '--json'],
      { kind: 'run', args: ['verify', 'app:1', '--json'], dockerConfig: undefined },
    ],
    [['tufa'], { kind: 'run', args: [], dockerConfig: undefined }],
    // Docker's global options come first: skipped, with their values.
    [['-D', 'tufa', '--version'], { kind: 'run', args: ['--version'], dockerConfig: undefined }],
    [
      ['--log-level', 'info', '-c', 'tufa', '-H=unix:///x', '--tlsverify', 'tufa', 'list', 'g'],
      { kind: 'run', args: ['list', 'g'], dockerConfig: undefined },
    ],
    [['-Dc', 'ctx', '-lerror', 'tufa', 'x'], { kind: 'run', args: ['x'], dockerConfig: undefined }],
    [['--context=tufa', 'tufa', 'x'], { kind: 'run', args: ['x'], dockerConfig: undefined }],
    // `--config DIR` is Docker's config directory: passed on, resolved against the cwd.
    [
      ['--config', 'cfg', 'tufa', 'sign', 'r:1'],
      { kind: 'run', args: ['sign', 'r:1'], dockerConfig: '/w/cfg' },
    ],
    [['--config=/abs', 'tufa'], { kind: 'run', args: [], dockerConfig: '/abs' }],
    // Arguments after the plugin's name are tufa's, even where they look like Docker's.
    [
      ['tufa', '--config', 'x', '-D'],
      { kind: 'run', args: ['--config', 'x', '-D'], dockerConfig: undefined },
    ],
    // `docker help tufa [COMMAND]`.
    [['help', 'tufa'], { kind: 'run', args: ['help'], dockerConfig: undefined }],
    [['help', 'tufa', 'verify'], { kind: 'run', args: ['help', 'verify'], dockerConfig: undefined }],
    // Not as Docker runs a plugin.
    [[], { kind: 'not-docker', found: undefined }],
    [['verify', 'app:1'], { kind: 'not-docker', found: 'verify' }],
    [['help'], { kind: 'not-docker', found: 'help' }],
    [['--json', 'tufa'], { kind: 'not-docker', found: '--json' }],
    [['-x', 'tufa'], { kind: 'not-docker', found: '-x' }],
    [['--config'], { kind: 'not-docker', found: '--config' }],
    [['-c'], { kind: 'not-docker', found: '-c' }],
    [['docker-cli-plugin-metadata', 'x'], { kind: 'not-docker', found: 'docker-cli-plugin-metadata' }],
  ];
  for (const [args, expected] of cases) {
    it(`${JSON.stringify(args)} → ${expected.kind}`, () => {
      expect(parseInvocation(args, '/w')).toEqual(expected);
    });
  }
});

describe('asInvokedBy: hints written the way the user runs tufa', () => {
  const commands = ['help', 'key', 'verify', 'list', 'attach', 'notary'];
  const cases: [string, string][] = [
    ['tufa key list', 'docker tufa key list'],
    ['tufa list g --server s', 'docker tufa list g --server s'],
    [
      'correct f, or remove it and run: tufa attach g --publish-root DIR',
      'correct f, or remove it and run: docker tufa attach g --publish-root DIR',
    ],
    [
      'docker trust inspect g  (or: tufa notary verify --server URL g)',
      'docker trust inspect g  (or: docker tufa notary verify --server URL g)',
    ],
    ['`tufa verify g`', '`docker tufa verify g`'],
    // Not invocations: prose, paths, file names, unknown words, a command word inside another word.
    ['tufa takes Ed25519 keys', 'tufa takes Ed25519 keys'],
    ['tufa verifies tags', 'tufa verifies tags'],
    ['fix ~/.tufa key files', 'fix ~/.tufa key files'],
    ['remove /srv/tufa list.txt', 'remove /srv/tufa list.txt'],
    ['see $TUFA_HOME', 'see $TUFA_HOME'],
    ['tufa key-list', 'tufa key-list'],
  ];
  for (const [hint, expected] of cases) {
    it(`${hint} → ${expected}`, () => expect(asInvokedBy(hint, 'docker tufa', commands)).toBe(expected));
  }
  it('leaves hints alone when run as tufa', () => {
    expect(asInvokedBy('tufa key list', 'tufa', commands)).toBe('tufa key list');
  });
});

describe('the built docker-tufa', () => {
  const plugin = (args: string[]) =>
    runProcess(process.execPath, [PLUGIN, ...args], { env: { ...process.env, NO_COLOR: '1' } });

  it('is the second bin of @tufa/cli', () => {
    expect(PKG.bin).toEqual({ tufa: './bin/tufa.js', 'docker-tufa': './bin/docker-tufa.js' });
  });

  it('answers docker-cli-plugin-metadata with exactly one JSON object, nothing on stderr', async () => {
    const r = expectExit(await plugin(['docker-cli-plugin-metadata']), 0);
    expect(r.stderr).toBe('');
    expect(r.stdout.endsWith('\n') && r.stdout.indexOf('\n') === r.stdout.length - 1, show(r)).toBe(true);
    const meta = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(meta)).toEqual(['SchemaVersion', 'Vendor', 'Version', 'ShortDescription', 'URL']);
    expect(meta).toMatchObject({ SchemaVersion: '0.1.0', Vendor: 'tufa', Version: PKG.version });
    expect(meta['ShortDescription']).toMatch(/^\S.{10,80}$/);
    expect(meta['URL']).toMatch(/^https:\/\//);
  });

  it('runs tufa with the arguments after its name, as Docker passes them', async () => {
    const r = expectExit(await plugin(['-D', 'tufa', '--version']), 0);
    expect(r.stdout.trim()).toBe(PKG.version);
  });

  it('says "docker tufa" in usage and help', async () => {
    const r = expectExit(await plugin(['help', 'tufa']), 0);
    expect(r.stdout, show(r)).toMatch(/^Usage: docker tufa \[options\] \[command\]/);
  });

  it('refuses to run when not started by Docker, with a usage error and a hint', async () => {
    const r = await plugin(['verify', 'app:1']);
    expectError(r, 2, /Docker CLI plugin .*expected "tufa" .*found "verify"/, 'docker tufa --help');
    expect(r.stdout).toBe('');
    const j = await plugin(['--json']);
    expect(j.code).toBe(2);
    expect(JSON.parse(j.stdout)).toMatchObject({ tufa: 1, error: { code: 'USAGE', exitCode: 2 } });
  });
});
