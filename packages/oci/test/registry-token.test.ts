/**
 * RegistryClient against a real registry with token authentication: the test's token issuer
 * signs ES256 JWTs with a self-signed certificate in `x5c`, which the registry verifies against
 * its rootcertbundle. The user name and password go to the realm (on the registry's host) as
 * Basic; an identity token goes in an OAuth2 refresh-token POST; anonymous gets no access.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
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
  startTokenIssuer,
  type TokenIssuer,
  type WrittenImage,
  writeImageLayout,
} from './helpers/registry.js';

requireRegistryTools();

const USER = { username: 'bob', password: 'Bob-pa55-never-shown-2231' };
const REFRESH = 'identity-token-never-shown-6612';
let issuer: TokenIssuer;
let registry: Registry;
let work = '';
let image: WrittenImage;
let fx: CredentialFixture;
let ref = '';

const clientWith = (env: Record<string, string> = {}) =>
  new RegistryClient({ env: { ...fx.env, ...env }, homeDir: fx.dir });

describe.skipIf(!HAVE_REGISTRY_TOOLS)('RegistryClient against docker-registry (token auth)', () => {
  useTempDir('all', (d) => {
    work = d;
  });
  useCredentialFixture((f) => {
    fx = f;
  });
  beforeAll(async () => {
    issuer = await startTokenIssuer({ users: [USER], refreshTokens: new Map([[REFRESH, USER.username]]) });
    registry = await startRegistry({ mode: 'token', issuer });
    image = writeImageLayout(work, {
      seed: 'token',
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm', variant: 'v7' },
      ],
    });
    await pushImage(image, `${registry.host}/team/app:1.0`, { credentials: USER });
    ref = `${registry.host}/team/app:1.0`;
  }, 120_000);
  afterAll(async () => {
    await registry?.stop();
    await issuer?.stop();
  });
  beforeEach(() => {
    issuer.requests.length = 0;
  });

  it('resolves a tag with a token asked for with Basic credentials, for repository:NAME:pull', async () => {
    fx.writeDockerConfig({ auths: { [registry.host]: { auth: basicAuth(USER.username, USER.password) } } });
    const c = clientWith();
    const r = await c.getManifest(ref);
    expect(r.descriptor.digest).toBe(image.digest);
    expect(r.manifests?.map((m) => m.platform)).toEqual(image.platforms.map((p) => p.platform));
    expect(await c.listTags(ref)).toEqual(['1.0']);
    expect(issuer.requests).toHaveLength(1); // the token is kept for the repository
    const q = issuer.requests[0];
    expect(q?.method).toBe('GET');
    expect(q?.authorization).toBe(`Basic ${basicAuth(USER.username, USER.password)}`);
    const url = new URL(q?.url ?? '', 'http://issuer');
    expect(url.searchParams.get('service')).toBe(issuer.service);
    expect(url.searchParams.getAll('scope')).toEqual(['repository:team/app:pull']);
  });

  it('exchanges an identity token from the Docker config with an OAuth2 refresh-token POST', async () => {
    fx.writeDockerConfig({
      auths: { [registry.host]: { username: '00000000-0000', identitytoken: REFRESH } },
    });
    expect((await clientWith().resolve(ref)).digest).toBe(image.digest);
    const q = issuer.requests[0];
    expect(q).toMatchObject({ method: 'POST', authorization: undefined });
    expect(Object.fromEntries(new URLSearchParams(q?.body))).toEqual({
      grant_type: 'refresh_token',
      refresh_token: REFRESH,
      service: issuer.service,
      scope: 'repository:team/app:pull',
      client_id: 'tufa',
    });
  });

  it('asks for pull,push when told to', async () => {
    const c = new RegistryClient({
      env: { ...fx.env, TUFA_REGISTRY_USERNAME: USER.username, TUFA_REGISTRY_PASSWORD: USER.password },
      actions: ['pull', 'push'],
    });
    expect((await c.resolve(ref)).digest).toBe(image.digest);
    expect(new URL(issuer.requests[0]?.url ?? '', 'http://issuer').searchParams.getAll('scope')).toEqual([
      'repository:team/app:pull,push',
    ]);
  });

  it('anonymous: an anonymous token without access, then 401 saying no credentials were found', async () => {
    const e = await failure(clientWith().resolve(ref));
    expect(e).toMatchObject({ code: 'FETCH', status: 401 });
    expect(e.message).toContain('no credentials were found');
    expect(issuer.requests.map((q) => q.authorization)).toEqual([undefined]);
  });

  it('a refused password at the token service is FETCH 401 without the password', async () => {
    fx.writeDockerConfig({
      auths: { [registry.host]: { auth: basicAuth(USER.username, 'not-the-password-7') } },
    });
    const e = await failure(clientWith().resolve(ref));
    expect(e).toMatchObject({ code: 'FETCH', status: 401 });
    expect(e.message).toContain('the token request failed with HTTP 401 (the credentials were refused)');
    expect(e.message).not.toContain('not-the-password-7');
  });
});
