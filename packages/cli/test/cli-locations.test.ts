/**
 * One location vocabulary through the built CLI: `--publish-to` (and its alias `--publish-root`)
 * where a repository is written, `--server` where metadata is read; anything else is exit 2
 * naming what was given, a missing directory is named.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, expectExit, expectJson, metadataDir, Sandbox } from './helpers/cli.js';

const sandbox = new Sandbox('tufa-locations-');
const GUN = 'registry.example.com/team/locations';
afterAll(() => sandbox.cleanup());

beforeAll(async () => {
  expectExit(await sandbox.tufa(['init', GUN, '--publish-to', 'pub', '--root-key-out', 'offline']), 0);
});

const root = () => `${metadataDir(sandbox.path('pub'), GUN)}/1.root.json`;
const verify = (server: string) =>
  sandbox.client().tufa(['verify', `${GUN}:1`, '--server', server, '--root', root()]);

describe('--publish-to and --publish-root', () => {
  it('--publish-to DIR publishes there; --publish-root is the same', async () => {
    const v = expectJson<{ repository: string }>(
      await sandbox.tufa([
        '--json',
        'init',
        'registry.example.com/team/alias',
        '-p',
        'pub2',
        '--root-key-out',
        'o',
      ]),
    );
    expect(v.repository).toBe(sandbox.path('pub2', 'registry.example.com', 'team', 'alias'));
    expectExit(
      await sandbox.tufa(['sign', `${GUN}:1`, '--digest', `sha256:${'b'.repeat(64)}`, '--size', '2']),
      0,
    );
    expectExit(await verify('pub'), 0);
  });

  it('both, neither, ftp://, http:// off loopback: exit 2 naming what was given', async () => {
    const init = (...args: string[]) =>
      sandbox.tufa(['init', 'registry.example.com/team/nope', '--root-key-out', 'o', ...args]);
    expectError(await init('--publish-to', 'a', '-p', 'b'), 2, 'not both');
    expectError(await init(), 2, 'give --publish-to DIR', '--publish-to DIR');
    expectError(await init('--publish-to', 'ftp://x'), 2, '"ftp://x": unsupported location');
    expectError(
      await init('--publish-to', 'http://trust.example.com'),
      2,
      'plain http is allowed for loopback servers only',
      '--publish-to https://trust.example.com/',
    );
    expectError(await init('--publish-to', 'oci://justahost'), 2, 'expected oci://REGISTRY/REPOSITORY');
  });
});

describe('--server', () => {
  it('ftp://, http:// off loopback, a bad URL: exit 2 naming it', async () => {
    expectError(await verify('ftp://x'), 2, '--server "ftp://x": unsupported location');
    expectError(await verify('http://example.com'), 2, 'plain http is allowed for loopback servers only');
    expectError(await verify('https://exa mple.com'), 2, 'not a URL');
  });

  it('a missing directory is named (exit 5)', async () => {
    expectError(await verify('no-such-dir'), 5, `no such directory (${sandbox.path('no-such-dir')})`);
  });

  it('a directory without the GUN names where it looked (exit 5)', async () => {
    const r = await verify('pub2');
    expectError(r, 5, sandbox.path('pub2'));
  });
});
