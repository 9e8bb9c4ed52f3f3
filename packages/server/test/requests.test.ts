/**
 * Bad requests, as a table: each is refused with a 4xx JSON error carrying the library's code,
 * stores nothing, and the server goes on serving. Then auth with static tokens, the change feed,
 * metrics, and the timestamp refresher on an injected clock.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Metadata } from '@tufa/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerClient, StaticTokenAuthorizer } from '../src/index.js';
import { fixedSigner } from './helpers/keys.js';
import { call, startTestServer, type TestServer } from './helpers/server.js';

const ROOT = fixedSigner(51);
const TARGETS = fixedSigner(52);
const GUN = 'example.test/bad/requests';

async function filesUnder(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (!p.endsWith('changes.jsonl')) out.set(p, (await readFile(p)).toString('base64'));
    }
  };
  await walk(dir);
  return out;
}

describe('bad requests', () => {
  let server: TestServer;
  let targetsV1: string;
  let snapshotV1: string;
  beforeAll(async () => {
    server = await startTestServer({ maxBodyBytes: 64 * 1024 });
    const client = new ServerClient({ url: server.url });
    await client.create(GUN, {
      keys: { root: [ROOT.key], targets: [TARGETS.key] },
      signers: [ROOT, TARGETS],
    });
    snapshotV1 = Buffer.from((await client.readFile(GUN, 'metadata/1.snapshot.json')) as Uint8Array).toString(
      'base64',
    );
    targetsV1 = Buffer.from((await client.readFile(GUN, 'metadata/1.targets.json')) as Uint8Array).toString(
      'base64',
    );
  });
  afterAll(async () => {
    await server?.stop();
  });

  const json = { 'Content-Type': 'application/json' };
  /** An upload body; a function stands for bytes known only once the server has run. */
  const upload = (body: unknown) => ({
    method: 'POST',
    headers: json,
    body: () => JSON.stringify(body, (_k, v) => (typeof v === 'function' ? v() : v)),
  });
  const cases: {
    name: string;
    path: string;
    init: { method?: string; headers?: Record<string, string>; body?: string | (() => string) };
    status: number;
    code: string;
  }[] = [
    {
      name: 'oversized body',
      path: `${GUN}/metadata`,
      init: { method: 'POST', headers: json, body: 'x'.repeat(65 * 1024) },
      status: 413,
      code: 'DOWNLOAD_LIMIT',
    },
    {
      name: 'malformed JSON',
      path: `${GUN}/metadata`,
      init: { method: 'POST', headers: json, body: '{"roles": [' },
      status: 400,
      code: 'FORMAT',
    },
    {
      name: 'duplicate keys in the body',
      path: `${GUN}/metadata`,
      init: { method: 'POST', headers: json, body: '{"roles": [], "roles": []}' },
      status: 400,
      code: 'FORMAT',
    },
    {
      name: 'not JSON',
      path: `${GUN}/metadata`,
      init: { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: '{}' },
      status: 415,
      code: 'FORMAT',
    },
    {
      name: 'unknown field',
      path: `${GUN}/metadata`,
      init: upload({ roles: [], extra: 1 }),
      status: 400,
      code: 'FORMAT',
    },
    { name: 'no roles', path: `${GUN}/metadata`, init: upload({ roles: [] }), status: 400, code: 'FORMAT' },
    {
      name: 'bad base64',
      path: `${GUN}/metadata`,
      init: upload({ roles: [{ role: 'targets', metadata: 'not base64!' }] }),
      status: 400,
      code: 'FORMAT',
    },
    {
      name: 'not metadata',
      path: `${GUN}/metadata`,
      init: upload({ roles: [{ role: 'targets', metadata: Buffer.from('{}').toString('base64') }] }),
      status: 400,
      code: 'FORMAT',
    },
    {
      name: 'snapshot from a publisher',
      path: `${GUN}/metadata`,
      init: upload({ roles: [{ role: 'snapshot', metadata: () => snapshotV1 }] }),
      status: 400,
      code: 'FORMAT',
    },
    {
      name: 'a role name with a path',
      path: `${GUN}/metadata`,
      init: upload({ roles: [{ role: '../x', metadata: () => targetsV1 }] }),
      status: 400,
      code: 'UNSAFE_NAME',
    },
    {
      name: 'a new GUN without online keys',
      path: 'example.test/other/metadata',
      init: upload({ roles: [{ role: 'targets', metadata: () => targetsV1 }] }),
      status: 404,
      code: 'NOT_FOUND',
    },
    {
      name: 'GUN with ..',
      path: 'example.test/../etc/metadata/timestamp.json',
      init: {},
      status: 400,
      code: 'UNSAFE_NAME',
    },
    {
      name: 'GUN with an encoded ..',
      path: 'example.test/%2e%2e/metadata/timestamp.json',
      init: {},
      status: 400,
      code: 'UNSAFE_NAME',
    },
    {
      name: 'GUN in upper case',
      path: 'Example.test/app/metadata/timestamp.json',
      init: {},
      status: 400,
      code: 'UNSAFE_NAME',
    },
    {
      name: 'GUN with a dot segment',
      path: '.tufa-server/metadata/timestamp.json',
      init: {},
      status: 400,
      code: 'UNSAFE_NAME',
    },
    {
      name: 'GUN with an empty segment',
      path: 'example.test//app/metadata/timestamp.json',
      init: {},
      status: 400,
      code: 'UNSAFE_NAME',
    },
    {
      name: 'a dot file',
      path: `${GUN}/metadata/.tufa-publish.lock`,
      init: {},
      status: 400,
      code: 'UNSAFE_NAME',
    },
    {
      name: 'an encoded slash in the file',
      path: `${GUN}/metadata/..%2f..%2f.tufa-server%2fsnapshot.key`,
      init: {},
      status: 400,
      code: 'UNSAFE_NAME',
    },
    { name: 'bad percent-encoding', path: `${GUN}/metadata/%zz`, init: {}, status: 400, code: 'UNSAFE_NAME' },
    {
      name: 'upload with GET keys of a GUN without any',
      path: 'example.test/none/keys',
      init: {},
      status: 404,
      code: 'NOT_FOUND',
    },
    {
      name: 'a method the route does not take',
      path: `${GUN}/metadata/timestamp.json`,
      init: { method: 'DELETE' },
      status: 405,
      code: 'USAGE',
    },
    { name: 'an unknown route', path: '_tufa/nothing', init: {}, status: 404, code: 'NOT_FOUND' },
    {
      name: 'a change feed cursor that is not a number',
      path: '_tufa/changes?since=x',
      init: {},
      status: 400,
      code: 'FORMAT',
    },
  ];

  it.each(cases)('$name: $status $code, nothing stored', async ({ path, init, status, code }) => {
    const before = await filesUnder(server.dir);
    const body = typeof init.body === 'function' ? init.body() : init.body;
    const { body: _lazy, ...rest } = init;
    const r = await call(`${server.url}${path}`, { ...rest, ...(body !== undefined ? { body } : {}) });
    expect(r.status).toBe(status);
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(r.json().error.code).toBe(code);
    expect(await filesUnder(server.dir)).toEqual(before);
    expect((await call(`${server.url}${GUN}/metadata/timestamp.json`)).status).toBe(200);
  });

  it('refuses the same version again with the current version', async () => {
    const r = await call(`${server.url}${GUN}/metadata`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ roles: [{ role: 'targets', metadata: targetsV1 }] }),
    });
    expect(r.status).toBe(409);
    expect(r.json().current).toEqual({ role: 'targets', version: 1 });
  });
});

describe('static tokens', () => {
  let server: TestServer;
  const token = (name: string) => `token-of-${name}-0123456789`;
  const sha = (t: string) => createHash('sha256').update(t).digest('hex');
  beforeAll(async () => {
    server = await startTestServer({
      authorizer: new StaticTokenAuthorizer(
        [
          { sha256: sha(token('ci')), scopes: ['repository:example.test/team/*:pull,push'] },
          { sha256: sha(token('reader')), scopes: ['repository:example.test/team/app:pull'] },
        ],
        { anonymousPull: false },
      ),
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('lets a token push within its scopes only, and answers 401 with a challenge and 403', async () => {
    const ci = new ServerClient({ url: server.url, token: token('ci') });
    await ci.create('example.test/team/app', {
      keys: { root: [ROOT.key], targets: [TARGETS.key] },
      signers: [ROOT, TARGETS],
    });
    const anonymous = await call(`${server.url}example.test/team/app/metadata/timestamp.json`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.json().error.code).toBe('UNAUTHORIZED');
    expect(anonymous.headers.get('www-authenticate')).toBe(
      'Bearer realm="tufa",scope="repository:example.test/team/app:pull"',
    );
    const wrong = await call(`${server.url}example.test/team/app/metadata/timestamp.json`, {
      headers: { Authorization: 'Bearer not-a-token' },
    });
    expect(wrong.status).toBe(401);
    const reader = { Authorization: `Bearer ${token('reader')}` };
    expect(
      (await call(`${server.url}example.test/team/app/metadata/timestamp.json`, { headers: reader })).status,
    ).toBe(200);
    const push = await call(`${server.url}example.test/team/app/keys`, { method: 'POST', headers: reader });
    expect(push.status).toBe(403);
    expect(push.json().error.code).toBe('DENIED');
    const elsewhere = await call(`${server.url}example.test/other/keys`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token('ci')}` },
    });
    expect(elsewhere.status).toBe(403);
    // The token is in no answer.
    expect(new TextDecoder().decode(wrong.body)).not.toContain('not-a-token');
    // The change feed shows a reader only what it may pull.
    const feed = await call(`${server.url}_tufa/changes?since=0`, { headers: reader });
    expect(feed.json().changes.map((c: { gun: string }) => c.gun)).toEqual(['example.test/team/app']);
    expect((await call(`${server.url}_tufa/changes?since=0`)).json().changes).toEqual([]);
  });
});

describe('health, metrics, change feed and the timestamp refresher', () => {
  let server: TestServer;
  let clock = new Date('2031-03-01T00:00:00Z');
  beforeAll(async () => {
    server = await startTestServer({ now: () => clock, expiry: { timestamp: 3600 } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('re-signs the timestamp once half its lifetime is gone, and says so in the feed and metrics', async () => {
    const client = new ServerClient({ url: server.url });
    await client.create(GUN, {
      keys: { root: [ROOT.key], targets: [TARGETS.key] },
      signers: [ROOT, TARGETS],
      expiry: { root: 10 * 365 * 86400, targets: 10 * 365 * 86400 },
    });
    const ts = async () =>
      Metadata.fromBytes((await client.readFile(GUN, 'metadata/timestamp.json')) as Uint8Array, 'timestamp')
        .signed;
    expect((await ts()).version).toBe(1);
    expect(await server.service.refreshAll()).toEqual({ refreshed: 0, failed: 0 });
    clock = new Date(clock.getTime() + 31 * 60 * 1000);
    expect(await server.service.refreshAll()).toEqual({ refreshed: 1, failed: 0 });
    expect((await ts()).version).toBe(2);
    expect((await ts()).expires.getTime()).toBe(Math.floor(clock.getTime() / 1000) * 1000 + 3600_000);
    const feed = (await call(`${server.url}_tufa/changes?since=0`)).json();
    expect(feed.changes.map((c: { kind: string }) => c.kind)).toEqual(['upload', 'refresh']);
    expect(feed.changes[1].versions).toEqual([{ role: 'timestamp', version: 2 }]);
    expect((await call(`${server.url}_tufa/changes?since=${feed.next}`)).json().changes).toEqual([]);
    expect((await call(`${server.url}_tufa/health`)).json()).toEqual({ status: 'ok' });
    expect((await call(`${server.url}_tufa/ready`)).status).toBe(200);
    const metrics = new TextDecoder().decode((await call(`${server.url}_tufa/metrics`)).body);
    expect(metrics).toContain('tufa_server_uploads_total{result="accepted"} 1');
    expect(metrics).toMatch(/tufa_server_requests_total\{route="file",status="200"\} \d+/);
  });
});
