/**
 * The token exchange shared by the Notary and registry clients, against a loopback realm that
 * records every request: what is sent (GET with Basic, POST with a refresh token, anonymous),
 * and that a realm the credential policy refuses receives nothing.
 */
import * as http from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseAuthChallenge, parseBearerChallenge, requestBearerToken } from '../../src/node/bearer-token.js';
import { close, errorText, listen, rejection } from './helpers.js';

const PASSWORD = 'pw-never-in-errors-5521';
const REFRESH = 'refresh-never-in-errors-8812';

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}
const seen: Seen[] = [];
let answer: { status: number; body: string } = { status: 200, body: '{"token":"t0ken","expires_in":300}' };

const realm = http.createServer((q, s) => {
  const chunks: Buffer[] = [];
  q.on('data', (c: Buffer) => chunks.push(c));
  q.on('end', () => {
    seen.push({
      method: q.method ?? '',
      url: q.url ?? '',
      authorization: q.headers.authorization,
      contentType: q.headers['content-type'],
      body: Buffer.concat(chunks).toString('utf8'),
    });
    s.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
  });
});
let base = '';
let port = '';
beforeAll(async () => {
  base = await listen(realm);
  port = new URL(base).port;
});
afterAll(() => close(realm));
beforeEach(() => {
  seen.length = 0;
  answer = { status: 200, body: '{"token":"t0ken","expires_in":300}' };
});

const signal = () => new AbortController().signal;
/** A request whose challenge came from a registry on 127.0.0.1 (another port than the realm). */
const common = () => ({
  server: 'http://127.0.0.1:1/v2/team/app/manifests/1.0',
  challengeUrl: 'http://127.0.0.1:1/v2/team/app/manifests/1.0',
  crossOriginRedirect: false,
  challenge: { realm: `${base}/token`, service: 'registry.test', scope: undefined },
  http: { env: {} },
  signal: signal(),
});

describe('parseAuthChallenge / parseBearerChallenge', () => {
  it('splits scheme and parameters, quoted or not, first of a repeated name', () => {
    const c = parseAuthChallenge('Basic realm="Registry Realm", charset=UTF-8, realm="later"');
    expect(c?.scheme).toBe('basic');
    expect([...(c?.params ?? [])]).toEqual([
      ['realm', 'Registry Realm'],
      ['charset', 'UTF-8'],
    ]);
    expect(
      parseBearerChallenge(
        'Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push"',
      ),
    ).toEqual({ realm: 'https://auth.example/token', service: 'reg', scope: 'repository:a/b:pull,push' });
    expect(parseBearerChallenge('Basic realm="x"')).toBeUndefined();
    expect(parseBearerChallenge('Bearer service="x"')).toBeUndefined();
  });
});

describe('requestBearerToken', () => {
  it('asks anonymously with the service and every scope, without Authorization', async () => {
    const t = await requestBearerToken({
      ...common(),
      scopes: ['repository:team/app:pull', 'repository:team/base:pull'],
    });
    expect(t).toEqual({ token: 't0ken', expiresIn: 300 });
    expect(seen).toHaveLength(1);
    expect(seen[0]?.method).toBe('GET');
    expect(seen[0]?.authorization).toBeUndefined();
    const u = new URL(seen[0]?.url ?? '', base);
    expect(u.searchParams.get('service')).toBe('registry.test');
    expect(u.searchParams.getAll('scope')).toEqual(['repository:team/app:pull', 'repository:team/base:pull']);
  });

  it('sends Basic credentials to a realm on the server host, and reads access_token', async () => {
    answer = { status: 200, body: '{"access_token":"acc355"}' };
    const t = await requestBearerToken({
      ...common(),
      credentials: { username: 'ci', password: PASSWORD },
    });
    expect(t).toEqual({ token: 'acc355', expiresIn: undefined });
    expect(seen[0]?.authorization).toBe(`Basic ${Buffer.from(`ci:${PASSWORD}`).toString('base64')}`);
  });

  it('exchanges an identity token with an OAuth2 refresh-token POST', async () => {
    answer = { status: 200, body: '{"access_token":"from-refresh","refresh_token":"next"}' };
    const t = await requestBearerToken({
      ...common(),
      scopes: ['repository:team/app:pull', 'repository:team/app:push'],
      credentials: { identityToken: REFRESH },
    });
    expect(t.token).toBe('from-refresh');
    expect(seen[0]).toMatchObject({
      method: 'POST',
      url: '/token',
      authorization: undefined,
      contentType: 'application/x-www-form-urlencoded',
    });
    const form = new URLSearchParams(seen[0]?.body);
    expect(Object.fromEntries(form)).toEqual({
      grant_type: 'refresh_token',
      refresh_token: REFRESH,
      service: 'registry.test',
      scope: 'repository:team/app:pull repository:team/app:push',
      client_id: 'tufa',
    });
  });

  it('refuses, sending nothing, a realm on another host than the server', async () => {
    for (const credentials of [{ username: 'ci', password: PASSWORD }, { identityToken: REFRESH }]) {
      const e = await rejection(
        requestBearerToken({
          ...common(),
          challenge: { realm: `http://localhost:${port}/token`, service: 'registry.test', scope: undefined },
          credentials,
        }),
      );
      expect(e.code).toBe('CREDENTIALS_REFUSED');
      expect(e.message).toContain('on localhost');
      expect(e.message).toContain('127.0.0.1');
      expect(errorText(e)).not.toContain(PASSWORD);
      expect(errorText(e)).not.toContain(REFRESH);
    }
    expect(seen).toEqual([]);
  });

  it('a refused token request is FETCH with the status; an answer without a token is FORMAT', async () => {
    answer = { status: 401, body: `{"details":"bad password ${PASSWORD}"}` };
    const e = await rejection(
      requestBearerToken({ ...common(), credentials: { username: 'ci', password: PASSWORD } }),
    );
    expect(e).toMatchObject({ code: 'FETCH', status: 401 });
    expect(e.message).toContain('the credentials were refused');
    expect(errorText(e)).not.toContain(PASSWORD);
    answer = { status: 200, body: '{"token":"","access_token":42}' };
    expect((await rejection(requestBearerToken(common()))).code).toBe('FORMAT');
    answer = { status: 200, body: '{"token":"two\\nlines"}' };
    expect((await rejection(requestBearerToken(common()))).code).toBe('FORMAT');
  });

  it('refuses a plain-http realm off loopback, even anonymously', async () => {
    const e = await rejection(
      requestBearerToken({
        ...common(),
        challenge: { realm: 'http://auth.example.test/token', service: undefined, scope: undefined },
      }),
    );
    expect(e.code).toBe('FETCH');
    expect(e.message).toContain('over plain HTTP');
  });
});
