/**
 * A repository published into a registry (issue 14) through the built binary, against the real
 * docker-registry on loopback with htpasswd auth, the credentials coming from a Docker config
 * file as for `--server oci://`: `tufa init --publish-to oci://…`, then sign, timestamp, key
 * rotation, a delegation, status and a root signing request work unchanged on it; `tufa verify
 * --server oci://…` verifies each step; `attach` records it on a second machine; a location that
 * already holds a repository, bad credentials and `tufa unlock` are refused with their exit codes.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HAVE_REGISTRY_TOOLS,
  type Registry,
  requireRegistryTools,
  startRegistry,
  type User,
} from '../../oci/test/helpers/registry.js';
import { storageFor } from '../../oci/test/helpers/tuf-repo.js';
import { digestOf, expectError, expectExit, expectJson, Sandbox } from './helpers/cli.js';

requireRegistryTools();

const VECTORS = join(import.meta.dirname, '../../../test-vectors/notary');
const USER: User = { username: 'publisher', password: 'Registry-push-secret-6620' };

describe.skipIf(!HAVE_REGISTRY_TOOLS)(
  'tufa init --publish-to oci://… against docker-registry with auth',
  () => {
    const sandbox = new Sandbox('tufa-oci-publish-');
    let registry: Registry;
    let gun: string;
    let location: string;
    const root = sandbox.path('1.root.json');

    /** A Docker config holding `user`'s credentials for the registry (none: no entry). */
    const dockerConfig = (name: string, user: User | undefined): string => {
      const dir = sandbox.path(name);
      mkdirSync(dir, { recursive: true });
      const auth = user ? Buffer.from(`${user.username}:${user.password}`).toString('base64') : undefined;
      writeFileSync(
        join(dir, 'config.json'),
        JSON.stringify({ auths: auth ? { [registry.host]: { auth } } : {} }),
        { mode: 0o600 },
      );
      return dir;
    };
    const env = (config = 'docker') => ({
      DOCKER_CONFIG: sandbox.path(config),
      REGISTRY_AUTH_FILE: sandbox.path('no-auth.json'),
      XDG_RUNTIME_DIR: undefined,
    });
    const client = sandbox.client();
    const verify = (tag: string) =>
      client.tufa(['--json', 'verify', `${gun}:${tag}`, '--server', location, '--root', root], {
        env: env(),
      });

    beforeAll(async () => {
      registry = await startRegistry({ mode: 'htpasswd', users: [USER] });
      gun = `${registry.host}/team/app`;
      location = `oci://${gun}`;
      dockerConfig('docker', USER);
      dockerConfig('docker-wrong', { ...USER, password: 'not-the-password' });
      dockerConfig('docker-none', undefined);
    });
    afterAll(async () => {
      await registry?.stop();
      sandbox.cleanup();
    });

    it('init publishes every role into the registry and records the location', async () => {
      const r = expectJson<{ repository: string; root: { path: string | null }; written: string[] }>(
        await sandbox.tufa(['--json', 'init', gun, '--publish-to', location, '--root-key-out', 'offline'], {
          env: env(),
        }),
      );
      expect(r.repository).toBe(location);
      expect(r.root.path).toBeNull();
      expect(r.written.at(-1)).toBe('metadata/timestamp.json');
      const config = JSON.parse(
        readFileSync(
          sandbox.path('home', 'repos', encodeURIComponent(gun).replace(/\./g, '%2E'), 'config.json'),
          'utf8',
        ),
      );
      expect(config.publishTo).toBe(location);
      expect(config.publishRoot).toBeUndefined();
      // What the registry holds, read with the library: the client's trust root.
      const bytes = await storageFor(registry.host, 'team/app', USER).read('metadata/1.root.json');
      expect(bytes).toBeDefined();
      writeFileSync(root, bytes as Uint8Array);
    });

    it('a location that already holds a repository is refused (exit 2), with attach as the hint', async () => {
      expectError(
        await sandbox.tufa(
          ['init', `${registry.host}/team/other`, '--publish-to', location, '--root-key-out', 'o'],
          {
            env: env(),
          },
        ),
        2,
        `a repository is already published at ${location}`,
        'tufa attach',
      );
    });

    it('sign, then verify through --server oci://', async () => {
      expectExit(
        await sandbox.tufa(['sign', `${gun}:1.0`, '--digest', digestOf('one'), '--size', '3'], {
          env: env(),
        }),
        0,
      );
      expect(expectJson<{ digest: string }>(await verify('1.0')).digest).toBe(digestOf('one'));
    });

    it('timestamp re-signs in the registry', async () => {
      const r = expectJson<{ versions: Record<string, number> }>(
        await sandbox.tufa(['--json', 'timestamp', gun], { env: env() }),
      );
      expect(r.versions['timestamp']).toBe(3);
      expectExit(await verify('1.0'), 0);
    });

    it('key rotation of targets, then signing with the new key: the client follows the root chain', async () => {
      const rootKey = sandbox.path('offline', `root-${gun.replace(/[^A-Za-z0-9]+/g, '-')}.json`);
      const r = await sandbox.tufa(['--json', 'key', 'rotate', gun, 'targets', '--root-key', rootKey], {
        env: env(),
      });
      expect(expectJson<{ versions: Record<string, number> }>(r).versions['root']).toBe(2);
      expectExit(
        await sandbox.tufa(['sign', `${gun}:2.0`, '--digest', digestOf('two'), '--size', '3'], {
          env: env(),
        }),
        0,
      );
      expect(expectJson<{ digest: string }>(await verify('2.0')).digest).toBe(digestOf('two'));
    });

    it('a delegation: added, signed into, verified; status shows it', async () => {
      expectExit(await sandbox.tufa(['key', 'generate', 'releases-bot']), 0);
      expectExit(
        await sandbox.tufa(
          ['delegation', 'add', gun, 'releases', '--key', 'releases-bot', '--paths', 'rel-*'],
          {
            env: env(),
          },
        ),
        0,
      );
      expectExit(
        await sandbox.tufa(
          ['sign', `${gun}:rel-1`, '--role', 'releases', '--digest', digestOf('rel'), '--size', '3'],
          { env: env() },
        ),
        0,
      );
      const v = expectJson<{ digest: string; role: string }>(await verify('rel-1'));
      expect(v).toMatchObject({ digest: digestOf('rel'), role: 'releases' });
      const s = expectJson<{ repository: string; roles: { role: string; verified: boolean }[] }>(
        await sandbox.tufa(['--json', 'status', gun], { env: env() }),
      );
      expect(s.repository).toBe(location);
      expect(expectExit(await sandbox.tufa(['status', gun], { env: env() }), 0).stdout).toMatch(
        new RegExp(`^${gun}, published at ${location} \\(a registry\\)\n`),
      );
      expect(s.roles.map((x) => x.role)).toEqual(['root', 'targets', 'snapshot', 'timestamp', 'releases']);
      expect(s.roles.every((x) => x.verified)).toBe(true);
    });

    it('a root signing request is compared with the root published in the registry', async () => {
      expectExit(
        await sandbox.tufa(['root', 'sign-request', gun, '--threshold', '1', '-o', 'req.json'], {
          env: env(),
        }),
        0,
      );
      const r = await sandbox.tufa(['status', gun, '--request', 'req.json'], { env: env() });
      expectExit(r, 0);
      expect(r.stdout).toContain(`the root this machine publishes for ${gun} (2.root.json at ${location})`);
    });

    it('attach on a second machine records the registry; a registry without the repository is exit 5', async () => {
      const second = sandbox.client();
      const keys = sandbox.path('home', 'keys');
      const slug = gun.replace(/[^A-Za-z0-9]+/g, '-');
      const keyArgs = [
        '--targets-key',
        join(keys, `${slug}-targets-2.json`),
        '--snapshot-key',
        join(keys, `${slug}-snapshot.json`),
        '--timestamp-key',
        join(keys, `${slug}-timestamp.json`),
      ];
      expectError(
        await second.tufa(['attach', gun, '--publish-to', `oci://${registry.host}/team/none`, ...keyArgs], {
          env: env(),
        }),
        5,
        `no repository is published at oci://${registry.host}/team/none`,
      );
      expectExit(
        await second.tufa(['attach', gun, '--publish-to', location, ...keyArgs], {
          env: { ...env(), TUFA_PASSPHRASE: sandbox.env.TUFA_PASSPHRASE },
        }),
        0,
      );
      expectExit(
        await second.tufa(['sign', `${gun}:3.0`, '--digest', digestOf('three'), '--size', '5'], {
          env: { ...env(), TUFA_PASSPHRASE: sandbox.env.TUFA_PASSPHRASE },
        }),
        0,
      );
      expect(expectJson<{ digest: string }>(await verify('3.0')).digest).toBe(digestOf('three'));
    });

    it('wrong or missing registry credentials: exit 6 naming the registry, the password never shown', async () => {
      const wrong = await sandbox.tufa(['sign', `${gun}:4.0`, '--digest', digestOf('4'), '--size', '1'], {
        env: env('docker-wrong'),
      });
      expectError(wrong, 6, registry.host, 'TUFA_REGISTRY_USERNAME');
      expect(`${wrong.stdout}${wrong.stderr}`).not.toContain('not-the-password');
      expectError(
        await sandbox.tufa(['timestamp', gun], { env: env('docker-none') }),
        6,
        `${registry.host} requires authentication and no credentials were found for it`,
      );
    });

    it('notary migrate --publish-to oci://…: a Notary collection imported into the registry verifies from it', async () => {
      const notaryGun = 'example.com/notary/app';
      const at = `oci://${registry.host}/notary/app`;
      const source = [
        '--trust-dir',
        join(VECTORS, 'trust'),
        '--as-of',
        readFileSync(join(VECTORS, 'created.txt'), 'utf8').trim(),
      ];
      expectError(
        await sandbox.tufa(['notary', 'migrate', notaryGun, ...source, '--publish-to', at], { env: env() }),
        5,
        `${notaryGun} is not set up in tufa yet`,
        `tufa init ${notaryGun} --publish-to ${at}`,
      );
      expectExit(
        await sandbox.tufa(['init', notaryGun, '--publish-to', at, '--root-key-out', 'offline'], {
          env: env(),
        }),
        0,
      );
      expectError(
        await sandbox.tufa(['notary', 'migrate', notaryGun, ...source, '--publish-to', location], {
          env: env(),
        }),
        2,
        `${notaryGun} is published at ${at} on this machine`,
      );
      const r = expectJson<{ imported: { tag: string; digest: string }[] }>(
        await sandbox.tufa(['--json', 'notary', 'migrate', notaryGun, ...source, '--publish-to', at], {
          env: env(),
        }),
      );
      expect(r.imported.length).toBeGreaterThan(0);
      const first = r.imported[0] as { tag: string; digest: string };
      const bytes = await storageFor(registry.host, 'notary/app', USER).read('metadata/1.root.json');
      writeFileSync(sandbox.path('notary-root.json'), bytes as Uint8Array);
      const v = await client.tufa(
        [
          '--json',
          'verify',
          `${notaryGun}:${first.tag}`,
          '--server',
          at,
          '--root',
          sandbox.path('notary-root.json'),
        ],
        { env: env() },
      );
      expect(expectJson<{ digest: string }>(v).digest).toBe(first.digest);
    });

    it('tufa unlock: a registry has no lock file (exit 2, the lease expires by itself)', async () => {
      expectError(
        await sandbox.tufa(['unlock', gun], { env: env() }),
        2,
        'publish lease',
        'wait for the lease',
      );
    });

    it('a root ceremony: a request signed with the root key, then root publish', async () => {
      const rootKey = sandbox.path('offline', `root-${gun.replace(/[^A-Za-z0-9]+/g, '-')}.json`);
      expectExit(
        await sandbox.tufa(
          ['root', 'sign-request', gun, '--threshold', '1', '--root-key', rootKey, '-o', 'ceremony.json'],
          { env: env() },
        ),
        0,
      );
      const r = expectJson<{ published: { role: string; version: number } }>(
        await sandbox.tufa(['--json', 'root', 'publish', gun, 'ceremony.json'], { env: env() }),
      );
      expect(r.published).toEqual({ role: 'root', version: 3 });
      // The client walks the root chain to the new version.
      expectExit(await verify('3.0'), 0);
    });
  },
);
