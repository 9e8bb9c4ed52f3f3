/**
 * Hardware keys through the CLI: a repository whose root and targets keys live on a SoftHSM2
 * token is created, signs a tag, publishes, and verifies end to end with the built `tufa`.
 * Skips locally without SoftHSM2 or pkcs11js; fails under CI=true.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokens, probeSoftHsm, required, type SoftHsm } from '../../pkcs11/test/softhsm.js';

const BIN = join(import.meta.dirname, '../dist/bin.js');
const run = promisify(execFile);
const probe = await probeSoftHsm();

describe('tufa with keys on a PKCS#11 token', () => {
  it('has SoftHSM2 and pkcs11js where they are required', () => {
    if (required) expect(probe.reason).toBeUndefined();
  });

  let hsm: SoftHsm | undefined;
  let dir = '';
  const env = () => ({
    ...process.env,
    TUFA_HOME: join(dir, 'home'),
    TUFA_PASSPHRASE: 'online-passphrase',
    TUFA_SCRYPT_N: '1024',
    TUFA_PIN: '1234',
  });
  const tufa = async (...args: string[]) => {
    try {
      const r = await run(process.execPath, [BIN, ...args], { env: env() });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const x = e as { code: number; stdout: string; stderr: string };
      return { code: x.code, stdout: x.stdout, stderr: x.stderr };
    }
  };

  beforeAll(async () => {
    if (!probe.available) return;
    dir = await mkdtemp(join(tmpdir(), 'tufa-cli-pkcs11-'));
    hsm = await createTokens(['vault']);
  });
  afterAll(async () => {
    await hsm?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.skipIf(!probe.available)('generates keys on the token, publishes and verifies', async () => {
    const token = (object: string) => (hsm as SoftHsm).uri('vault', `;object=${object}`);
    const root = await tufa(
      '--json',
      'key',
      'generate',
      'root',
      '--type',
      'ecdsa-p256',
      '--pkcs11',
      token('root'),
    );
    expect(root.code, root.stderr).toBe(0);
    const rootUri = JSON.parse(root.stdout).key.uri as string;
    expect(rootUri).toMatch(/^pkcs11:/);
    expect(rootUri).not.toContain('1234');
    const targets = await tufa('--json', 'key', 'generate', 'targets', '--pkcs11', token('targets'));
    expect(targets.code, targets.stderr).toBe(0);
    const targetsUri = JSON.parse(targets.stdout).key.uri as string;
    // Nothing of either key was written to disk.
    expect(existsSync(join(dir, 'home', 'keys', 'root.json'))).toBe(false);

    const gun = 'registry.example.com/hsm/app';
    const pub = join(dir, 'pub');
    const init = await tufa(
      'init',
      gun,
      '--publish-root',
      pub,
      '--root-key',
      rootUri,
      '--targets-key',
      targetsUri,
    );
    expect(init.code, init.stderr).toBe(0);
    const digest = `sha256:${'ab'.repeat(32)}`;
    const sign = await tufa('sign', `${gun}:1.0`, '--digest', digest, '--size', '321');
    expect(sign.code, sign.stderr).toBe(0);

    const rootJson = join(pub, gun, 'metadata', '1.root.json');
    const md = JSON.parse(await readFile(rootJson, 'utf8'));
    expect(Object.values(md.signed.keys).map((k) => (k as { scheme: string }).scheme)).toContain(
      'ecdsa-sha2-nistp256',
    );
    const verify = await tufa(
      '--json',
      'verify',
      '--server',
      pub,
      '--root',
      rootJson,
      `${gun}:1.0`,
      '--digest',
      digest,
    );
    expect(verify.code, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ verified: true, digest, size: 321 });
  });

  it.skipIf(!probe.available)('runs the trust server with its timestamp key on the token', async () => {
    const token = (object: string) => (hsm as SoftHsm).uri('vault', `;object=${object}`);
    const made = await tufa(
      '--json',
      'key',
      'generate',
      'server-ts',
      '--type',
      'ecdsa-p256',
      '--pkcs11',
      token('server-ts'),
    );
    expect(made.code, made.stderr).toBe(0);
    const { uri, keyid } = JSON.parse(made.stdout).key as { uri: string; keyid: string };
    const server = spawn(
      process.execPath,
      [
        BIN,
        '--json',
        'server',
        '--listen',
        '127.0.0.1:0',
        '--store',
        join(dir, 'trust'),
        '--timestamp-key',
        uri,
      ],
      {
        env: { ...env(), TUFA_SERVER_KEY_PASSPHRASE: 'online-keys-passphrase-for-tests' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      let out = '';
      let err = '';
      server.stderr.on('data', (c) => {
        err += c;
      });
      const url = await new Promise<string>((ok, fail) => {
        server.on('exit', (code) => fail(new Error(`tufa server exited with ${code}: ${err}`)));
        server.stdout.on('data', (c) => {
          out += c;
          const m = /"url": "([^"]+)"/.exec(out);
          if (m) ok(m[1] as string);
        });
      });
      const gun = 'registry.example.com/hsm/served';
      const { ServerClient } = await import('@tufa/server');
      const { generateKeyPair, Metadata } = await import('@tufa/core');
      const [rootKey, targetsKey] = await Promise.all([
        generateKeyPair('ed25519'),
        generateKeyPair('ed25519'),
      ]);
      const client = new ServerClient({ url });
      expect((await client.onlineKeys(gun, { create: true })).timestamp.keyid()).toBe(keyid);
      await client.create(gun, {
        keys: { root: [rootKey.key], targets: [targetsKey.key] },
        signers: [rootKey.signer, targetsKey.signer],
      });
      const ts = Metadata.fromBytes(
        (await client.readFile(gun, 'metadata/timestamp.json')) as Uint8Array,
        'timestamp',
      );
      expect([...ts.signatures.keys()]).toEqual([keyid]);
    } finally {
      const exited = new Promise((done) => server.once('exit', done));
      server.kill('SIGTERM');
      await exited;
    }
  });

  it.skipIf(!probe.available)('refuses a PIN written into a key URI on the command line', async () => {
    const r = await tufa(
      'key',
      'export',
      `pkcs11:token=vault;object=root;pin-value=1234?module-path=/usr/lib/softhsm/libsofthsm2.so`,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Error: a PIN in a pkcs11: URI/m);
    expect(r.stderr).not.toContain('1234');
  });
});
