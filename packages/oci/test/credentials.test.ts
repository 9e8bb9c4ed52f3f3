/**
 * Where registry credentials come from, in Docker's order, and how strictly the files are read:
 * environment, Docker config (credHelpers, credsStore, auths), auth.json; a real helper program
 * on PATH (`docker-credential-test`); errors name file and field and never a secret.
 */
import { describe, expect, it } from 'vitest';
import { findRegistryCredentials } from '../src/credentials/lookup.js';
import { basicAuth, type CredentialFixture, useCredentialFixture } from './helpers/credentials.js';
import { failure } from './helpers/failure.js';

const SECRET = 'Sup3r-s3cret-Passw0rd-17';
let fx: CredentialFixture;
useCredentialFixture((f) => {
  fx = f;
});

const find = (registry: string, repository = 'team/app', env: Record<string, string> = {}) =>
  findRegistryCredentials(registry, repository, { env: { ...fx.env, ...env }, homeDir: fx.dir });

describe('environment', () => {
  it('TUFA_REGISTRY_USERNAME/PASSWORD come first, for any registry', async () => {
    fx.writeDockerConfig({ auths: { 'reg.test': { auth: basicAuth('from-file', 'x') } } });
    const r = await find('reg.test', 'team/app', {
      TUFA_REGISTRY_USERNAME: 'ci',
      TUFA_REGISTRY_PASSWORD: SECRET,
    });
    expect(r.credentials).toEqual({
      username: 'ci',
      password: SECRET,
      source: 'TUFA_REGISTRY_USERNAME/TUFA_REGISTRY_PASSWORD',
    });
  });

  it('one without the other is refused, naming both and showing neither value', async () => {
    const e = await failure(find('reg.test', 'a', { TUFA_REGISTRY_PASSWORD: SECRET }));
    expect(e.code).toBe('USAGE');
    expect(e.message).toContain('TUFA_REGISTRY_USERNAME');
    expect(e.message).not.toContain(SECRET);
  });
});

describe('Docker config: auths', () => {
  it('reads auth (base64 user:password, a password with ":"), username/password and identitytoken', async () => {
    const path = fx.writeDockerConfig({
      auths: {
        'reg.test': { auth: basicAuth('alice', `a:b:${SECRET}`) },
        'fields.test:5000': { username: 'bob', password: SECRET },
        'acr.test': { username: '00000000-0000-0000-0000-000000000000', identitytoken: 'refresh-tok' },
      },
    });
    expect((await find('reg.test')).credentials).toEqual({
      username: 'alice',
      password: `a:b:${SECRET}`,
      source: `${path} auths["reg.test"]`,
    });
    expect((await find('fields.test:5000')).credentials).toMatchObject({ username: 'bob', password: SECRET });
    expect((await find('acr.test')).credentials).toEqual({
      identityToken: 'refresh-tok',
      source: `${path} auths["acr.test"]`,
    });
    const none = await find('other.test');
    expect(none.credentials).toBeUndefined();
    expect(none.searched).toEqual(['TUFA_REGISTRY_USERNAME/TUFA_REGISTRY_PASSWORD', `auths in ${path}`]);
  });

  it('normalises keys as Docker does; Docker Hub is https://index.docker.io/v1/', async () => {
    fx.writeDockerConfig({
      auths: {
        'https://index.docker.io/v1/': { auth: basicAuth('hubuser', SECRET) },
        'http://reg.test:5000/v2/': { auth: basicAuth('regular', SECRET) },
      },
    });
    expect((await find('docker.io', 'library/app')).credentials).toMatchObject({ username: 'hubuser' });
    expect((await find('reg.test:5000')).credentials).toMatchObject({ username: 'regular' });
    expect((await find('reg.test')).credentials).toBeUndefined();
  });

  it('refuses two keys for one registry with different credentials', async () => {
    const path = fx.writeDockerConfig({
      auths: {
        'http://reg.test': { auth: basicAuth('one', SECRET) },
        'https://reg.test/': { auth: basicAuth('two', SECRET) },
      },
    });
    const e = await failure(find('reg.test'));
    expect(e.code).toBe('USAGE');
    expect(e.message).toContain(path);
    expect(e.message).not.toContain(SECRET);
  });

  it.each([
    ['{"auths":{"reg.test":{"auth":"x"},"reg.test":{"auth":"y"}}}', /not valid JSON.*duplicate/i],
    ['[]', /expected a JSON object, found array/],
    ['{"auths":[]}', /auths: expected an object, found array/],
    ['{"auths":{"reg.test":"x"}}', /auths\["reg.test"\]: expected an object, found string/],
    [
      `{"auths":{"reg.test":{"auth":"${SECRET}!"}}}`,
      /auths\["reg.test"\]\.auth: expected base64 of "user:password"/,
    ],
    [`{"auths":{"reg.test":{"auth":"${basicAuth('nocolon', '').slice(0, -4)}"}}}`, /\.auth: expected base64/],
    [
      '{"auths":{"reg.test":{"password":42}}}',
      /auths\["reg.test"\]\.password: expected a string, found number/,
    ],
    ['{"credsStore":"../../bin/evil"}', /credsStore: expected a credential helper name/],
    ['{"credsStore":7}', /credsStore: expected a string, found number/],
    ['{"credHelpers":{"reg.test":"a b"}}', /credHelpers\["reg.test"\]: expected a credential helper name/],
  ])('refuses %s naming the file and the field, never a value', async (text, message) => {
    const path = fx.writeDockerConfig(text);
    const e = await failure(find('reg.test'));
    expect(e.code).toBe('USAGE');
    expect(e.message).toContain(path);
    expect(e.message).toMatch(message);
    expect(e.message).not.toContain(SECRET);
  });

  it('a __proto__ key is an ordinary registry key, not the prototype', async () => {
    fx.writeDockerConfig(`{"auths":{"__proto__":{"auth":"${basicAuth('p', SECRET)}"}}}`);
    expect((await find('reg.test')).credentials).toBeUndefined();
    expect((await find('__proto__')).credentials).toMatchObject({ username: 'p' });
  });

  it('no config file: nothing, and the search says where it looked', async () => {
    const r = await find('reg.test');
    expect(r.credentials).toBeUndefined();
    expect(r.searched[1]).toContain('(no such file)');
  });
});

describe('Docker config: credential helpers', () => {
  it('credHelpers[registry] runs docker-credential-NAME get with the server on stdin', async () => {
    fx.writeDockerConfig({
      credHelpers: { 'reg.test': 'test' },
      auths: { 'reg.test': { auth: basicAuth('file', 'x') } },
    });
    fx.helper('test', {
      stdout: JSON.stringify({ ServerURL: 'reg.test', Username: 'helped', Secret: SECRET }),
    });
    const r = await find('reg.test');
    expect(r.credentials).toMatchObject({ username: 'helped', password: SECRET });
    expect(r.credentials?.source).toContain('docker-credential-test (credHelpers in');
    expect(fx.helperCalls('test')).toEqual([{ args: ['get'], stdin: 'reg.test' }]);
  });

  it('asks helpers for Docker Hub as https://index.docker.io/v1/; <token> means an identity token', async () => {
    fx.writeDockerConfig({ credsStore: 'test' });
    fx.helper('test', {
      stdout: JSON.stringify({ ServerURL: 'x', Username: '<token>', Secret: 'refresh-77' }),
    });
    const r = await find('docker.io', 'library/app');
    expect(r.credentials).toMatchObject({ identityToken: 'refresh-77' });
    expect(fx.helperCalls('test')).toEqual([{ args: ['get'], stdin: 'https://index.docker.io/v1/' }]);
  });

  it('credHelpers, then credsStore, then auths: a helper without an entry lets the search go on', async () => {
    fx.writeDockerConfig({
      credHelpers: { 'reg.test': 'first' },
      credsStore: 'second',
      auths: { 'reg.test': { auth: basicAuth('from-auths', SECRET) } },
    });
    fx.helper('first', { stdout: 'credentials not found in native keychain\n', exitCode: 1 });
    fx.helper('second', { stdout: 'credentials not found in native keychain', exitCode: 1 });
    const r = await find('reg.test');
    expect(r.credentials).toMatchObject({ username: 'from-auths' });
    expect(fx.helperCalls('first')).toHaveLength(1);
    expect(fx.helperCalls('second')).toHaveLength(1);
    fx.helper('second', { stdout: JSON.stringify({ Username: 'stored', Secret: SECRET }) });
    expect((await find('reg.test')).credentials).toMatchObject({ username: 'stored' });
  });

  it('a failing helper is KEY; its stderr is shown capped and scrubbed, stdout never', async () => {
    fx.writeDockerConfig({ credsStore: 'test' });
    fx.helper('test', {
      stdout: `{"Secret":"${SECRET}"`,
      stderr: `keychain locked; password=${SECRET} token ${'Q'.repeat(40)}\n${SECRET}\n`,
      exitCode: 3,
    });
    const e = await failure(find('reg.test'));
    expect(e.code).toBe('KEY');
    expect(e.message).toContain(
      'docker-credential-test failed with exit code 3: keychain locked; password=…',
    );
    expect(e.message).not.toContain(SECRET);
    expect(e.message).not.toContain('QQQQQQQQQQQQQQQQ');
  });

  it('a helper answering something else than {Username, Secret} is KEY without the answer', async () => {
    fx.writeDockerConfig({ credsStore: 'test' });
    fx.helper('test', { stdout: `not json ${SECRET}` });
    const e = await failure(find('reg.test'));
    expect(e.code).toBe('KEY');
    expect(e.message).not.toContain(SECRET);
    fx.helper('test', { stdout: JSON.stringify({ Username: 1, Secret: SECRET }) });
    expect((await failure(find('reg.test'))).message).toMatch(/"Username" and "Secret"/);
  });

  it('a helper that is not installed is KEY naming the program', async () => {
    fx.writeDockerConfig({ credsStore: 'absent-helper' });
    const e = await failure(find('reg.test'));
    expect(e.code).toBe('KEY');
    expect(e.message).toContain('docker-credential-absent-helper is not on PATH');
  });
});

describe('auth.json (podman, skopeo)', () => {
  it('REGISTRY_AUTH_FILE after the Docker config; the most specific key wins', async () => {
    const path = fx.writeRaw(
      'auth.json',
      JSON.stringify({
        auths: {
          'reg.test': { auth: basicAuth('whole-registry', SECRET) },
          'reg.test/team': { auth: basicAuth('team', SECRET) },
          'reg.test/team/app': { auth: basicAuth('app', SECRET) },
          'docker.io': { auth: basicAuth('hub', SECRET) },
        },
      }),
    );
    const env = { REGISTRY_AUTH_FILE: path };
    expect((await find('reg.test', 'team/app', env)).credentials).toEqual({
      username: 'app',
      password: SECRET,
      source: `${path} auths["reg.test/team/app"]`,
    });
    expect((await find('reg.test', 'team/other', env)).credentials).toMatchObject({ username: 'team' });
    expect((await find('reg.test', 'teamx/app', env)).credentials).toMatchObject({
      username: 'whole-registry',
    });
    expect((await find('docker.io', 'library/app', env)).credentials).toMatchObject({ username: 'hub' });
    fx.writeDockerConfig({ auths: { 'reg.test': { auth: basicAuth('docker-first', SECRET) } } });
    expect((await find('reg.test', 'team/app', env)).credentials).toMatchObject({ username: 'docker-first' });
  });

  it('without REGISTRY_AUTH_FILE: $XDG_RUNTIME_DIR/containers/auth.json', async () => {
    fx.writeRaw(
      'run/containers/auth.json',
      JSON.stringify({ auths: { 'reg.test': { auth: basicAuth('xdg', SECRET) } } }),
    );
    const r = await find('reg.test', 'a', { XDG_RUNTIME_DIR: `${fx.dir}/run` });
    expect(r.credentials).toMatchObject({ username: 'xdg' });
  });

  it('is read as strictly as the Docker config', async () => {
    const path = fx.writeRaw('auth.json', '{"auths":{"reg.test":{"auth":1}}}');
    const e = await failure(find('reg.test', 'a', { REGISTRY_AUTH_FILE: path }));
    expect(e.message).toBe(`${path}: auths["reg.test"].auth: expected a string, found number`);
  });
});
