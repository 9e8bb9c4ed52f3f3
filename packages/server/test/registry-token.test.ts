/**
 * Registry-issued bearer tokens: a real token service (the @tufa/oci test issuer: ES256 JWTs
 * with the signing certificate in x5c, answering the docker token protocol) issues tokens with
 * repository:<gun>:pull/push scopes; the server accepts exactly those for exactly that GUN, and
 * refuses tokens from another issuer key, for another audience, expired, or tampered with.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTokenIssuer, type TokenIssuer } from '../../oci/test/helpers/registry.js';
import { RegistryTokenAuthorizer, ServerClient } from '../src/index.js';
import { fixedSigner } from './helpers/keys.js';
import { call, startTestServer, type TestServer } from './helpers/server.js';

const GUN = 'localhost:5000/team/app';
const USER = { username: 'alice', password: 'alice-password-1' };
const ROOT = fixedSigner(61);
const TARGETS = fixedSigner(62);

let issuer: TokenIssuer;
let stranger: TokenIssuer;
let server: TestServer;
let clock: Date | undefined;

async function tokenFrom(i: TokenIssuer, scope: string): Promise<string> {
  const url = `${i.realm}?service=${encodeURIComponent(i.service)}&scope=${encodeURIComponent(scope)}`;
  const auth = Buffer.from(`${USER.username}:${USER.password}`).toString('base64');
  const res = await fetch(url, { headers: { Authorization: `Basic ${auth}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { token: string }).token;
}

beforeAll(async () => {
  issuer = await startTokenIssuer({ users: [USER] });
  stranger = await startTokenIssuer({ users: [USER] });
  server = await startTestServer({
    authorizer: new RegistryTokenAuthorizer({
      certificates: readFileSync(issuer.certificatePath, 'utf8'),
      issuer: issuer.issuer,
      audience: issuer.service,
      realm: issuer.realm,
      now: () => clock ?? new Date(),
    }),
  });
});
afterAll(async () => {
  await server?.stop();
  await issuer?.stop();
  await stranger?.stop();
});

describe('registry-issued bearer tokens', () => {
  it('lets a push token create and publish the GUN, and a pull token read it', async () => {
    const push = await tokenFrom(issuer, `repository:${GUN}:pull,push`);
    const client = new ServerClient({ url: server.url, token: push });
    await client.create(GUN, {
      keys: { root: [ROOT.key], targets: [TARGETS.key] },
      signers: [ROOT, TARGETS],
    });
    const pull = await tokenFrom(issuer, `repository:${GUN}:pull`);
    const read = await call(`${server.url}${GUN}/metadata/timestamp.json`, {
      headers: { Authorization: `Bearer ${pull}` },
    });
    expect(read.status).toBe(200);
    const upload = await call(`${server.url}${GUN}/keys`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${pull}` },
    });
    expect(upload.status).toBe(403);
    expect(upload.json().error.code).toBe('DENIED');
  });

  it('answers 401 with the token service challenge without a token', async () => {
    const r = await call(`${server.url}${GUN}/metadata/timestamp.json`);
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe(
      `Bearer realm="${issuer.realm}",service="${issuer.service}",scope="repository:${GUN}:pull"`,
    );
  });

  const refusals: {
    name: string;
    token: () => Promise<string>;
    at?: Date;
    status: number;
    message: RegExp;
  }[] = [
    {
      name: 'a token for another GUN',
      token: () => tokenFrom(issuer, 'repository:localhost:5000/other:pull'),
      status: 403,
      message: /does not grant pull/,
    },
    {
      name: 'a token signed by another issuer key',
      token: () => tokenFrom(stranger, `repository:${GUN}:pull`),
      status: 401,
      message: /does not lead to the token service bundle/,
    },
    {
      name: 'a token whose claims were changed',
      token: async () => {
        const [h, c, s] = (await tokenFrom(issuer, 'repository:localhost:5000/other:pull')).split('.') as [
          string,
          string,
          string,
        ];
        const claims = JSON.parse(Buffer.from(c, 'base64url').toString());
        claims.access = [{ type: 'repository', name: GUN, actions: ['pull'] }];
        return `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
      },
      status: 401,
      message: /signature does not verify/,
    },
    {
      name: 'a token with alg none',
      token: async () => {
        const [h, c] = (await tokenFrom(issuer, `repository:${GUN}:pull`)).split('.') as [string, string];
        const header = { ...JSON.parse(Buffer.from(h, 'base64url').toString()), alg: 'none' };
        return `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${c}.AA`;
      },
      status: 401,
      message: /algorithm/,
    },
    {
      name: 'an expired token',
      token: () => tokenFrom(issuer, `repository:${GUN}:pull`),
      at: new Date(Date.now() + 3600_000),
      status: 401,
      message: /expired/,
    },
    { name: 'not a JWT', token: async () => 'abc.def', status: 401, message: /JWS/ },
  ];

  it.each(refusals)('refuses $name', async ({ token, at, status, message }) => {
    const t = await token();
    clock = at;
    try {
      const r = await call(`${server.url}${GUN}/metadata/timestamp.json`, {
        headers: { Authorization: `Bearer ${t}` },
      });
      expect(r.status).toBe(status);
      expect(r.json().error.message).toMatch(message);
      expect(new TextDecoder().decode(r.body)).not.toContain(t);
    } finally {
      clock = undefined;
    }
  });

  it('refuses a token for another audience', async () => {
    const other = new RegistryTokenAuthorizer({
      certificates: readFileSync(issuer.certificatePath, 'utf8'),
      issuer: issuer.issuer,
      audience: 'another-registry',
      realm: issuer.realm,
    });
    const d = await other.authorize(
      `Bearer ${await tokenFrom(issuer, `repository:${GUN}:pull`)}`,
      GUN,
      'pull',
    );
    expect(d).toEqual({ allowed: false, status: 401, message: 'the token audience is not this service' });
  });
});
