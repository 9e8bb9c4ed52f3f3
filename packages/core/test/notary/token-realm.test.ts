/**
 * Docker's token flow against real loopback servers: the registry credentials reach a token
 * realm only when the credential policy allows it (DESIGN rule 12). Every realm server records
 * the Authorization header it received, so a refusal is proven by what never arrived.
 */
import * as http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { CredentialsRefusedError, TufError } from '../../src/errors.js';
import { readNotaryCollection } from '../../src/notary/index.js';
import { DockerTokenFetcher, notaryServerSource } from '../../src/notary/node.js';
import { close, collect, listen, rejection, req } from '../node/helpers.js';
import { AS_OF, GUN, serverFiles } from './helpers.js';

const USER = 'alice';
const PASSWORD = 'pa55-Word-never-leaks-7731';
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
const TOKEN = 'tok-for-the-server-9150';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await close(s);
});

async function start(handler: http.RequestListener): Promise<{ server: http.Server; port: string }> {
  const server = http.createServer(handler);
  servers.push(server);
  const base = await listen(server);
  return { server, port: new URL(base).port };
}

/** A token service that hands out TOKEN to anyone and records what it was sent. */
async function realmServer(): Promise<{ port: string; seen: (string | undefined)[] }> {
  const seen: (string | undefined)[] = [];
  const { port } = await start((q, s) => {
    seen.push(q.headers.authorization);
    s.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: TOKEN }));
  });
  return { port, seen };
}

/** A notary-server stand-in: the committed collection, behind a Bearer challenge naming `realm()`. */
async function notaryServer(
  realm: () => string,
  guarded: (url: string) => boolean = () => true,
): Promise<{ port: string; seen: (string | undefined)[] }> {
  const files = serverFiles();
  const seen: (string | undefined)[] = [];
  const { port } = await start((q, s) => {
    seen.push(q.headers.authorization);
    if (guarded(q.url ?? '') && q.headers.authorization !== `Bearer ${TOKEN}`) {
      s.writeHead(401, { 'www-authenticate': `Bearer realm="${realm()}",service="notary.test"` }).end();
      return;
    }
    const prefix = `/v2/${GUN}/_trust/tuf/`;
    const url = q.url ?? '';
    const name = (url.startsWith(prefix) ? decodeURIComponent(url.slice(prefix.length)) : '').replace(
      /\.[0-9a-f]{64}\.json$/,
      '.json',
    );
    const body = files.get(name);
    if (body) s.writeHead(200).end(body);
    else s.writeHead(404).end();
  });
  return { port, seen };
}

const read = (server: string, options: Parameters<typeof notaryServerSource>[2] = {}) =>
  readNotaryCollection(notaryServerSource(server, GUN, { env: {}, ...options }), {
    gun: GUN,
    asOf: AS_OF,
    unsafeTrustOnFirstUse: true,
  });

const withCredentials = { username: USER, password: PASSWORD };

function expectRefused(e: unknown, refusal: string, realmHost: string, serverHost: string): void {
  expect(e, String(e)).toBeInstanceOf(CredentialsRefusedError);
  const r = e as CredentialsRefusedError;
  expect(r.code).toBe('CREDENTIALS_REFUSED');
  expect(r.refusal).toBe(refusal);
  expect(r.realmHost).toBe(realmHost);
  expect(r.serverHost).toBe(serverHost);
  expect(r.message).toContain(realmHost);
  expect(r.message).toContain(serverHost);
  expect(r.message).not.toContain(PASSWORD);
  expect(r.message).not.toContain(BASIC.slice(6));
}

describe('Docker token flow: where the credentials go', () => {
  it('sends them to a realm on the server host (another port)', async () => {
    const realm = await realmServer();
    const notary = await notaryServer(() => `http://127.0.0.1:${realm.port}/token`);
    const c = await read(`http://127.0.0.1:${notary.port}`, withCredentials);
    expect(c.roles.length).toBeGreaterThan(0);
    expect(realm.seen).toEqual([BASIC]);
  });

  it('refuses a realm on another host, and sends nothing there', async () => {
    const realm = await realmServer();
    const notary = await notaryServer(() => `http://localhost:${realm.port}/token`);
    const e = await read(`http://127.0.0.1:${notary.port}`, withCredentials).catch((x: unknown) => x);
    expectRefused(e, 'realm-host', 'localhost', '127.0.0.1');
    expect(realm.seen).toEqual([]);
  });

  it('a refusal on a delegated role fails the read, not just that role', async () => {
    const realm = await realmServer();
    // Only the delegation needs a token: the refusal comes in the middle of the walk.
    const notary = await notaryServer(
      () => `http://localhost:${realm.port}/token`,
      (url) => url.includes('targets%2Freleases') || url.includes('targets/releases'),
    );
    const e = await read(`http://127.0.0.1:${notary.port}`, withCredentials).catch((x: unknown) => x);
    expectRefused(e, 'realm-host', 'localhost', '127.0.0.1');
    expect(realm.seen).toEqual([]);
  });

  it('sends them to another host the user allowed', async () => {
    const realm = await realmServer();
    const notary = await notaryServer(() => `http://localhost:${realm.port}/token`);
    await read(`http://127.0.0.1:${notary.port}`, { ...withCredentials, tokenRealmHosts: ['LOCALHOST'] });
    expect(realm.seen).toEqual([BASIC]);
  });

  it('refuses after a redirect to another origin, even to a realm on that origin', async () => {
    const realm = await realmServer();
    const notary = await notaryServer(() => `http://localhost:${realm.port}/token`);
    // 127.0.0.1 → localhost: the 401 comes from an origin the user did not name.
    const { port } = await start((q, s) => {
      s.writeHead(302, { location: `http://localhost:${notary.port}${q.url}` }).end();
    });
    const e = await read(`http://127.0.0.1:${port}`, {
      ...withCredentials,
      tokenRealmHosts: ['localhost'],
    }).catch((x: unknown) => x);
    expectRefused(e, 'cross-origin-redirect', 'localhost', '127.0.0.1');
    expect(realm.seen).toEqual([]);
  });

  it('refuses a challenge that came over plain http from a host that is not loopback', async () => {
    const realm = await realmServer();
    // notary.test is reached through a forwarding proxy: anyone on that path writes the challenge.
    const proxy = await start((_q, s) => {
      s.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${realm.port}/token"` }).end();
    });
    const e = await read('http://notary.test', {
      ...withCredentials,
      env: { http_proxy: `http://127.0.0.1:${proxy.port}` },
    }).catch((x: unknown) => x);
    expectRefused(e, 'insecure-challenge', '127.0.0.1', 'notary.test');
    expect(realm.seen).toEqual([]);
  });

  it('does not count loopback reached through a proxy as loopback', async () => {
    const realm = await realmServer();
    const notary = await notaryServer(() => `http://127.0.0.1:${realm.port}/token`);
    const forwarded: string[] = [];
    const proxy = await start((q, s) => {
      forwarded.push(q.url ?? '');
      const up = http.request(q.url ?? '', { headers: q.headers }, (r) => {
        s.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(s);
      });
      up.on('error', () => s.destroy());
      up.end();
    });
    const e = await read(`http://127.0.0.1:${notary.port}`, {
      ...withCredentials,
      env: { http_proxy: `http://127.0.0.1:${proxy.port}` },
    }).catch((x: unknown) => x);
    expectRefused(e, 'insecure-challenge', '127.0.0.1', '127.0.0.1');
    expect(forwarded.length).toBeGreaterThan(0);
    expect(realm.seen).toEqual([]);
  });

  it('does not forward the credentials when the realm redirects to another origin', async () => {
    const elsewhere = await realmServer();
    const { port } = await start((q, s) => {
      s.writeHead(307, { location: `http://localhost:${elsewhere.port}${q.url}` }).end();
    });
    const notary = await notaryServer(() => `http://127.0.0.1:${port}/token`);
    await read(`http://127.0.0.1:${notary.port}`, withCredentials);
    expect(elsewhere.seen).toEqual([undefined]);
  });

  it('asks any https or loopback realm for an anonymous token without credentials', async () => {
    const realm = await realmServer();
    const notary = await notaryServer(() => `http://localhost:${realm.port}/token`);
    await read(`http://127.0.0.1:${notary.port}`);
    expect(realm.seen).toEqual([undefined]);
  });

  it('sends the token only to the origin that asked for it', async () => {
    const realm = await realmServer();
    const notary = await notaryServer(() => `http://127.0.0.1:${realm.port}/token`);
    const other = await realmServer(); // any server that records Authorization
    const f = new DockerTokenFetcher({ env: {} }, withCredentials);
    const root = `http://127.0.0.1:${notary.port}/v2/${GUN}/_trust/tuf/root.json`;
    expect((await collect(f.fetch(root, req()))).length).toBeGreaterThan(0);
    await collect(f.fetch(`http://localhost:${other.port}/x`, req()));
    await collect(f.fetch(root, req()));
    expect(other.seen).toEqual([undefined]);
    expect(notary.seen).toEqual([undefined, undefined, `Bearer ${TOKEN}`, `Bearer ${TOKEN}`]);
  });

  it('refuses token realm hosts that are not bare host names', () => {
    for (const h of ['https://auth.example.com', 'auth.example.com:443', '*.example.com', '']) {
      const e = (() => {
        try {
          new DockerTokenFetcher({}, { tokenRealmHosts: [h] });
        } catch (x) {
          return x;
        }
        return undefined;
      })();
      expect(e).toBeInstanceOf(TufError);
      expect((e as TufError).code).toBe('USAGE');
    }
  });

  it('a refusal is not retried anonymously', async () => {
    const realm = await realmServer();
    const notary = await notaryServer(() => `https://evil.example.net:${realm.port}/token`);
    const f = new DockerTokenFetcher({ env: {} }, withCredentials);
    const url = `http://127.0.0.1:${notary.port}/v2/${GUN}/_trust/tuf/root.json`;
    expect((await rejection(collect(f.fetch(url, req())))).code).toBe('CREDENTIALS_REFUSED');
    expect((await rejection(collect(f.fetch(url, req())))).code).toBe('FETCH');
    expect(realm.seen).toEqual([]);
  });
});
