/**
 * `tufa server` through the built binary: the trust server on an embedded store, a publisher
 * creating a repository and signing a tag through @tufa/server's client, `tufa verify --server`
 * verifying it from the server, a second server on the same store refused, secrets only from the
 * environment, SIGTERM stopping it cleanly (the store then opens again), and `--read-only` as
 * `tufa serve`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { PrivateKeySigner, type Repository, TargetFile } from '@tufa/core';
import { HttpFetcher } from '@tufa/core/node';
import { ServerClient } from '@tufa/server';
import { afterAll, describe, expect, it } from 'vitest';
import { startTokenIssuer } from '../../oci/test/helpers/registry.js';
import { BIN, digestOf, expectError, expectExit, Sandbox, tufaEnv } from './helpers/cli.js';

const sandbox = new Sandbox('tufa-server-');
const KEY_PASSPHRASE = 'online-keys-passphrase-for-tests-0042';
const GUN = 'registry.test/team/app';
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** A fixed Ed25519 key (seed n repeated). */
function fixedSigner(n: number): PrivateKeySigner {
  const der = Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.alloc(32, n)]);
  return PrivateKeySigner.fromPem(
    createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
      .export({ format: 'pem', type: 'pkcs8' })
      .toString(),
  );
}

interface Running {
  url: string;
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  stop(): Promise<number | null>;
}

/** Starts `tufa ARGS` (a server) and waits for the URL it prints. */
function startServer(args: string[], env: Record<string, string | undefined> = {}): Promise<Running> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: sandbox.dir,
    env: tufaEnv({
      ...sandbox.env,
      TUFA_SERVER_KEY_PASSPHRASE: KEY_PASSPHRASE,
      TUFA_SCRYPT_N: '1024',
      ...env,
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return new Promise((done, fail) => {
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      err += c;
    });
    child.on('exit', (code) =>
      fail(new Error(`tufa ${args.join(' ')} exited with ${code}:\n${out}\n${err}`)),
    );
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const m =
        /"url": "(https?:\/\/127\.0\.0\.1:\d+\/)"/.exec(out) ??
        /at (https?:\/\/127\.0\.0\.1:\d+\/) /.exec(out);
      if (m) {
        done({
          url: m[1] as string,
          child,
          stdout: () => out,
          stderr: () => err,
          stop: async () => {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
            return exited;
          },
        });
      }
    });
  });
}

const running: Running[] = [];
afterAll(async () => {
  for (const r of running) await r.stop();
  sandbox.cleanup();
});

describe('tufa server --store DIR', () => {
  it('serves a repository a publisher created through it, and tufa verify --server verifies it', async () => {
    const server = await startServer(['--json', 'server', '--listen', '127.0.0.1:0', '--store', 'trust']);
    running.push(server);
    expect(JSON.parse(server.stdout())).toMatchObject({ url: server.url });

    const rootKey = PrivateKeySigner.fromPem(
      (await import('node:crypto'))
        .generateKeyPairSync('ed25519')
        .privateKey.export({ format: 'pem', type: 'pkcs8' })
        .toString(),
    );
    const targetsKey = PrivateKeySigner.fromPem(
      (await import('node:crypto'))
        .generateKeyPairSync('ed25519')
        .privateKey.export({ format: 'pem', type: 'pkcs8' })
        .toString(),
    );
    const client = new ServerClient({ url: server.url });
    await client.create(GUN, {
      keys: { root: [rootKey.key], targets: [targetsKey.key] },
      signers: [rootKey, targetsKey],
    });
    const digest = digestOf('app 1.0');
    await client.publish(GUN, { signers: [targetsKey] }, (repo) =>
      repo.addTargets([new TargetFile('1.0', 1000, new Map([['sha256', digest.slice('sha256:'.length)]]))]),
    );
    writeFileSync(
      sandbox.path('root.json'),
      (await client.readFile(GUN, 'metadata/1.root.json')) as Uint8Array,
    );

    const r = await sandbox
      .client()
      .tufa(['verify', '--server', server.url, '--root', 'root.json', `${GUN}:1.0`]);
    expect(expectExit(r, 0).stdout).toBe(`${GUN}:1.0 ${digest} 1000 bytes (signed by targets)\n`);

    // One server per directory: a second one is refused while the first runs.
    const second = await sandbox.tufa(['server', '--listen', '127.0.0.1:0', '--store', 'trust'], {
      env: { TUFA_SERVER_KEY_PASSPHRASE: KEY_PASSPHRASE },
    });
    expectError(second, 8, /another tufa server serves/);
    expect(second.stderr).toMatch(/\nHint: stop the other server, or give another --store\n$/);

    // SIGTERM: exit 0, the store released; a new server opens it and serves the same bytes.
    expect(await server.stop()).toBe(0);
    const again = await startServer(['server', '--listen', '127.0.0.1:0', '--store', 'trust']);
    running.push(again);
    expect(again.stdout()).toMatch(
      /^tufa server at http:\/\/127\.0\.0\.1:\d+\/ \(store trust; Ctrl-C to stop\)\n$/,
    );
    const r2 = await sandbox
      .client()
      .tufa(['verify', '--server', again.url, '--root', 'root.json', `${GUN}:1.0`]);
    expectExit(r2, 0);
    expect(await again.stop()).toBe(0);
  });

  it('takes the online-key passphrase from the environment only', async () => {
    const r = await sandbox.tufa(['server', '--listen', '127.0.0.1:0', '--store', 'trust2'], {
      env: { TUFA_SERVER_KEY_PASSPHRASE: undefined },
    });
    expectError(r, 6, /no passphrase for the online keys \(TUFA_SERVER_KEY_PASSPHRASE is not set\)/);
  });

  it('refuses a non-loopback address without tokens, and a malformed token list', async () => {
    const open = await sandbox.tufa(['server', '--listen', '0.0.0.0:0', '--store', 'trust3'], {
      env: { TUFA_SERVER_KEY_PASSPHRASE: KEY_PASSPHRASE },
    });
    expectError(open, 2, /no tokens given/);
    const bad = await sandbox.tufa(['server', '--listen', '127.0.0.1:0', '--store', 'trust3'], {
      env: {
        TUFA_SERVER_KEY_PASSPHRASE: KEY_PASSPHRASE,
        TUFA_SERVER_TOKENS: '[{"sha256": "nothex", "scopes": []}]',
      },
    });
    expectError(bad, 2, /TUFA_SERVER_TOKENS: \[0\]\.sha256/);
    const secret = 'db-password-in-argv';
    const url = await sandbox.tufa(['server', '--store', `postgres://tufa:${secret}@127.0.0.1/db`], {
      env: { TUFA_SERVER_KEY_PASSPHRASE: KEY_PASSPHRASE },
    });
    expectError(url, 2, /--store: the database URL carries a password/, /PGPASSWORD/);
    expect(url.stderr).not.toContain(secret);
    const key = await sandbox.tufa(
      ['server', '--listen', '127.0.0.1:0', '--store', 'trust3', '--timestamp-key', 'nope.json'],
      { env: { TUFA_SERVER_KEY_PASSPHRASE: KEY_PASSPHRASE } },
    );
    expectError(key, 5, /key nope\.json not found/);
    const envKey = await sandbox.tufa(
      ['server', '--listen', '127.0.0.1:0', '--store', 'trust3', '--snapshot-key', 'env:TUFA_TEST_UNSET_KEY'],
      { env: { TUFA_SERVER_KEY_PASSPHRASE: KEY_PASSPHRASE } },
    );
    expectError(envKey, 2, /environment variable TUFA_TEST_UNSET_KEY is not set/);
    const listen = await sandbox.tufa(['server', '--listen', 'nowhere', '--store', 'trust3']);
    expectError(listen, 2, /--listen: expected HOST:PORT/);
  });
});

describe('tufa server --metadata-cache', () => {
  it('0 turns the memory cache off: every answer is read from the store', async () => {
    const server = await startServer([
      'server',
      '--listen',
      '127.0.0.1:0',
      '--store',
      'trust-nocache',
      '--metadata-cache',
      '0',
    ]);
    running.push(server);
    const rootKey = fixedSigner(91);
    const targetsKey = fixedSigner(92);
    const client = new ServerClient({ url: server.url });
    await client.create(GUN, {
      keys: { root: [rootKey.key], targets: [targetsKey.key] },
      signers: [rootKey, targetsKey],
    });
    const url = `${server.url}${GUN}/metadata/1.targets.json`;
    expect((await fetch(url)).status).toBe(200);
    // Rewritten behind the server's back (an operator's mistake): with a cache, the server would
    // keep answering the bytes it read first (packages/server's read-cache test); without one, it
    // reads the store on every GET.
    const onDisk = sandbox.path(`trust-nocache/${GUN}/metadata/1.targets.json`);
    const changed = `${readFileSync(onDisk, 'utf8').trimEnd()} `;
    writeFileSync(onDisk, changed);
    expect(await (await fetch(url)).text()).toBe(changed);
    expect(await server.stop()).toBe(0);
  });

  it('refuses a bound larger than a process could hold', async () => {
    const r = await sandbox.tufa(
      ['server', '--listen', '127.0.0.1:0', '--store', 'trust-nocache2', '--metadata-cache', '70000'],
      { env: { TUFA_SERVER_KEY_PASSPHRASE: KEY_PASSPHRASE } },
    );
    expectError(r, 2, /--metadata-cache: expected at most 65536 MiB \(64 GiB\), found 70000/);
  });
});

describe('tufa server --repository-cache and --repository-cache-mib', () => {
  /**
   * Publishes once, then makes the store's current snapshot unreadable behind the server's back
   * while the next upload is prepared: a server that kept the GUN's verified repository after its
   * first upload takes the second without reading the snapshot again; one that kept nothing
   * opens the repository from the store and fails on it.
   */
  async function secondUploadAfterSnapshotBroken(store: string, flags: string[]): Promise<string> {
    const server = await startServer(['server', '--listen', '127.0.0.1:0', '--store', store, ...flags]);
    running.push(server);
    const rootKey = fixedSigner(101);
    const targetsKey = fixedSigner(102);
    const client = new ServerClient({ url: server.url });
    await client.create(GUN, {
      keys: { root: [rootKey.key], targets: [targetsKey.key] },
      signers: [rootKey, targetsKey],
    });
    await client.publish(GUN, { signers: [targetsKey] }, (r: Repository) =>
      r.addTargets([new TargetFile('app:1', 1, new Map([['sha256', '1'.repeat(64)]]))]),
    );
    const snapshotFile = sandbox.path(`${store}/${GUN}/metadata/2.snapshot.json`);
    let outcome = 'accepted';
    try {
      await client.publish(GUN, { signers: [targetsKey] }, async (r: Repository) => {
        writeFileSync(snapshotFile, '{"broken": true}');
        await r.addTargets([new TargetFile('app:2', 2, new Map([['sha256', '2'.repeat(64)]]))]);
      });
    } catch (e) {
      outcome = `refused: ${(e as { code?: string }).code}`;
    }
    expect(await server.stop()).toBe(0);
    return outcome;
  }

  it('keeps repositories between uploads by default, and none with either bound at 0', async () => {
    expect(await secondUploadAfterSnapshotBroken('trust-repo-default', [])).toBe('accepted');
    expect(await secondUploadAfterSnapshotBroken('trust-repo-none', ['--repository-cache', '0'])).toBe(
      'refused: FORMAT',
    );
    expect(await secondUploadAfterSnapshotBroken('trust-repo-nomem', ['--repository-cache-mib', '0'])).toBe(
      'refused: FORMAT',
    );
    expect(
      await secondUploadAfterSnapshotBroken('trust-repo-some', [
        '--repository-cache',
        '8',
        '--repository-cache-mib',
        '16',
      ]),
    ).toBe('accepted');
  });

  const bad: [string[], RegExp][] = [
    [
      ['--repository-cache', 'many'],
      /--repository-cache: expected a whole number of repositories from 0 to 1000000, found "many"/,
    ],
    [['--repository-cache', '-1'], /--repository-cache: expected a whole number .* found "-1"/],
    [['--repository-cache', '1000001'], /--repository-cache: expected .* found "1000001"/],
    [
      ['--repository-cache-mib', '1.5'],
      /--repository-cache-mib: expected a whole number of MiB from 0 to 65536, found "1.5"/,
    ],
    [['--repository-cache-mib', '70000'], /--repository-cache-mib: expected .* found "70000"/],
  ];
  for (const [flags, message] of bad) {
    it(`refuses ${flags.join(' ')} (exit 2, one Error: line and a Hint:)`, async () => {
      const r = await sandbox.tufa(
        ['server', '--listen', '127.0.0.1:0', '--store', 'trust-repo-bad', ...flags],
        {
          env: { TUFA_SERVER_KEY_PASSPHRASE: KEY_PASSPHRASE },
        },
      );
      expectError(r, 2, message, /tufa server … --repository-cache/);
      expect(r.stderr.split('\n').filter((l) => l.startsWith('Error:'))).toHaveLength(1);
    });
  }
});

describe('a server killed during an upload', () => {
  it('leaves the previous state served, and the next server takes the same upload', async () => {
    const rootKey = fixedSigner(81);
    const targetsKey = fixedSigner(82);
    // Writes 1-5 are the first upload (root, targets, snapshot, root.json, timestamp.json);
    // the second upload writes 2.targets.json (#6), 2.snapshot.json (#7), then timestamp.json.
    const doomed = await startServer(['server', '--listen', '127.0.0.1:0', '--store', 'trust-kill'], {
      TUFA_TEST_ONLY_KILL_AT: 'SIGKILL@write-done#7',
    });
    running.push(doomed);
    const client = new ServerClient({ url: doomed.url });
    await client.create(GUN, {
      keys: { root: [rootKey.key], targets: [targetsKey.key] },
      signers: [rootKey, targetsKey],
    });
    const digest = digestOf('app 2.0');
    const add = (repo: Repository) =>
      repo.addTargets([new TargetFile('2.0', 2000, new Map([['sha256', digest.slice('sha256:'.length)]]))]);
    await expect(client.publish(GUN, { signers: [targetsKey] }, add)).rejects.toMatchObject({
      code: 'FETCH',
    });
    await doomed.stop();
    expect(doomed.child.signalCode).toBe('SIGKILL');

    // Its locks are taken over; clients see the state before the upload, complete.
    const next = await startServer(['server', '--listen', '127.0.0.1:0', '--store', 'trust-kill']);
    running.push(next);
    const again = new ServerClient({ url: next.url });
    writeFileSync(
      sandbox.path('kill-root.json'),
      (await again.readFile(GUN, 'metadata/1.root.json')) as Uint8Array,
    );
    const before = await sandbox
      .client()
      .tufa(['verify', '--server', next.url, '--root', 'kill-root.json', `${GUN}:2.0`]);
    expectExit(before, 5);
    const { versions } = await again.publish(GUN, { signers: [targetsKey] }, add);
    expect(versions).toContainEqual({ role: 'targets', version: 2 });
    const after = await sandbox
      .client()
      .tufa(['verify', '--server', next.url, '--root', 'kill-root.json', `${GUN}:2.0`]);
    expect(expectExit(after, 0).stdout).toBe(`${GUN}:2.0 ${digest} 2000 bytes (signed by targets)\n`);
    expect(await next.stop()).toBe(0);
  });
});

describe('tufa server with registry tokens', () => {
  it('challenges anonymous reads with the token service and takes its tokens', async () => {
    const user = { username: 'bob', password: 'bob-password-7' };
    const issuer = await startTokenIssuer({ users: [user] });
    try {
      const s = await startServer([
        'server',
        '--listen',
        '127.0.0.1:0',
        '--store',
        'trust-jwt',
        '--token-certs',
        issuer.certificatePath,
        '--token-issuer',
        issuer.issuer,
        '--token-service',
        issuer.service,
        '--token-realm',
        issuer.realm,
      ]);
      running.push(s);
      const anonymous = await fetch(`${s.url}${GUN}/keys`);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toContain(`realm="${issuer.realm}"`);
      const basic = Buffer.from(`${user.username}:${user.password}`).toString('base64');
      const scope = encodeURIComponent(`repository:${GUN}:pull,push`);
      const got = await fetch(
        `${issuer.realm}?service=${encodeURIComponent(issuer.service)}&scope=${scope}`,
        {
          headers: { Authorization: `Basic ${basic}` },
        },
      );
      const { token } = (await got.json()) as { token: string };
      const created = await fetch(`${s.url}${GUN}/keys`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}` },
      });
      expect(created.status).toBe(200);
      expect(await s.stop()).toBe(0);
    } finally {
      await issuer.stop();
    }
  });
});

describe('tufa server --read-only DIR', () => {
  it('serves a publish root as tufa serve does', async () => {
    mkdirSync(sandbox.path('www', 'repo', 'metadata'), { recursive: true });
    writeFileSync(sandbox.path('www', 'repo', 'metadata', 'timestamp.json'), '{"signed":{}}\n');
    const s = await startServer(['server', '--listen', '127.0.0.1:0', '--read-only', 'www']);
    running.push(s);
    expect(s.stdout()).toMatch(
      /^serving .*www at http:\/\/127\.0\.0\.1:\d+\/ \(read-only; Ctrl-C to stop\)\n$/,
    );
    const res = await fetch(`${s.url}repo/metadata/timestamp.json`);
    expect(await res.text()).toBe('{"signed":{}}\n');
    expect((await fetch(`${s.url}repo/metadata/timestamp.json`, { method: 'POST' })).status).toBe(405);
    expect(await s.stop()).toBe(0);
  });
});

describe('tufa server over TLS', () => {
  const tlsDir = new URL('../../../test-vectors/tls/', import.meta.url).pathname;
  const tlsArgs = ['--tls-cert', `${tlsDir}server.pem`, '--tls-key', `${tlsDir}server-key.pem`];

  it('serves and takes uploads over HTTPS; clients verify with the CA given, and only with it', async () => {
    const server = await startServer([
      'server',
      '--listen',
      '127.0.0.1:0',
      '--store',
      'trust-tls',
      ...tlsArgs,
    ]);
    running.push(server);
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    const ca = readFileSync(`${tlsDir}ca.pem`, 'utf8');
    const client = new ServerClient({ url: server.url, fetcher: new HttpFetcher({ env: {}, ca }) });
    const rootKey = fixedSigner(91);
    const targetsKey = fixedSigner(92);
    await client.create(GUN, {
      keys: { root: [rootKey.key], targets: [targetsKey.key] },
      signers: [rootKey, targetsKey],
    });
    const digest = digestOf('app tls');
    await client.publish(GUN, { signers: [targetsKey] }, (repo) =>
      repo.addTargets([new TargetFile('tls', 77, new Map([['sha256', digest.slice('sha256:'.length)]]))]),
    );
    writeFileSync(
      sandbox.path('root-tls.json'),
      (await client.readFile(GUN, 'metadata/1.root.json')) as Uint8Array,
    );
    const verify = (extra: string[]) =>
      sandbox
        .client()
        .tufa(['verify', '--server', server.url, '--root', 'root-tls.json', ...extra, `${GUN}:tls`]);
    expect(expectExit(await verify(['--ca', `${tlsDir}ca.pem`]), 0).stdout).toBe(
      `${GUN}:tls ${digest} 77 bytes (signed by targets)\n`,
    );
    // Without the CA the certificate is not trusted: nothing is read from the server.
    const untrusted = await verify([]);
    expect(untrusted.code, untrusted.stderr).not.toBe(0);
    expect(untrusted.stderr).toMatch(/certificate/i);
    // Plain HTTP to the TLS port is not answered as HTTP.
    await expect(fetch(server.url.replace('https:', 'http:'))).rejects.toThrow();
    expect(await server.stop()).toBe(0);
  });

  it('serves a publish root read-only over HTTPS', async () => {
    mkdirSync(sandbox.path('www-tls', 'repo', 'metadata'), { recursive: true });
    writeFileSync(sandbox.path('www-tls', 'repo', 'metadata', 'timestamp.json'), '{"signed":{}}\n');
    const s = await startServer(['server', '--listen', '127.0.0.1:0', '--read-only', 'www-tls', ...tlsArgs]);
    running.push(s);
    expect(s.url).toMatch(/^https:/);
    const ca = readFileSync(`${tlsDir}ca.pem`, 'utf8');
    const chunks: Uint8Array[] = [];
    for await (const c of new HttpFetcher({ env: {}, ca }).fetch(`${s.url}repo/metadata/timestamp.json`, {
      maxLength: 1000,
      signal: new AbortController().signal,
    }))
      chunks.push(c);
    expect(Buffer.concat(chunks).toString()).toBe('{"signed":{}}\n');
    expect(await s.stop()).toBe(0);
  });

  it("refuses half a TLS configuration, an unreadable file, and a key that is not the certificate's", async () => {
    const env = { env: { TUFA_SERVER_KEY_PASSPHRASE: KEY_PASSPHRASE } };
    const half = await sandbox.tufa(
      ['server', '--listen', '127.0.0.1:0', '--store', 'trust-tls2', '--tls-cert', `${tlsDir}server.pem`],
      env,
    );
    expectError(half, 2, /--tls-cert and --tls-key go together \(found only --tls-cert\)/);
    const missing = await sandbox.tufa(
      [
        'server',
        '--listen',
        '127.0.0.1:0',
        '--store',
        'trust-tls2',
        '--tls-cert',
        'nope.pem',
        '--tls-key',
        'nope.pem',
      ],
      env,
    );
    expectError(missing, 7, /cannot read the TLS certificate nope\.pem \(ENOENT\)/);
    const mismatched = await sandbox.tufa(
      [
        'server',
        '--listen',
        '127.0.0.1:0',
        '--store',
        'trust-tls2',
        '--tls-cert',
        `${tlsDir}server.pem`,
        '--tls-key',
        `${tlsDir}ca-key.pem`,
      ],
      env,
    );
    expectError(mismatched, 2, /the TLS certificate and key cannot be used: .*key values mismatch/);
    const readOnly = await sandbox.tufa(
      [
        'server',
        '--listen',
        '127.0.0.1:0',
        '--read-only',
        '.',
        '--tls-cert',
        `${tlsDir}ca.pem`,
        '--tls-key',
        `${tlsDir}server-key.pem`,
      ],
      env,
    );
    expectError(readOnly, 2, /the TLS certificate and key cannot be used/);
  });
});
