/**
 * RegistryClient against a real registry with htpasswd (bcrypt) Basic authentication: the
 * credentials come from each of Docker's sources — environment, Docker config, a credential
 * helper program on PATH, REGISTRY_AUTH_FILE — and what happens without them or with wrong ones.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTempDir } from '../../core/test/helpers/temp-dir.js';
import { RegistryClient } from '../src/client.js';
import { basicAuth, type CredentialFixture, useCredentialFixture } from './helpers/credentials.js';
import { failure } from './helpers/failure.js';
import {
  HAVE_REGISTRY_TOOLS,
  pushImage,
  type Registry,
  requireRegistryTools,
  startRegistry,
  type WrittenImage,
  writeImageLayout,
} from './helpers/registry.js';

requireRegistryTools();

const USER = { username: 'alice', password: 'Alice-pa55-never-shown-4417' };
let registry: Registry;
let work = '';
let image: WrittenImage;
let fx: CredentialFixture;
let ref = '';

const clientWith = (env: Record<string, string> = {}) =>
  new RegistryClient({ env: { ...fx.env, ...env }, homeDir: fx.dir });

describe.skipIf(!HAVE_REGISTRY_TOOLS)('RegistryClient against docker-registry (htpasswd)', () => {
  useTempDir('all', (d) => {
    work = d;
  });
  useCredentialFixture((f) => {
    fx = f;
  });
  beforeAll(async () => {
    registry = await startRegistry({ mode: 'htpasswd', users: [USER] });
    image = writeImageLayout(work, { seed: 'basic' });
    await pushImage(image, `${registry.host}/team/app:1.0`, { credentials: USER });
    ref = `${registry.host}/team/app:1.0`;
  }, 120_000);
  afterAll(async () => {
    await registry?.stop();
  });

  it('without credentials: 401, saying where it looked', async () => {
    const e = await failure(clientWith().resolve(ref));
    expect(e).toMatchObject({ code: 'FETCH', status: 401 });
    expect(e.message).toContain(
      `${registry.host} requires authentication and no credentials were found for it`,
    );
    expect(e.message).toContain(fx.dockerConfigDir);
  });

  it('from TUFA_REGISTRY_USERNAME/TUFA_REGISTRY_PASSWORD', async () => {
    const c = clientWith({ TUFA_REGISTRY_USERNAME: USER.username, TUFA_REGISTRY_PASSWORD: USER.password });
    expect((await c.resolve(ref)).digest).toBe(image.digest);
    expect(await c.listTags(ref)).toEqual(['1.0']);
  });

  it('from the Docker config', async () => {
    fx.writeDockerConfig({
      auths: { [`http://${registry.host}/v2/`]: { auth: basicAuth(USER.username, USER.password) } },
    });
    expect((await clientWith().getManifest(ref)).descriptor.digest).toBe(image.digest);
  });

  it('from a credential helper (docker-credential-test on PATH), asked once for the registry', async () => {
    fx.writeDockerConfig({ credHelpers: { [registry.host]: 'test' } });
    fx.helper('test', {
      stdout: JSON.stringify({ ServerURL: registry.host, Username: USER.username, Secret: USER.password }),
    });
    const c = clientWith();
    expect((await c.getManifest(ref)).descriptor.digest).toBe(image.digest);
    expect(await c.listTags(ref)).toEqual(['1.0']);
    expect(fx.helperCalls('test')).toEqual([{ args: ['get'], stdin: registry.host }]);
  });

  it('from REGISTRY_AUTH_FILE', async () => {
    const path = fx.writeRaw(
      'auth.json',
      JSON.stringify({
        auths: { [`${registry.host}/team`]: { auth: basicAuth(USER.username, USER.password) } },
      }),
    );
    expect((await clientWith({ REGISTRY_AUTH_FILE: path }).resolve(ref)).digest).toBe(image.digest);
  });

  it('wrong credentials: 401 naming their source, never the password', async () => {
    const wrong = 'Wrong-pa55-never-shown-9';
    fx.writeDockerConfig({ auths: { [registry.host]: { auth: basicAuth(USER.username, wrong) } } });
    const e = await failure(clientWith().resolve(ref));
    expect(e).toMatchObject({ code: 'FETCH', status: 401 });
    expect(e.message).toContain(
      `${registry.host} refused the credentials from ${fx.dockerConfigDir}/config.json auths["${registry.host}"]`,
    );
    expect(e.message).not.toContain(wrong);
  });

  it('an identity token cannot answer a Basic challenge (KEY)', async () => {
    fx.writeDockerConfig({ auths: { [registry.host]: { identitytoken: 'refresh-token-value-abc' } } });
    const e = await failure(clientWith().resolve(ref));
    expect(e.code).toBe('KEY');
    expect(e.message).not.toContain('refresh-token-value-abc');
  });
});
