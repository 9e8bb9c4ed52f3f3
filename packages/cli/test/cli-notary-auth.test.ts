/**
 * `tufa notary … --username`: the registry credentials reach a token realm on another host only
 * when `--token-realm-host` or `tokenRealmHosts` in `$TUFA_HOME/config.json` allows it, and that
 * file is validated strictly. A notary-server stand-in on 127.0.0.1 serves the committed
 * collection (test-vectors/notary) behind Docker's token flow; its token realm runs on the
 * same address under the name `localhost`, so it is another host, and records every
 * Authorization header it receives.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { expectError, expectExit, expectJson, Sandbox, show } from './helpers/cli.js';

const VECTORS = join(import.meta.dirname, '../../../test-vectors/notary');
const GUN = 'example.com/notary/app';
const AS_OF = new Date(
  new Date(readFileSync(join(VECTORS, 'created.txt'), 'utf8').trim()).getTime() + 3_600_000,
).toISOString();
const PASSWORD = 'dckr_pat_Registry-Secret-4412';
const BASIC = `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`;
const TOKEN = 'tok-cli-6631';

const sandbox = new Sandbox('tufa-notary-auth-');
const realmSeen: (string | undefined)[] = [];
let notary: http.Server;
let realm: http.Server;
let server = '';

function listen(s: http.Server): Promise<number> {
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));
}

beforeAll(async () => {
  realm = http.createServer((q, s) => {
    realmSeen.push(q.headers.authorization);
    s.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: TOKEN }));
  });
  const realmPort = await listen(realm);
  notary = http.createServer((q, s) => {
    if (q.headers.authorization !== `Bearer ${TOKEN}`) {
      s.writeHead(401, {
        'www-authenticate': `Bearer realm="http://localhost:${realmPort}/token",service="notary.test"`,
      }).end();
      return;
    }
    const prefix = `/v2/${GUN}/_trust/tuf/`;
    const url = q.url ?? '';
    const name = url.startsWith(prefix) ? decodeURIComponent(url.slice(prefix.length)) : '';
    const file = name.replace(/\.[0-9a-f]{64}\.json$/, '.json');
    if (!/^(?:[0-9]+\.)?[a-z]+(?:\/releases)?\.json$/.test(file)) {
      s.writeHead(404).end();
      return;
    }
    let body: Buffer;
    try {
      body = readFileSync(join(VECTORS, 'server', file));
    } catch {
      s.writeHead(404).end();
      return;
    }
    s.writeHead(200).end(body);
  });
  server = `http://127.0.0.1:${await listen(notary)}`;
});

afterAll(async () => {
  await new Promise((r) => notary.close(r));
  await new Promise((r) => realm.close(r));
  sandbox.cleanup();
});

beforeEach(() => {
  realmSeen.length = 0;
  rmSync(join(sandbox.home, 'config.json'), { force: true });
});

const NO_PROXY = {
  http_proxy: undefined,
  HTTP_PROXY: undefined,
  https_proxy: undefined,
  HTTPS_PROXY: undefined,
};

function list(...extra: string[]) {
  return sandbox.tufa(
    [
      'notary',
      'list',
      '--server',
      server,
      '--username',
      'alice',
      '--unsafe-tofu',
      '--as-of',
      AS_OF,
      ...extra,
      GUN,
    ],
    { env: { TUFA_REGISTRY_PASSWORD: PASSWORD, ...NO_PROXY } },
  );
}

function writeConfig(text: string): string {
  mkdirSync(sandbox.home, { recursive: true });
  const path = join(sandbox.home, 'config.json');
  writeFileSync(path, text);
  return path;
}

function expectNoSecret(r: { stdout: string; stderr: string }): void {
  for (const secret of [PASSWORD, BASIC.slice(6), TOKEN]) {
    expect(r.stdout, show(r as never)).not.toContain(secret);
    expect(r.stderr, show(r as never)).not.toContain(secret);
  }
}

describe('tufa notary: token realm on another host', () => {
  it('refuses to send the credentials (exit 6), names both hosts and the option that allows it', async () => {
    const r = await list();
    expectError(
      r,
      6,
      /credentials for 127\.0\.0\.1 to the token realm on localhost/,
      '--token-realm-host localhost',
    );
    expect(r.stderr).toContain('tokenRealmHosts');
    expectNoSecret(r);
    expect(realmSeen).toEqual([]);
  });

  it('reports the refusal as CREDENTIALS_REFUSED in JSON', async () => {
    const r = await sandbox.tufa(
      [
        '--json',
        'notary',
        'verify',
        '--server',
        server,
        '--username',
        'alice',
        '--unsafe-tofu',
        '--as-of',
        AS_OF,
        GUN,
      ],
      { env: { TUFA_REGISTRY_PASSWORD: PASSWORD, ...NO_PROXY } },
    );
    const out = expectJson<{ error: { code: string; exitCode: number; hint: string } }>(r, 6);
    expect(out.error.code).toBe('CREDENTIALS_REFUSED');
    expect(out.error.exitCode).toBe(6);
    expect(out.error.hint).toContain('--token-realm-host localhost');
    expect(realmSeen).toEqual([]);
  });

  it('sends them with --token-realm-host', async () => {
    const r = await list('--token-realm-host', 'other.example.com', '--token-realm-host', 'localhost');
    expectExit(r, 0);
    expect(r.stdout).toContain('NAME');
    expectNoSecret(r);
    expect(realmSeen).toEqual([BASIC]);
  });

  it('sends them with tokenRealmHosts in $TUFA_HOME/config.json', async () => {
    writeConfig('{"tokenRealmHosts": ["localhost"]}\n');
    expectExit(await list(), 0);
    expect(realmSeen).toEqual([BASIC]);
  });

  it('refuses a --token-realm-host that is not a bare host (exit 2)', async () => {
    for (const bad of ['https://localhost', 'localhost:443', '*.example.com', 'localhost/token']) {
      const r = await list('--token-realm-host', bad);
      expectError(r, 2, '--token-realm-host takes a host name');
    }
    expect(realmSeen).toEqual([]);
  });

  it('refuses --token-realm-host without --server', async () => {
    const r = await sandbox.tufa([
      'notary',
      'list',
      '--trust-dir',
      'x',
      '--token-realm-host',
      'localhost',
      GUN,
    ]);
    expectError(r, 2, '--token-realm-host apply to --server only');
  });
});

describe('$TUFA_HOME/config.json is read strictly', () => {
  it.each([
    [
      '{"tokenRealmHosts": "localhost"}',
      'tokenRealmHosts: expected an array of host names, found "localhost"',
    ],
    ['{"tokenRealmHosts": ["localhost", 42]}', 'tokenRealmHosts[1]: expected a host name'],
    ['{"tokenRealmHosts": [null]}', 'tokenRealmHosts[0]: expected a host name'],
    ['{"tokenRealmHosts": ["https://localhost"]}', 'tokenRealmHosts[0]: expected a host name'],
    [
      '{"tokenRealmHost": ["localhost"]}',
      '"tokenRealmHost": unknown setting (expected one of: tokenRealmHosts)',
    ],
    ['{"__proto__": {"tokenRealmHosts": ["localhost"]}}', '"__proto__": unknown setting'],
    ['{"constructor": 1}', '"constructor": unknown setting'],
    ['{"tokenRealmHosts": [], "tokenRealmHosts": ["localhost"]}', 'not valid JSON'],
    ['["localhost"]', 'expected a JSON object, found an array'],
    ['{"tokenRealmHosts": ["localhost"]', 'not valid JSON'],
  ])('%s', async (text, message) => {
    const path = writeConfig(text);
    const r = await list();
    expectError(r, 2, `${path}: ${message}`, `fix or remove ${path}`);
    expect(realmSeen).toEqual([]);
  });

  it('an empty object and a missing file are the defaults', async () => {
    writeConfig('{}');
    expectExit(await list(), 6);
    rmSync(join(sandbox.home, 'config.json'));
    expectExit(await list(), 6);
    expect(realmSeen).toEqual([]);
  });
});
