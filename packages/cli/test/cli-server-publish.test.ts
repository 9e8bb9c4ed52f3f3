/**
 * A repository published to a trust server (issue 15) through the built binary: a real
 * `tufa server` on an embedded store on loopback, with a static token per GUN. `tufa init
 * --publish-to http://127.0.0.1:PORT` creates the GUN there (the server makes the snapshot and
 * timestamp keys), then sign, targets key rotation, a delegation, status and attach work on it
 * unchanged, each verified by `tufa verify --server`; what the server does itself (timestamp,
 * its keys' rotation) and `tufa unlock` are usage errors, and a wrong token is exit 6.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTokenIssuer, type TokenIssuer } from '../../oci/test/helpers/registry.js';
import { BIN, digestOf, expectError, expectExit, expectJson, Sandbox, tufaEnv } from './helpers/cli.js';

const sandbox = new Sandbox('tufa-server-publish-');
const GUN = 'registry.test/team/app';
const TOKEN = 'publisher-token-for-tests-5083';
const NOTARY_GUN = 'example.com/notary/app';
const VECTORS = join(import.meta.dirname, '../../../test-vectors/notary');
const OTHER_TOKEN = 'token-of-another-gun-7712';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const TOKENS = JSON.stringify([
  { sha256: sha(TOKEN), scopes: [`repository:${GUN}:pull,push`, `repository:${NOTARY_GUN}:pull,push`] },
  { sha256: sha(OTHER_TOKEN), scopes: ['repository:registry.test/team/other:pull,push'] },
]);

let child: ChildProcess | undefined;
let url = '';
const root = sandbox.path('1.root.json');
const withToken = (token = TOKEN) => ({ env: { TUFA_AUTH_TOKEN: token } });
const client = sandbox.client();
const verify = (tag: string) =>
  client.tufa(['--json', 'verify', `${GUN}:${tag}`, '--server', url, '--root', root]);

beforeAll(async () => {
  child = spawn(
    process.execPath,
    [BIN, '--json', 'server', '--listen', '127.0.0.1:0', '--store', 'trust', '--anonymous-read'],
    {
      cwd: sandbox.dir,
      env: tufaEnv({
        ...sandbox.env,
        TUFA_SERVER_KEY_PASSPHRASE: 'online-keys-passphrase-for-tests-0042',
        TUFA_SERVER_TOKENS: TOKENS,
        TUFA_SCRYPT_N: '1024',
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  url = await new Promise<string>((done, fail) => {
    child?.on('exit', (code) => fail(new Error(`tufa server exited with ${code}: ${out}`)));
    child?.stdout?.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const m = /"url": "(http:\/\/127\.0\.0\.1:\d+\/)"/.exec(out);
      if (m) done((m[1] as string).replace(/\/$/, ''));
    });
  });
});
afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child?.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  sandbox.cleanup();
});

describe('tufa init --publish-to a trust server', () => {
  it('a snapshot or timestamp key of our own is refused: the server holds those (exit 2)', async () => {
    expectExit(await sandbox.tufa(['key', 'generate', 'own-snapshot']), 0);
    expectError(
      await sandbox.tufa(
        ['init', GUN, '--publish-to', url, '--root-key-out', 'offline', '--snapshot-key', 'own-snapshot'],
        withToken(),
      ),
      2,
      '--snapshot-key: a trust server signs snapshot with a key it makes and holds itself',
    );
  });

  it('without a token the server refuses the upload: exit 6, no key left behind', async () => {
    const r = await sandbox.tufa(['init', GUN, '--publish-to', url, '--root-key-out', 'offline']);
    expectError(r, 6, `${url} refused the request without a token for ${GUN}`, 'TUFA_AUTH_TOKEN');
    expect(existsSync(sandbox.path('offline', 'root-registry-test-team-app.json'))).toBe(false);
    expect(existsSync(join(sandbox.home, 'keys', 'registry-test-team-app-targets.json'))).toBe(false);
  });

  it('creates the GUN on the server and records it, with a targets key only', async () => {
    const r = expectJson<{ repository: string; keys: Record<string, unknown>; written: string[] }>(
      await sandbox.tufa(
        ['--json', 'init', GUN, '--publish-to', url, '--root-key-out', 'offline'],
        withToken(),
      ),
    );
    expect(r.repository).toBe(url);
    expect(Object.keys(r.keys)).toEqual(['targets']);
    expect(r.written).toEqual(expect.arrayContaining(['metadata/1.root.json', 'metadata/timestamp.json']));
    const config = JSON.parse(
      readFileSync(
        join(sandbox.home, 'repos', encodeURIComponent(GUN).replace(/\./g, '%2E'), 'config.json'),
        'utf8',
      ),
    );
    expect(config).toMatchObject({ publishTo: url, keys: { targets: expect.any(String) } });
    expect(Object.keys(config.keys)).toEqual(['targets']);
    const res = await fetch(`${url}/${GUN}/metadata/1.root.json`);
    expect(res.status).toBe(200);
    writeFileSync(root, Buffer.from(await res.arrayBuffer()));
  });

  it('a second machine cannot init the same GUN there: already published (exit 2)', async () => {
    expectError(
      await sandbox.client().tufa(['init', GUN, '--publish-to', url, '--root-key-out', 'o2'], {
        env: { TUFA_AUTH_TOKEN: TOKEN, TUFA_PASSPHRASE: sandbox.env.TUFA_PASSPHRASE },
      }),
      2,
      `a repository is already published at ${url}`,
    );
  });

  it('sign uploads targets; the server signs snapshot and timestamp; verify --server verifies', async () => {
    const r = expectJson<{ versions: Record<string, number> }>(
      await sandbox.tufa(
        ['--json', 'sign', `${GUN}:1.0`, '--digest', digestOf('one'), '--size', '3'],
        withToken(),
      ),
    );
    expect(r.versions).toMatchObject({ targets: 2 });
    expect(expectJson<{ digest: string }>(await verify('1.0')).digest).toBe(digestOf('one'));
  });

  it('two publishers at once: the stale upload is applied again to the current version, no tag lost', async () => {
    const sign = (tag: string) =>
      sandbox.tufa(
        ['--json', 'sign', `${GUN}:${tag}`, '--digest', digestOf(tag), '--size', '1'],
        withToken(),
      );
    const [a, b] = await Promise.all([sign('c1'), sign('c2')]);
    expectExit(a, 0);
    expectExit(b, 0);
    expect(expectJson<{ digest: string }>(await verify('c1')).digest).toBe(digestOf('c1'));
    expect(expectJson<{ digest: string }>(await verify('c2')).digest).toBe(digestOf('c2'));
    expect(expectJson<{ digest: string }>(await verify('1.0')).digest).toBe(digestOf('one'));
  });

  it('timestamp, snapshot key rotation and unlock are the server’s business (exit 2)', async () => {
    expectError(
      await sandbox.tufa(['timestamp', GUN], withToken()),
      2,
      'the trust server re-signs timestamp (and snapshot) itself',
    );
    expectError(
      await sandbox.tufa(['key', 'rotate', GUN, 'snapshot', '--root-key', 'x'], withToken()),
      2,
      'the trust server holds the snapshot key',
    );
    expectError(await sandbox.tufa(['unlock', GUN], withToken()), 2, 'a trust server orders uploads itself');
  });

  it('targets key rotation uploads root version 2; signing with the new key verifies', async () => {
    const rootKey = sandbox.path('offline', 'root-registry-test-team-app.json');
    const r = expectJson<{ versions: Record<string, number> }>(
      await sandbox.tufa(['--json', 'key', 'rotate', GUN, 'targets', '--root-key', rootKey], withToken()),
    );
    expect(r.versions['root']).toBe(2);
    expectExit(
      await sandbox.tufa(['sign', `${GUN}:2.0`, '--digest', digestOf('two'), '--size', '3'], withToken()),
      0,
    );
    expect(expectJson<{ digest: string }>(await verify('2.0')).digest).toBe(digestOf('two'));
  });

  it('a delegation: added, signed into, verified; status shows every role verified', async () => {
    expectExit(await sandbox.tufa(['key', 'generate', 'releases-bot']), 0);
    expectExit(
      await sandbox.tufa(
        ['delegation', 'add', GUN, 'releases', '--key', 'releases-bot', '--paths', 'rel-*'],
        withToken(),
      ),
      0,
    );
    expectExit(
      await sandbox.tufa(
        ['sign', `${GUN}:rel-1`, '--role', 'releases', '--digest', digestOf('rel'), '--size', '3'],
        withToken(),
      ),
      0,
    );
    expect(expectJson<{ role: string }>(await verify('rel-1')).role).toBe('releases');
    const s = expectJson<{ repository: string; roles: { role: string; verified: boolean }[] }>(
      await sandbox.tufa(['--json', 'status', GUN], withToken()),
    );
    expect(s.repository).toBe(url);
    expect(expectExit(await sandbox.tufa(['status', GUN], withToken()), 0).stdout).toMatch(
      new RegExp(`^${GUN}, published at ${url} \\(a trust server\\)\n`),
    );
    expect(s.roles.map((x) => x.role)).toEqual(['root', 'targets', 'snapshot', 'timestamp', 'releases']);
    expect(s.roles.every((x) => x.verified)).toBe(true);
  });

  it('a token for another GUN is refused (exit 6), the token never shown', async () => {
    const r = await sandbox.tufa(
      ['sign', `${GUN}:3.0`, '--digest', digestOf('three'), '--size', '5'],
      withToken(OTHER_TOKEN),
    );
    expectError(r, 6, `refused the token in TUFA_AUTH_TOKEN for ${GUN}`);
    expect(`${r.stdout}${r.stderr}`).not.toContain(OTHER_TOKEN);
  });

  it('tufa publish --from the server exports it to a directory that verifies; the server is never a destination', async () => {
    const machine = sandbox.client();
    const r = expectJson<{ copied: string[]; versions: Record<string, number> }>(
      await machine.tufa(['--json', 'publish', GUN, '--from', url, '--to', 'export']),
    );
    expect(r.versions).toMatchObject({ root: 2, releases: 2 });
    expect(r.copied).toEqual(expect.arrayContaining(['metadata/1.root.json', 'metadata/2.root.json']));
    const v = await sandbox
      .client()
      .tufa(['--json', 'verify', `${GUN}:rel-1`, '--server', 'export', '--root', root]);
    expect(expectJson<{ role: string }>(v).role).toBe('releases');
    expectError(
      await sandbox.tufa(['publish', GUN, '--from', 'export', '--to', url]),
      2,
      'a trust server signs snapshot and timestamp with keys it holds',
    );
    expectError(
      await sandbox.tufa(['publish', GUN, '--to', 'mirror', '--switch'], withToken()),
      2,
      'which holds its snapshot and timestamp keys',
    );
  });

  it('notary migrate --publish-to the server: the Notary tags, verified from the server', async () => {
    const source = [
      '--trust-dir',
      join(VECTORS, 'trust'),
      '--as-of',
      readFileSync(join(VECTORS, 'created.txt'), 'utf8').trim(),
    ];
    expectExit(
      await sandbox.tufa(['init', NOTARY_GUN, '--publish-to', url, '--root-key-out', 'offline'], withToken()),
      0,
    );
    const r = expectJson<{ imported: { tag: string; digest: string }[] }>(
      await sandbox.tufa(
        ['--json', 'notary', 'migrate', NOTARY_GUN, ...source, '--publish-to', url],
        withToken(),
      ),
    );
    const first = r.imported[0] as { tag: string; digest: string };
    const res = await fetch(`${url}/${NOTARY_GUN}/metadata/1.root.json`);
    writeFileSync(sandbox.path('notary-root.json'), Buffer.from(await res.arrayBuffer()));
    const v = await client.tufa([
      '--json',
      'verify',
      `${NOTARY_GUN}:${first.tag}`,
      '--server',
      url,
      '--root',
      sandbox.path('notary-root.json'),
    ]);
    expect(expectJson<{ digest: string }>(v).digest).toBe(first.digest);
  });

  it('attach on a second machine takes a targets key only', async () => {
    const second = sandbox.client();
    const env = { TUFA_AUTH_TOKEN: TOKEN, TUFA_PASSPHRASE: sandbox.env.TUFA_PASSPHRASE };
    const targetsKey = join(sandbox.home, 'keys', 'registry-test-team-app-targets-2.json');
    expectError(
      await second.tufa(
        ['attach', GUN, '--publish-to', url, '--targets-key', targetsKey, '--snapshot-key', 'x'],
        { env },
      ),
      2,
      'is a trust server, which signs snapshot with its own key',
    );
    expectExit(
      await second.tufa(['attach', GUN, '--publish-to', url, '--targets-key', targetsKey], { env }),
      0,
    );
    expectExit(
      await second.tufa(['sign', `${GUN}:3.0`, '--digest', digestOf('three'), '--size', '5'], { env }),
      0,
    );
    expect(expectJson<{ digest: string }>(await verify('3.0')).digest).toBe(digestOf('three'));
  });

  it('a root ceremony: a request signed with the root key, then root publish', async () => {
    const rootKey = sandbox.path('offline', 'root-registry-test-team-app.json');
    expectExit(
      await sandbox.tufa(
        ['root', 'sign-request', GUN, '--threshold', '1', '--root-key', rootKey, '-o', 'ceremony.json'],
        withToken(),
      ),
      0,
    );
    const r = expectJson<{ published: { role: string; version: number } }>(
      await sandbox.tufa(['--json', 'root', 'publish', GUN, 'ceremony.json'], withToken()),
    );
    expect(r.published).toEqual({ role: 'root', version: 3 });
    // The client walks the root chain to the new version.
    expectExit(await verify('2.0'), 0);
  });
});

describe('a trust server behind a registry token service', () => {
  const TOKEN_GUN = 'registry.test/team/jwt';
  const user = { username: 'carol', password: 'carol-registry-password-5150' };
  let issuer: TokenIssuer;
  let jwtServer: ChildProcess | undefined;
  let jwtUrl = '';
  const creds = (password = user.password) => ({
    env: { TUFA_REGISTRY_USERNAME: user.username, TUFA_REGISTRY_PASSWORD: password },
  });

  beforeAll(async () => {
    issuer = await startTokenIssuer({ users: [user] });
    jwtServer = spawn(
      process.execPath,
      [
        BIN,
        '--json',
        'server',
        '--listen',
        '127.0.0.1:0',
        '--store',
        'trust-jwt',
        '--token-certs',
        issuer.certificatePath,
        '--token-issuer',
        issuer.issuer,
        '--token-service',
        issuer.service,
        '--token-realm',
        issuer.realm,
      ],
      {
        cwd: sandbox.dir,
        env: tufaEnv({
          ...sandbox.env,
          TUFA_SERVER_KEY_PASSPHRASE: 'online-keys-passphrase-for-tests-0042',
          TUFA_SCRYPT_N: '1024',
        }),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    jwtUrl = await new Promise<string>((done, fail) => {
      jwtServer?.on('exit', (code) => fail(new Error(`tufa server exited with ${code}: ${out}`)));
      jwtServer?.stdout?.setEncoding('utf8').on('data', (c: string) => {
        out += c;
        const m = /"url": "(http:\/\/127\.0\.0\.1:\d+\/)"/.exec(out);
        if (m) done((m[1] as string).replace(/\/$/, ''));
      });
    });
  });
  afterAll(async () => {
    if (jwtServer && jwtServer.exitCode === null) {
      const exited = new Promise((r) => jwtServer?.once('exit', r));
      jwtServer.kill('SIGTERM');
      await exited;
    }
    await issuer?.stop();
  });

  it('refuses to send the registry credentials to a realm the user did not allow', async () => {
    // The trust server names a realm on 127.0.0.1; the GUN's registry is registry.test.
    const r = await sandbox.tufa(
      ['init', TOKEN_GUN, '--publish-to', jwtUrl, '--root-key-out', 'offline-jwt-refused'],
      creds(),
    );
    expectError(
      r,
      6,
      /refusing to send the credentials for registry\.test to the token realm on 127\.0\.0\.1/,
      /"tokenRealmHosts": \["127\.0\.0\.1"\]/,
    );
    expect(issuer.requests.filter((q) => q.authorization?.startsWith('Basic '))).toEqual([]);
    expect(`${r.stdout}${r.stderr}`).not.toContain(user.password);
  });

  it('init and sign get a push token from the token service with the registry credentials', async () => {
    // The user names the token service's host as one that may receive registry credentials.
    for (const home of [sandbox.home, client.home]) {
      mkdirSync(home, { recursive: true });
      writeFileSync(join(home, 'config.json'), '{"tokenRealmHosts": ["127.0.0.1"]}\n');
    }
    const r = await sandbox.tufa(
      ['--json', 'init', TOKEN_GUN, '--publish-to', jwtUrl, '--root-key-out', 'offline-jwt'],
      creds(),
    );
    expect(expectJson<{ repository: string }>(r).repository).toBe(jwtUrl);
    expectExit(
      await sandbox.tufa(['sign', `${TOKEN_GUN}:1.0`, '--digest', digestOf('jwt'), '--size', '3'], creds()),
      0,
    );
    // The token service was asked for push on the GUN, with the user's credentials.
    const asked = issuer.requests.filter((q) => q.authorization?.startsWith('Basic '));
    expect(asked.length).toBeGreaterThan(0);
    expect(decodeURIComponent(asked[0]?.url ?? '')).toContain(`scope=repository:${TOKEN_GUN}:pull,push`);

    // A reader with registry credentials and no TUFA_AUTH_TOKEN: the server challenges the first
    // GET, and verify runs the token flow, for pull only.
    const before = issuer.requests.length;
    const read = await client.tufa(
      ['--json', 'verify', `${TOKEN_GUN}:1.0`, '--server', jwtUrl, '--unsafe-tofu'],
      creds(),
    );
    expect(expectJson<{ digest: string }>(read).digest).toBe(digestOf('jwt'));
    const pulled = issuer.requests.slice(before).filter((q) => q.authorization?.startsWith('Basic '));
    expect(pulled.length).toBe(1);
    expect(decodeURIComponent(pulled[0]?.url ?? '')).toContain(`scope=repository:${TOKEN_GUN}:pull`);
    expect(decodeURIComponent(pulled[0]?.url ?? '')).not.toContain('push');
    // Without credentials the anonymous token grants nothing: refused, not verified.
    const anonymous = await client.tufa(['verify', `${TOKEN_GUN}:1.0`, '--server', jwtUrl, '--unsafe-tofu'], {
      env: { DOCKER_CONFIG: sandbox.path('no-docker') },
    });
    expect(anonymous.code).not.toBe(0);
  });

  it('--token-realm-host on a publishing command allows the realm as tokenRealmHosts does', async () => {
    const settings = join(sandbox.home, 'config.json');
    writeFileSync(settings, '{}\n');
    try {
      const sign = (extra: string[]) =>
        sandbox.tufa(
          ['sign', `${TOKEN_GUN}:1.1`, '--digest', digestOf('jwt'), '--size', '3', ...extra],
          creds(),
        );
      expectError(
        await sign([]),
        6,
        /refusing to send the credentials for registry\.test to the token realm on 127\.0\.0\.1/,
        'add --token-realm-host 127.0.0.1',
      );
      expectExit(await sign(['--token-realm-host', '127.0.0.1']), 0);
    } finally {
      writeFileSync(settings, '{"tokenRealmHosts": ["127.0.0.1"]}\n');
    }
  });

  it('a wrong password, or none: refused with exit 6 and code UNAUTHORIZED, as a registry refuses them', async () => {
    const wrong = await sandbox.tufa(
      ['--json', 'sign', `${TOKEN_GUN}:2.0`, '--digest', digestOf('jwt2'), '--size', '4'],
      creds('not-the-password'),
    );
    // The token service refusing the credentials: the same exit and code as the server's refusal.
    expectError(wrong, 6, 'the credentials were refused', 'TUFA_REGISTRY_USERNAME');
    expect(JSON.parse(wrong.stdout).error).toMatchObject({ code: 'UNAUTHORIZED', exitCode: 6 });
    expect(`${wrong.stdout}${wrong.stderr}`).not.toContain('not-the-password');
    // Without credentials the anonymous token grants nothing: the server refuses it.
    const none = await sandbox.tufa(
      ['--json', 'sign', `${TOKEN_GUN}:2.0`, '--digest', digestOf('jwt2'), '--size', '4'],
      { env: { DOCKER_CONFIG: sandbox.path('no-docker') } },
    );
    expectError(none, 6, `${jwtUrl} refused`);
    expect(JSON.parse(none.stdout).error).toMatchObject({ code: 'UNAUTHORIZED', exitCode: 6 });
  });
});
