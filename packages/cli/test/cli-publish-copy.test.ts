/**
 * `tufa publish GUN --to LOCATION` through the built binary, against the real docker-registry on
 * loopback with htpasswd auth: a file-published repository copied into the registry and verified
 * from it through `--server oci://`; copied again after a change (only forward); the reverse
 * export, on a machine without the GUN's configuration (`--from`), verified by tuf-js; `--switch`
 * making the registry the GUN's publish location; a destination holding another repository, a
 * trust server as destination and a GUN without a source are refused with their exit codes.
 */
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Updater as TufJsUpdater } from 'tuf-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StaticServer, serveDirectory } from '../../core/test/interop/static-server.js';
import {
  HAVE_REGISTRY_TOOLS,
  type Registry,
  requireRegistryTools,
  startRegistry,
  type User,
} from '../../oci/test/helpers/registry.js';
import { digestOf, expectError, expectExit, expectJson, metadataDir, Sandbox } from './helpers/cli.js';

requireRegistryTools();

const USER: User = { username: 'mirror', password: 'Registry-mirror-secret-3319' };

describe.skipIf(!HAVE_REGISTRY_TOOLS)('tufa publish --to / --from against docker-registry with auth', () => {
  const sandbox = new Sandbox('tufa-publish-copy-');
  let registry: Registry;
  let gun: string;
  let location: string;
  const env = () => ({
    DOCKER_CONFIG: sandbox.path('docker'),
    REGISTRY_AUTH_FILE: sandbox.path('no-auth.json'),
    XDG_RUNTIME_DIR: undefined,
    TUFA_REGISTRY_USERNAME: USER.username,
    TUFA_REGISTRY_PASSWORD: USER.password,
  });
  const tufa = (args: string[]) => sandbox.tufa(args, { env: env() });
  const root = () => join(metadataDir(sandbox.path('pub'), gun), '1.root.json');
  const verifyFromRegistry = (tag: string) =>
    sandbox
      .client()
      .tufa(['--json', 'verify', `${gun}:${tag}`, '--server', location, '--root', root()], { env: env() });

  beforeAll(async () => {
    registry = await startRegistry({ mode: 'htpasswd', users: [USER] });
    gun = `${registry.host}/team/app`;
    location = `oci://${gun}`;
    mkdirSync(sandbox.path('docker'));
    writeFileSync(sandbox.path('docker', 'config.json'), '{"auths":{}}');
    expectExit(await tufa(['init', gun, '--publish-to', 'pub', '--root-key-out', 'offline']), 0);
    expectExit(await tufa(['sign', `${gun}:1.0`, '--digest', digestOf('one'), '--size', '3']), 0);
  });
  afterAll(async () => {
    await registry?.stop();
    sandbox.cleanup();
  });

  it('copies a file-published repository into the registry, which then verifies', async () => {
    const r = expectJson<{ copied: string[]; upToDate: boolean; versions: Record<string, number> }>(
      await tufa(['--json', 'publish', gun, '--to', location]),
    );
    expect(r.upToDate).toBe(false);
    expect(r.copied[0]).toBe('metadata/1.root.json');
    expect(r.copied.at(-1)).toBe('metadata/timestamp.json');
    expect(r.copied).not.toContain('metadata/root.json'); // a registry has no unversioned root
    expect(r.versions).toMatchObject({ root: 1, targets: 2 });
    expect(expectJson<{ digest: string }>(await verifyFromRegistry('1.0')).digest).toBe(digestOf('one'));
    // Again: nothing to do.
    expect(
      expectJson<{ upToDate: boolean }>(await tufa(['--json', 'publish', gun, '--to', location])).upToDate,
    ).toBe(true);
  });

  it('after a change in the directory the copy moves forward; a registry with another repository is refused', async () => {
    expectExit(await tufa(['sign', `${gun}:2.0`, '--digest', digestOf('two'), '--size', '3']), 0);
    expectExit(await tufa(['publish', gun, '--to', location]), 0);
    expect(expectJson<{ digest: string }>(await verifyFromRegistry('2.0')).digest).toBe(digestOf('two'));
    const other = `${registry.host}/team/other`;
    expectExit(await tufa(['init', other, '--publish-to', `oci://${other}`, '--root-key-out', 'offline']), 0);
    expectError(
      await tufa(['publish', gun, '--to', `oci://${other}`]),
      8,
      `oci://${other} holds another repository`,
    );
  });

  it('the reverse export, on a machine without the configuration (--from), is verified by tuf-js', async () => {
    const machine = sandbox.client();
    const noSource = await machine.tufa(['publish', gun, '--to', 'export'], { env: env() });
    expectError(noSource, 5, `${gun} is not set up on this machine`, '--from');
    const r = expectJson<{ copied: string[] }>(
      await machine.tufa(['--json', 'publish', gun, '--from', location, '--to', 'export'], { env: env() }),
    );
    const dir = metadataDir(sandbox.path('export'), gun);
    expect(r.copied).toContain('metadata/root.json');
    expect(readdirSync(dir).sort()).toEqual(
      ['1.root.json', 'root.json', '3.targets.json', '3.snapshot.json', 'timestamp.json'].sort(),
    );
    // Byte for byte what the directory published.
    for (const f of readdirSync(dir)) {
      expect([f, readFileSync(join(dir, f))]).toEqual([
        f,
        readFileSync(join(metadataDir(sandbox.path('pub'), gun), f)),
      ]);
    }
    const server: StaticServer = await serveDirectory(join(dir, '..'));
    try {
      const cache = sandbox.path('tuf-js-cache');
      mkdirSync(cache);
      writeFileSync(join(cache, 'root.json'), readFileSync(root()));
      const tufJs = new TufJsUpdater({
        metadataDir: cache,
        metadataBaseUrl: `${server.base}/metadata/`,
        targetBaseUrl: `${server.base}/targets/`,
        config: { fetchRetry: 0 },
      });
      await tufJs.refresh();
      expect((await tufJs.getTargetInfo('2.0'))?.hashes).toEqual({ sha256: digestOf('two').slice(7) });
    } finally {
      await server.close();
    }
  });

  it('--switch makes the registry where the GUN is published; signing then goes there', async () => {
    const r = expectJson<{ switched: boolean }>(
      await tufa(['--json', 'publish', gun, '--to', location, '--switch']),
    );
    expect(r.switched).toBe(true);
    const before = readFileSync(join(metadataDir(sandbox.path('pub'), gun), 'timestamp.json'));
    expectExit(await tufa(['sign', `${gun}:3.0`, '--digest', digestOf('three'), '--size', '5']), 0);
    expect(expectJson<{ digest: string }>(await verifyFromRegistry('3.0')).digest).toBe(digestOf('three'));
    // The directory is left as it was: it is no longer where the GUN is published.
    expect(readFileSync(join(metadataDir(sandbox.path('pub'), gun), 'timestamp.json'))).toEqual(before);
    // Copying the older directory over the registry now would roll its clients back.
    expectError(
      await tufa(['publish', gun, '--from', 'pub', '--to', location]),
      8,
      'would roll its clients back',
    );
  });

  it('a source that does not verify is refused before anything is written (exit 3)', async () => {
    const from = metadataDir(sandbox.path('tampered'), gun);
    cpSync(metadataDir(sandbox.path('pub'), gun), from, { recursive: true });
    const file = join(from, '3.targets.json');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace(digestOf('two').slice(7), digestOf('evil').slice(7)),
    );
    const target = `oci://${registry.host}/team/tampered`;
    expectError(await tufa(['publish', gun, '--from', 'tampered', '--to', target]), 3, 'targets');
    // Nothing reached the registry: there is no repository there.
    expectError(
      await sandbox
        .client()
        .tufa(['verify', `${gun}:2.0`, '--server', target, '--root', root()], { env: env() }),
      5,
      target,
    );
  });

  it('a trust server as destination, and the same place twice, are usage errors', async () => {
    expectError(
      await tufa(['publish', gun, '--to', 'https://trust.example.com']),
      2,
      'a trust server signs snapshot and timestamp with keys it holds',
      'tufa init',
    );
    expectError(await tufa(['publish', gun, '--to', location]), 2, '--from and --to name the same place');
  });
});
