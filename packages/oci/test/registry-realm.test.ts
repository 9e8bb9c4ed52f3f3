/**
 * DESIGN rule 12 against a real registry: its token realm is on `localhost` while the registry
 * is `127.0.0.1` — another host for the credential policy. The user's credentials are not sent
 * there: the token request arrives without Authorization, the anonymous token is not enough,
 * and the error says why. Allowing the realm host explicitly lets them through.
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

const USER = { username: 'carol', password: 'Carol-pa55-never-shown-5150' };
const REFRESH = 'identity-token-never-shown-3141';
let issuer: TokenIssuer;
let registry: Registry;
let work = '';
let image: WrittenImage;
let fx: CredentialFixture;
let ref = '';

describe.skipIf(!HAVE_REGISTRY_TOOLS)('RegistryClient: a token realm on another host', () => {
  useTempDir('all', (d) => {
    work = d;
  });
  useCredentialFixture((f) => {
    fx = f;
  });
  beforeAll(async () => {
    issuer = await startTokenIssuer({
      realmHost: 'localhost',
      users: [USER],
      refreshTokens: new Map([[REFRESH, USER.username]]),
    });
    registry = await startRegistry({ mode: 'token', issuer });
    image = writeImageLayout(work, { seed: 'realm' });
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

  it.each([
    ['a password', { auth: basicAuth(USER.username, USER.password) }],
    ['an identity token', { identitytoken: REFRESH }],
  ])('withholds %s: the token request arrives without it, and the error says why', async (_what, entry) => {
    fx.writeDockerConfig({ auths: { [registry.host]: entry } });
    const notices: string[] = [];
    const c = new RegistryClient({ env: fx.env, homeDir: fx.dir, onNotice: (m) => notices.push(m) });
    const e = await failure(c.resolve(ref));
    expect(e.code).toBe('CREDENTIALS_REFUSED');
    expect(e.refusal).toBe('realm-host');
    expect(e.message).toBe(
      `refusing to send the credentials for 127.0.0.1 to the token realm on localhost: expected the realm on 127.0.0.1 or a host allowed explicitly, found localhost; an anonymous token was not enough`,
    );
    expect(issuer.requests).toHaveLength(1);
    expect(issuer.requests[0]).toMatchObject({ method: 'GET', authorization: undefined, body: '' });
    expect(issuer.requests[0]?.url).not.toContain(USER.username);
    expect(JSON.stringify(issuer.requests)).not.toContain(REFRESH);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toContain('asked for an anonymous token instead');
  });

  it('sends them once the realm host is allowed explicitly', async () => {
    fx.writeDockerConfig({ auths: { [registry.host]: { auth: basicAuth(USER.username, USER.password) } } });
    const c = new RegistryClient({ env: fx.env, homeDir: fx.dir, tokenRealmHosts: ['localhost'] });
    expect((await c.resolve(ref)).digest).toBe(image.digest);
    expect(issuer.requests.map((q) => q.authorization)).toEqual([
      `Basic ${basicAuth(USER.username, USER.password)}`,
    ]);
  });
});
