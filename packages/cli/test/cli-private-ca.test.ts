/**
 * Publishing to a registry and to a trust server whose certificates come from a private CA,
 * through the built binary: docker-registry serving HTTPS only (with htpasswd) and `tufa server
 * --tls-cert/--tls-key`, both with the test CA of test-vectors/tls. Without `--ca` the publishing
 * commands are refused (the certificate is not trusted) with a hint naming `--ca`; with it they
 * work, `init` and `attach` remember the CA file's path in the repository's configuration so that
 * `sign`, `timestamp`, `status` and the rest need no flag, a `--ca` given later wins for that
 * run, and `tufa publish` copies between the two with one CA file.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HAVE_REGISTRY_TOOLS,
  type Registry,
  requireRegistryTools,
  startRegistry,
  TEST_TLS,
  TEST_TLS_DIR,
  type User,
} from '../../oci/test/helpers/registry.js';
import { BIN, digestOf, expectError, expectExit, expectJson, Sandbox, tufaEnv } from './helpers/cli.js';

requireRegistryTools();

const CA = join(TEST_TLS_DIR, 'ca.pem');
const VECTORS = join(import.meta.dirname, '../../../test-vectors/notary');
const USER: User = { username: 'publisher', password: 'Registry-ca-secret-3391' };
const TOKEN = 'publisher-token-private-ca-4410';
const SERVER_GUN = 'registry.test/team/server-app';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const configPath = (home: string, gun: string) =>
  join(home, 'repos', encodeURIComponent(gun).replace(/\./g, '%2E'), 'config.json');

describe.skipIf(!HAVE_REGISTRY_TOOLS)('publishing to a registry and a trust server with a private CA', () => {
  const sandbox = new Sandbox('tufa-private-ca-');
  let registry: Registry;
  let gun: string;
  let location: string;
  let server: ChildProcess | undefined;
  let url = '';
  const env = {
    DOCKER_CONFIG: sandbox.path('docker'),
    REGISTRY_AUTH_FILE: sandbox.path('no-auth.json'),
    XDG_RUNTIME_DIR: undefined,
    TUFA_AUTH_TOKEN: TOKEN,
  };
  const tufa = (args: string[]) => sandbox.tufa(args, { env });

  beforeAll(async () => {
    registry = await startRegistry({ mode: 'htpasswd', users: [USER] }, TEST_TLS);
    gun = `${registry.host}/team/app`;
    location = `oci://${gun}`;
    mkdirSync(sandbox.path('docker'), { recursive: true });
    const auth = Buffer.from(`${USER.username}:${USER.password}`).toString('base64');
    writeFileSync(
      sandbox.path('docker', 'config.json'),
      JSON.stringify({ auths: { [registry.host]: { auth } } }),
      { mode: 0o600 },
    );
    server = spawn(
      process.execPath,
      [
        BIN,
        '--json',
        'server',
        '--listen',
        '127.0.0.1:0',
        '--store',
        'trust',
        '--anonymous-read',
        '--tls-cert',
        TEST_TLS.certificate,
        '--tls-key',
        TEST_TLS.key,
      ],
      {
        cwd: sandbox.dir,
        env: tufaEnv({
          ...sandbox.env,
          TUFA_SERVER_KEY_PASSPHRASE: 'online-keys-passphrase-private-ca-0077',
          TUFA_SERVER_TOKENS: JSON.stringify([
            { sha256: sha(TOKEN), scopes: [`repository:${SERVER_GUN}:pull,push`] },
          ]),
        }),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    url = await new Promise<string>((done, fail) => {
      server?.on('exit', (code) => fail(new Error(`tufa server exited with ${code}: ${out}`)));
      server?.stdout?.setEncoding('utf8').on('data', (c: string) => {
        out += c;
        const m = /"url": "(https:\/\/127\.0\.0\.1:\d+\/)"/.exec(out);
        if (m) done((m[1] as string).replace(/\/$/, ''));
      });
    });
  });
  afterAll(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server?.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    await registry?.stop();
    sandbox.cleanup();
  });

  it('registry: init without --ca is refused (the certificate is not trusted), with --ca as the hint', async () => {
    expectError(
      await tufa(['init', gun, '--publish-to', location, '--root-key-out', 'offline']),
      7,
      /certificate/i,
      '--ca',
    );
  });

  it('registry: init --ca publishes and remembers the CA file, not its contents', async () => {
    const r = expectJson<{ repository: string }>(
      await tufa(['--json', 'init', gun, '--publish-to', location, '--root-key-out', 'offline', '--ca', CA]),
    );
    expect(r.repository).toBe(location);
    const config = JSON.parse(readFileSync(configPath(sandbox.home, gun), 'utf8'));
    expect(config).toMatchObject({ publishTo: location, ca: CA });
    expect(JSON.stringify(config)).not.toContain('BEGIN CERTIFICATE');
  });

  it('registry: sign, timestamp and status need no flag; verify --server oci:// --ca verifies', async () => {
    expectExit(await tufa(['sign', `${gun}:1.0`, '--digest', digestOf('one'), '--size', '3']), 0);
    expectExit(await tufa(['timestamp', gun]), 0);
    // status says where, and with which CA file.
    expect(
      expectJson<{ repository: string; ca: string }>(await tufa(['--json', 'status', gun])),
    ).toMatchObject({
      repository: location,
      ca: CA,
    });
    expect(expectExit(await tufa(['status', gun]), 0).stdout).toContain(
      `${gun}, published at ${location} (a registry, CA ${CA})\n`,
    );
    // The client's trust root, exported from the registry with the same CA.
    expectExit(await tufa(['publish', gun, '--to', 'export']), 0);
    const verify = (extra: string[]) =>
      sandbox
        .client()
        .tufa(
          [
            '--json',
            'verify',
            `${gun}:1.0`,
            '--server',
            location,
            '--root',
            join('export', ...gun.split('/'), 'metadata', '1.root.json'),
            ...extra,
          ],
          { env },
        );
    expect(expectJson<{ digest: string }>(await verify(['--ca', CA])).digest).toBe(digestOf('one'));
    expectError(await verify([]), 7, /certificate/i, '--ca');
  });

  it('registry: a --ca given later wins for that run (a file without the CA is refused)', async () => {
    writeFileSync(sandbox.path('other-ca.pem'), readFileSync(join(TEST_TLS_DIR, 'server.pem')));
    expectError(
      await tufa(['sign', `${gun}:1.1`, '--digest', digestOf('one'), '--size', '3', '--ca', 'other-ca.pem']),
      7,
      /certificate/i,
    );
    expectError(
      await tufa(['unsign', gun, '1.0', '--ca', 'missing.pem']),
      5,
      'cannot read the CA file missing.pem',
    );
    expectExit(await tufa(['unsign', gun, '1.0', '--ca', CA]), 0);
  });

  it('registry: --insecure-registry reaches the registry client of a publishing command (checked there)', async () => {
    expectError(
      await tufa(['unsign', gun, '1.0', '--insecure-registry', 'http://registry.internal']),
      2,
      '--insecure-registry takes HOST or HOST:PORT without a scheme',
    );
  });

  it('notary migrate: --ca with --trust-dir reaches the registry the repository is published in', async () => {
    const notaryGun = 'example.com/notary/app';
    const at = `oci://${registry.host}/notary/app`;
    const source = [
      '--trust-dir',
      join(VECTORS, 'trust'),
      '--as-of',
      readFileSync(join(VECTORS, 'created.txt'), 'utf8').trim(),
    ];
    expectExit(
      await tufa(['init', notaryGun, '--publish-to', at, '--root-key-out', 'offline', '--ca', CA]),
      0,
    );
    // Without a notary-server the notary-only flags are still refused.
    expectError(
      await tufa(['notary', 'migrate', notaryGun, ...source, '--publish-to', at, '--header', 'X-A: b']),
      2,
      '--header and --username apply to --server only',
    );
    const r = expectJson<{ imported: unknown[] }>(
      await tufa(['--json', 'notary', 'migrate', notaryGun, ...source, '--publish-to', at, '--ca', CA]),
    );
    expect(r.imported.length).toBeGreaterThan(0);
    // A CA file that does not hold the registry's CA: refused for this run, nothing published.
    expectError(
      await tufa(['notary', 'migrate', notaryGun, ...source, '--publish-to', at, '--ca', 'other-ca.pem']),
      7,
      /certificate/i,
      '--ca',
    );
  });

  it('a CA for a directory is refused: it has no TLS (exit 2)', async () => {
    expectError(
      await tufa(['init', 'example.com/dir/app', '--publish-to', 'pub', '--root-key-out', 'o', '--ca', CA]),
      2,
      '--ca, --insecure-registry and --token-realm-host apply to a registry (oci://) or a trust server (https://) only',
    );
  });

  it('trust server: init without --ca is refused, with --ca it creates the GUN and remembers the CA', async () => {
    expectError(
      await tufa(['init', SERVER_GUN, '--publish-to', url, '--root-key-out', 'offline']),
      7,
      /certificate/i,
      '--ca',
    );
    expectExit(
      await tufa(['init', SERVER_GUN, '--publish-to', url, '--root-key-out', 'offline', '--ca', CA]),
      0,
    );
    expect(JSON.parse(readFileSync(configPath(sandbox.home, SERVER_GUN), 'utf8'))).toMatchObject({
      publishTo: url,
      ca: CA,
    });
    const r = expectJson<{ versions: Record<string, number> }>(
      await tufa(['--json', 'sign', `${SERVER_GUN}:2.0`, '--digest', digestOf('two'), '--size', '3']),
    );
    expect(r.versions).toMatchObject({ targets: 2 });
    // --token-realm-host reaches the trust server's token flow too, checked there.
    expectError(
      await tufa(['unsign', SERVER_GUN, '2.0', '--token-realm-host', 'https://auth.example.com']),
      2,
      '--token-realm-host takes a host name or IP address without scheme, port or path',
    );
  });

  it('trust server: attach on a second machine needs --ca too, and remembers it', async () => {
    const second = sandbox.client();
    const key = `file:${join(sandbox.home, 'keys', 'registry-test-team-server-app-targets.json')}`;
    const attach = (extra: string[]) =>
      second.tufa(['attach', SERVER_GUN, '--publish-to', url, '--targets-key', key, ...extra], {
        env: { ...env, TUFA_PASSPHRASE: sandbox.env.TUFA_PASSPHRASE },
      });
    expectError(await attach([]), 7, /certificate/i, '--ca');
    expectExit(await attach(['--ca', CA]), 0);
    expect(JSON.parse(readFileSync(configPath(second.home, SERVER_GUN), 'utf8')).ca).toBe(CA);
    expectExit(
      await second.tufa(['status', SERVER_GUN], {
        env: { ...env, TUFA_PASSPHRASE: sandbox.env.TUFA_PASSPHRASE },
      }),
      0,
    );
  });

  it('publish --from the trust server --to the registry with one CA file', async () => {
    const target = `${registry.host}/team/copy`;
    expectError(
      await tufa(['publish', SERVER_GUN, '--from', url, '--to', `oci://${target}`, '--ca', 'missing.pem']),
      5,
      'cannot read the CA file',
    );
    const r = expectJson<{ copied: string[] }>(
      await tufa(['--json', 'publish', SERVER_GUN, '--to', `oci://${target}`]),
    );
    expect(r.copied.at(-1)).toBe('metadata/timestamp.json');
  });
});
