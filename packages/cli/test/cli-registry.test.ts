/**
 * The registry-aware commands through the built binary, against the real distribution registry
 * (Debian's docker-registry, started by @tufa/oci's test harness) with images pushed by skopeo:
 * sign what the registry serves, verify --registry, resolve, inspect, an index, tags from the
 * registry, credentials from a Docker config and a credential helper, a missing tag, the
 * registry down.
 */
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialFixture } from '../../oci/test/helpers/credentials.js';
import {
  HAVE_REGISTRY_TOOLS,
  pushImage,
  type Registry,
  requireRegistryTools,
  startRegistry,
  type User,
  type WrittenImage,
  writeImageLayout,
} from '../../oci/test/helpers/registry.js';
import { expectError, expectExit, expectJson, publisher, type RunOptions, Sandbox } from './helpers/cli.js';

requireRegistryTools();

describe.skipIf(!HAVE_REGISTRY_TOOLS)('registry-aware commands against docker-registry', () => {
  const sandbox = new Sandbox('tufa-registry-cli-');
  let registry: Registry;
  let gun: string;
  let pub: ReturnType<typeof publisher>;
  const layouts = sandbox.path('layouts');
  mkdirSync(layouts, { recursive: true });
  mkdirSync(sandbox.path('docker-empty'), { recursive: true });
  // Hermetic: no Docker config, auth.json or registry variables of the machine running the tests.
  const registryEnv = {
    DOCKER_CONFIG: sandbox.path('docker-empty'),
    REGISTRY_AUTH_FILE: sandbox.path('no-auth.json'),
    XDG_RUNTIME_DIR: undefined,
  };
  const tufa = (args: string[], options: RunOptions = {}) =>
    sandbox.tufa(args, { ...options, env: { ...registryEnv, ...options.env } });
  const client = () => {
    const c = sandbox.client();
    return (args: string[], options: RunOptions = {}) =>
      c.tufa(args, { ...options, env: { ...registryEnv, ...options.env } });
  };
  const server = () => ['--server', 'pub', '--root', pub.root];
  const image = (seed: string, platforms?: WrittenImage['platforms'][number]['platform'][]) =>
    writeImageLayout(layouts, { seed, ...(platforms ? { platforms } : {}) });

  beforeAll(async () => {
    registry = await startRegistry();
    gun = `${registry.host}/team/app`;
    pub = publisher(sandbox, gun);
    await pub.init();
  });
  afterAll(async () => {
    await registry?.stop();
    sandbox.cleanup();
  });

  it('sign REF signs what the registry serves; verify --registry and resolve agree', async () => {
    const img = image('one');
    await pushImage(img, `${gun}:1.0`);
    const s = expectJson<{ signed: { tag: string; digest: string; size: number }[] }>(
      await tufa(['--json', 'sign', `${gun}:1.0`]),
    );
    expect(s.signed).toEqual([{ tag: '1.0', digest: img.digest, size: img.size, role: 'targets' }]);

    const run = client();
    const v = expectJson<{ digest: string; pinned: string; registry: { digest: string } }>(
      await run(['--json', 'verify', `${gun}:1.0`, '--registry', ...server()]),
    );
    expect(v.digest).toBe(img.digest);
    expect(v.pinned).toBe(`${gun}@${img.digest}`);
    expect(v.registry.digest).toBe(img.digest);

    const r = expectExit(await run(['resolve', `${gun}:1.0`, ...server()]), 0);
    expect(r.stdout).toBe(`${gun}@${img.digest}\n`);
  });

  it('a different image pushed to a signed tag: verify --registry and resolve exit 4', async () => {
    const first = image('moved-1');
    await pushImage(first, `${gun}:moved`);
    expectExit(await tufa(['sign', `${gun}:moved`]), 0);
    const second = image('moved-2');
    await pushImage(second, `${gun}:moved`);

    const run = client();
    // Without --registry the signed digest verifies: TUF says what the tag means.
    expectExit(await run(['verify', `${gun}:moved`, ...server()]), 0);
    expectError(
      await run(['verify', `${gun}:moved`, '--registry', ...server()]),
      4,
      `the registry serves ${gun}:moved as ${second.digest}`,
      `${gun}@${first.digest}`,
    );
    const r = await run(['resolve', `${gun}:moved`, ...server()]);
    expectExit(r, 4);
    expect(r.stdout).toBe('');
  });

  it('an index is signed by its index digest, with the platform manifests in custom', async () => {
    const idx = image('multi', [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
    ]);
    await pushImage(idx, `${gun}:multi`);
    expectExit(await tufa(['sign', `${gun}:multi`]), 0);
    const run = client();
    const l = expectJson<{
      digest: string;
      size: number;
      custom: { platforms: unknown[]; mediaType: string };
    }>(await run(['--json', 'lookup', `${gun}:multi`, ...server()]));
    expect(l.digest).toBe(idx.digest);
    expect(l.size).toBe(idx.size);
    expect(l.custom.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(l.custom.platforms).toEqual(
      idx.platforms.map((p) => ({
        digest: p.digest,
        size: p.size,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        platform: p.platform,
      })),
    );
    expectExit(await run(['verify', `${gun}:multi`, '--registry', ...server()]), 0);
  });

  it('--tags PATTERN and --all-tags sign what the registry lists (metadata tags left out)', async () => {
    const other = `${registry.host}/team/many`;
    const p = publisher(sandbox, other);
    expectExit(await tufa(['init', other, '--publish-root', 'pub', '--root-key-out', 'offline']), 0);
    const a = image('v1.0');
    const b = image('v1.1');
    const c = image('edge');
    await pushImage(a, `${other}:v1.0`);
    await pushImage(b, `${other}:v1.1`);
    await pushImage(c, `${other}:edge`);
    const some = expectJson<{ signed: { tag: string; digest: string }[] }>(
      await tufa(['--json', 'sign', other, '--tags', 'v1.*']),
    );
    expect(some.signed.map((t) => [t.tag, t.digest]).sort()).toEqual([
      ['v1.0', a.digest],
      ['v1.1', b.digest],
    ]);
    const all = expectJson<{ signed: { tag: string }[] }>(
      await tufa(['--json', 'sign', other, '--all-tags']),
    );
    expect(all.signed.map((t) => t.tag).sort()).toEqual(['edge', 'v1.0', 'v1.1']);
    const run = client();
    const i = expectJson<{ signedTags: { tag: string }[]; roles: { role: string; signedBy: string[] }[] }>(
      await run(['--json', 'inspect', other, '--server', 'pub', '--root', p.root]),
    );
    expect(i.signedTags.map((t) => t.tag)).toEqual(['edge', 'v1.0', 'v1.1']);
    expect(i.roles.map((r) => r.role)).toEqual(['targets']);
    expect(i.roles[0]?.signedBy).toHaveLength(1);
    expectError(
      await tufa(['sign', other, '--tags', 'nomatch*']),
      5,
      'the registry lists no image tags matching',
    );
  });

  it('inspect shows tags, roles, keys and expiry (human and --json)', async () => {
    const run = client();
    const j = expectJson<{
      gun: string;
      signedTags: { tag: string; digest: string; role: string }[];
      roles: { role: string; expires: string; keyids: string[]; signedBy: string[]; threshold: number }[];
      root: { version: number };
    }>(await run(['--json', 'inspect', `${gun}:1.0`, ...server()]));
    expect(j.signedTags).toHaveLength(1);
    expect(j.signedTags[0]?.tag).toBe('1.0');
    expect(j.roles[0]?.role).toBe('targets');
    expect(j.roles[0]?.threshold).toBe(1);
    expect(j.roles[0]?.expires).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(j.roles[0]?.signedBy).toEqual(j.roles[0]?.keyids);
    expect(j.root.version).toBe(1);
    const h = expectExit(await run(['inspect', gun, ...server()]), 0);
    expect(h.stdout).toContain(`signed tags in ${gun}:`);
    expect(h.stdout).toMatch(/targets v\d+, expires \d{4}-/);
    expectError(await run(['inspect', `${gun}:nope`, ...server()]), 5, `${gun}:nope is not signed`);
  });

  it('a tag the registry does not have: sign exits 5 and signs nothing', async () => {
    expectError(await tufa(['sign', `${gun}:absent`]), 5, 'not found');
    expectError(await client()(['verify', `${gun}:absent`, ...server()]), 5, 'is not signed');
  });

  it('a signed tag the registry no longer serves: verify --registry exits 5', async () => {
    const img = image('gone');
    await pushImage(img, `${gun}:gone`);
    expectExit(await tufa(['sign', `${gun}:gone`]), 0);
    const res = await fetch(`${registry.url}/v2/team/app/manifests/${img.digest}`, { method: 'DELETE' });
    expect(res.status).toBe(202);
    expectError(
      await client()(['verify', `${gun}:gone`, '--registry', ...server()]),
      5,
      'is signed but the registry does not serve it',
    );
  });

  it('the reserved TUF-in-OCI prefix is refused as an image tag (exit 2)', async () => {
    expectError(await tufa(['sign', `${gun}:_tufa.x`]), 2, 'reserved for TUF metadata');
    expectError(
      await tufa(['sign', gun, '_tufa.timestamp', '--digest', `sha256:${'a'.repeat(64)}`, '--size', '1']),
      2,
      'reserved for TUF metadata',
    );
  });

  it('the registry down: exit 7 naming it', async () => {
    const down = await startRegistry();
    const host = down.host;
    await down.stop();
    const g = `${host}/team/app`;
    expectExit(await tufa(['init', g, '--publish-root', 'pub', '--root-key-out', 'offline']), 0);
    const r = await tufa(['sign', `${g}:1`]);
    expectExit(r, 7);
    expect(r.stderr).toContain(host);
  });
});

describe.skipIf(!HAVE_REGISTRY_TOOLS)('registry credentials (htpasswd registry)', () => {
  const sandbox = new Sandbox('tufa-registry-creds-');
  const USER: User = { username: 'ci-bot', password: 'Registry-secret-4471' };
  let registry: Registry;
  let gun: string;
  let img: WrittenImage;
  const fx = credentialFixture();

  beforeAll(async () => {
    registry = await startRegistry({ mode: 'htpasswd', users: [USER] });
    gun = `${registry.host}/team/private`;
    const layouts = sandbox.path('layouts');
    mkdirSync(layouts, { recursive: true });
    img = writeImageLayout(layouts, { seed: 'private' });
    await pushImage(img, `${gun}:1.0`, { credentials: USER });
    expectExit(await sandbox.tufa(['init', gun, '--publish-root', 'pub', '--root-key-out', 'offline']), 0);
  });
  afterAll(async () => {
    await registry?.stop();
    fx.cleanup();
    sandbox.cleanup();
  });

  const env = (extra: Record<string, string | undefined> = {}) => ({
    ...fx.env,
    REGISTRY_AUTH_FILE: sandbox.path('no-auth.json'),
    XDG_RUNTIME_DIR: undefined,
    ...extra,
  });

  it('without credentials the registry refuses: exit 6 saying where credentials were looked for', async () => {
    fx.writeDockerConfig({});
    const r = await sandbox.tufa(['--json', 'sign', `${gun}:1.0`], { env: env() });
    expectError(r, 6, `${registry.host} requires authentication and no credentials were found for it`);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'UNAUTHORIZED', exitCode: 6 });
  });

  it('from the auths of a Docker config file', async () => {
    const auth = Buffer.from(`${USER.username}:${USER.password}`).toString('base64');
    fx.writeDockerConfig({ auths: { [registry.host]: { auth } } });
    const r = expectJson<{ signed: { digest: string }[] }>(
      await sandbox.tufa(['--json', 'sign', `${gun}:1.0`], { env: env() }),
    );
    expect(r.signed[0]?.digest).toBe(img.digest);
    expect(JSON.stringify(r)).not.toContain(USER.password);
  });

  it('from a docker-credential-test helper named in credHelpers', async () => {
    fx.writeDockerConfig({ credHelpers: { [registry.host]: 'test' } });
    fx.helper('test', {
      stdout: JSON.stringify({ ServerURL: registry.host, Username: USER.username, Secret: USER.password }),
    });
    const root = `${sandbox.path('pub')}/${gun}/metadata/1.root.json`;
    const r = await sandbox
      .client()
      .tufa(['verify', `${gun}:1.0`, '--registry', '--server', 'pub', '--root', root], { env: env() });
    expectExit(r, 0);
    expect(`${r.stdout}${r.stderr}`).not.toContain(USER.password);
    expect(fx.helperCalls('test').map((c) => c.stdin.trim())).toContain(registry.host);
  });

  it('from TUFA_REGISTRY_USERNAME and TUFA_REGISTRY_PASSWORD', async () => {
    fx.writeDockerConfig({});
    const r = await sandbox.tufa(['sign', `${gun}:1.0`], {
      env: env({ TUFA_REGISTRY_USERNAME: USER.username, TUFA_REGISTRY_PASSWORD: USER.password }),
    });
    expectExit(r, 0);
    expect(`${r.stdout}${r.stderr}`).not.toContain(USER.password);
  });
});
