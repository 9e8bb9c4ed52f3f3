/**
 * GUNs as Docker Content Trust named them, through the built CLI: Docker Hub short names map to
 * `docker.io/library/…` and `docker.io/USER/…` on every command; other registries are kept.
 */
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { digestOf, expectError, expectExit, expectJson, metadataDir, Sandbox } from './helpers/cli.js';

const sandbox = new Sandbox('tufa-gun-names-');
afterAll(() => sandbox.cleanup());

const init = (gun: string) =>
  sandbox.tufa(['--json', 'init', gun, '--publish-root', 'pub', '--root-key-out', 'offline']);

describe('Docker Hub short names are the GUNs DCT used', () => {
  it('`app` is docker.io/library/app: init, sign and verify by any spelling', async () => {
    const v = expectJson<{ gun: string }>(await init('app'));
    expect(v.gun).toBe('docker.io/library/app');
    const md = metadataDir(sandbox.path('pub'), 'docker.io/library/app');
    expect(existsSync(`${md}/1.root.json`)).toBe(true);
    const digest = digestOf('app-1');
    const s = expectJson<{ gun: string }>(
      await sandbox.tufa(['--json', 'sign', 'app:1.0', '--digest', digest, '--size', '10']),
    );
    expect(s.gun).toBe('docker.io/library/app');
    for (const spelling of [
      'app:1.0',
      'library/app:1.0',
      'docker.io/app:1.0',
      'index.docker.io/library/app:1.0',
      'docker.io/library/app:1.0',
    ]) {
      const r = expectJson<{ gun: string; digest: string }>(
        await sandbox
          .client()
          .tufa(['--json', 'verify', spelling, '--server', 'pub', '--root', `${md}/1.root.json`]),
      );
      expect(r.gun, spelling).toBe('docker.io/library/app');
      expect(r.digest).toBe(digest);
    }
    // The `GUN TAG` form maps the same way.
    const two = expectJson<{ gun: string }>(
      await sandbox
        .client()
        .tufa(['--json', 'verify', 'app', '1.0', '--server', 'pub', '--root', `${md}/1.root.json`]),
    );
    expect(two.gun).toBe('docker.io/library/app');
  });

  it('`user/app` is docker.io/user/app; registries with a dot, a port or localhost stay', async () => {
    expect(expectJson<{ gun: string }>(await init('user/tool')).gun).toBe('docker.io/user/tool');
    expect(expectJson<{ gun: string }>(await init('localhost:5000/team/x')).gun).toBe(
      'localhost:5000/team/x',
    );
    expect(expectJson<{ gun: string }>(await init('localhost/y')).gun).toBe('localhost/y');
    expect(expectJson<{ gun: string }>(await init('ghcr.io/acme/z')).gun).toBe('ghcr.io/acme/z');
  });

  it('one repository per GUN, whatever the spelling: a second init is refused', async () => {
    expectExit(await init('docker.io/library/dup'), 0);
    expectError(await init('dup'), 2, 'docker.io/library/dup is already set up');
  });
});
