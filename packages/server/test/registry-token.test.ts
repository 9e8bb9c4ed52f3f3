/**
 * Registry-issued bearer tokens: a real token service (the @tufa/oci test issuer: ES256 JWTs
 * with the signing certificate in x5c, answering the docker token protocol) issues tokens with
 * repository:<gun>:pull/push scopes; the server accepts exactly those for exactly that GUN, and
 * refuses tokens from another issuer key, for another audience, expired, or tampered with.
 */
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HAVE_REGISTRY_TOOLS,
  type Registry,
  requireRegistryTools,
  startRegistry,
  startTokenIssuer,
  type TokenIssuer,
} from '../../oci/test/helpers/registry.js';
import { RegistryTokenAuthorizer, ServerClient } from '../src/index.js';
import { jwkThumbprint, libtrustKeyId } from '../src/registry-token.js';
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

/**
 * Tokens naming their key by `kid` only (docker_auth, GitLab, Harbor). The real registry
 * (distribution 2.8) is the oracle for the libtrust fingerprint: it accepts the issuer's token,
 * so the issuer's `kid` is the one distribution computes, and the server's must equal it.
 */
describe('registry-issued bearer tokens that name their key by kid', () => {
  requireRegistryTools();
  let kidIssuer: TokenIssuer;
  let expiring: TokenIssuer;
  let thumbIssuer: TokenIssuer;
  let otherKid: TokenIssuer;
  let registry: Registry | undefined;
  let authorizer: RegistryTokenAuthorizer;
  let at: Date | undefined;
  const pullOf = async (i: TokenIssuer) => `Bearer ${await tokenFrom(i, `repository:${GUN}:pull`)}`;

  beforeAll(async () => {
    kidIssuer = await startTokenIssuer({ users: [USER], kid: 'libtrust', days: 30 });
    expiring = await startTokenIssuer({ users: [USER], kid: 'libtrust', days: 1 });
    thumbIssuer = await startTokenIssuer({ users: [USER], kid: 'thumbprint', days: 1 });
    // distribution 3 names every P-256 key by the thumbprint of the curve's base point.
    otherKid = await startTokenIssuer({ users: [USER], kid: 'base-point-thumbprint', days: 1 });
    if (HAVE_REGISTRY_TOOLS) registry = await startRegistry({ mode: 'token', issuer: kidIssuer });
    const bundle = [kidIssuer, expiring, thumbIssuer, otherKid, stranger]
      .map((i) => readFileSync(i.certificatePath, 'utf8'))
      .join('\n');
    authorizer = new RegistryTokenAuthorizer({
      certificates: bundle,
      issuer: kidIssuer.issuer,
      audience: kidIssuer.service,
      realm: kidIssuer.realm,
      now: () => at ?? new Date(),
    });
  });
  afterAll(async () => {
    await registry?.stop();
    await kidIssuer?.stop();
    await expiring?.stop();
    await thumbIssuer?.stop();
    await otherKid?.stop();
  });

  it.skipIf(!HAVE_REGISTRY_TOOLS)('the registry accepts the kid token, and so does the server', async () => {
    const token = await tokenFrom(kidIssuer, `repository:${GUN}:pull`);
    const ok = await fetch(`${registry?.url}/v2/`, { headers: { Authorization: `Bearer ${token}` } });
    expect(ok.status, registry?.log()).toBe(200);
    // The oracle refuses a kid naming no bundle key (so its 200 above is about the kid).
    const [h, c, sig] = token.split('.') as [string, string, string];
    const header = { ...JSON.parse(Buffer.from(h, 'base64url').toString()), kid: 'AAAA:AAAA:AAAA:AAAA' };
    const wrongKid = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${c}.${sig}`;
    const refused = await fetch(`${registry?.url}/v2/`, { headers: { Authorization: `Bearer ${wrongKid}` } });
    expect(refused.status).toBe(401);
    expect(libtrustKeyId(createPublicKey(readFileSync(kidIssuer.certificatePath)))).toBe(
      kidIssuer.libtrustKeyId,
    );
    expect(await authorizer.authorize(`Bearer ${token}`, GUN, 'pull')).toEqual({ allowed: true });
  });

  it('computes RFC 7638 thumbprints (the RFC example key)', () => {
    const n =
      '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw';
    const key = createPublicKey({ key: { kty: 'RSA', n, e: 'AQAB' }, format: 'jwk' });
    expect(jwkThumbprint(key)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  it('finds the key by RFC 7638 thumbprint, and by trying the bundle for any other kid', async () => {
    expect(await authorizer.authorize(await pullOf(thumbIssuer), GUN, 'pull')).toEqual({ allowed: true });
    expect(await authorizer.authorize(await pullOf(otherKid), GUN, 'pull')).toEqual({ allowed: true });
    // A key outside the bundle is refused, whatever the kid says.
    const outsider = await startTokenIssuer({ users: [USER], kid: kidIssuer.libtrustKeyId });
    try {
      expect(await authorizer.authorize(await pullOf(outsider), GUN, 'pull')).toMatchObject({
        allowed: false,
        message: 'the token signature does not verify',
      });
    } finally {
      await outsider.stop();
    }
  });

  it('refuses a kid naming a certificate that is not valid now, and never falls back past it', async () => {
    // Found by kid (libtrust fingerprint, thumbprint): "its kid names"; found by trying: none valid.
    const cases: [TokenIssuer, string][] = [
      [expiring, 'the token service certificate its kid names is not valid now'],
      [thumbIssuer, 'the token service certificate its kid names is not valid now'],
      [otherKid, 'the token signature does not verify'],
    ];
    for (const [i, message] of cases) {
      const token = await pullOf(i);
      at = new Date(Date.now() + 3 * 86_400_000);
      try {
        expect(await authorizer.authorize(token, GUN, 'pull'), message).toEqual({
          allowed: false,
          status: 401,
          message,
        });
      } finally {
        at = undefined;
      }
    }
  });

  it('refuses a token that names no key at all', async () => {
    const token = await tokenFrom(kidIssuer, `repository:${GUN}:pull`);
    const [h, c, sig] = token.split('.') as [string, string, string];
    const { kid: _kid, ...header } = JSON.parse(Buffer.from(h, 'base64url').toString());
    const bare = `Bearer ${Buffer.from(JSON.stringify(header)).toString('base64url')}.${c}.${sig}`;
    expect(await authorizer.authorize(bare, GUN, 'pull')).toMatchObject({
      allowed: false,
      message: 'the token names no signing key (expected x5c or kid)',
    });
  });
});
