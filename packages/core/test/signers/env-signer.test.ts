import { createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeKeyFile, envSigner, type SecretRequest } from '../../src/signers/index.js';
import { everythingShown, expectSigns, FAST, KINDS, pair, rejection, secretsOf } from './helpers.js';

const VAR = 'TUFA_TEST_SIGNING_KEY';
const b64 = (s: string | Uint8Array): string => Buffer.from(s).toString('base64');
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

describe('env signer: key material', () => {
  it.each(KINDS)('%s: an unencrypted PKCS#8 PEM', async (kind) => {
    const kp = await pair(kind);
    const secrets = secretsOf('unused');
    const signer = await envSigner(VAR, { env: { [VAR]: kp.privateKeyPem }, secrets });
    expect(signer.keyid).toBe(kp.key.keyid());
    expect(signer.key.toJSON()).toEqual(kp.key.toJSON());
    await expectSigns(signer);
    expect(secrets.requests).toEqual([]);
  });

  it('a PEM stored with literal \\n sequences, or base64-encoded', async () => {
    const kp = await pair('ed25519');
    const escaped = kp.privateKeyPem.trim().replaceAll('\n', '\\n');
    await expectSigns(await envSigner(VAR, { env: { [VAR]: escaped } }));
    await expectSigns(await envSigner(VAR, { env: { [VAR]: b64(kp.privateKeyPem) } }));
  });

  it('an encrypted PKCS#8 PEM asks for the passphrase, naming the variable', async () => {
    const kp = await pair('ecdsa-p256');
    const pem = createPrivateKey(kp.privateKeyPem).export({
      type: 'pkcs8',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase: 'pem-pass',
    }) as string;
    const secrets = secretsOf('pem-pass');
    await expectSigns(await envSigner(VAR, { env: { [VAR]: pem }, secrets }));
    expect(secrets.requests).toEqual([{ kind: 'passphrase', label: `environment variable ${VAR}` }]);

    const err = await rejection(
      envSigner(VAR, { env: { [VAR]: pem }, secrets: secretsOf('wrong-pem-pass') }),
    );
    expect(err.code).toBe('KEY');
    expect(err.message).toContain(VAR);
    expect(everythingShown(err)).not.toContain('wrong-pem-pass');
  });

  it('base64 of an encrypted key file, passphrase from the callback', async () => {
    const kp = await pair('ed25519');
    const file = await encodeKeyFile(kp, 's3cret-key-pass', FAST);
    const secrets = secretsOf('s3cret-key-pass');
    const signer = await envSigner(VAR, { env: { [VAR]: b64(file) }, secrets });
    await expectSigns(signer);
    expect(secrets.requests).toEqual([
      { kind: 'passphrase', keyid: kp.key.keyid(), label: `environment variable ${VAR}` },
    ]);
    // base64 wrapped at 76 columns, as `base64` prints it.
    const wrapped = b64(file).replace(/.{76}/g, '$&\n');
    await expectSigns(await envSigner(VAR, { env: { [VAR]: wrapped }, secrets }));
  });

  it('raw JSON of an unencrypted key file, no passphrase asked', async () => {
    const kp = await pair('ecdsa-p384');
    const file = text(await encodeKeyFile(kp, { unencrypted: true }));
    const secrets = secretsOf('unused');
    await expectSigns(await envSigner(VAR, { env: { [VAR]: file }, secrets }));
    expect(secrets.requests).toEqual([]);
  });

  it('reads process.env by default', async () => {
    const kp = await pair('ed25519');
    process.env[VAR] = kp.privateKeyPem;
    try {
      await expectSigns(await envSigner(VAR));
    } finally {
      delete process.env[VAR];
    }
  });

  it('signs as the keyid asked for', async () => {
    const kp = await pair('ed25519');
    const signer = await envSigner(VAR, { env: { [VAR]: kp.privateKeyPem }, keyid: 'ee'.repeat(32) });
    expect(signer.keyid).toBe('ee'.repeat(32));
  });
});

describe('env signer: errors name the variable, never its value', () => {
  it('a missing or empty variable is a USAGE error', async () => {
    for (const env of [{}, { [VAR]: '' }, { [VAR]: '  \n' }]) {
      const err = await rejection(envSigner(VAR, { env }));
      expect(err.code).toBe('USAGE');
      expect(err.message).toContain(VAR);
    }
  });

  it('an invalid variable name is a USAGE error', async () => {
    for (const name of ['', '1ABC', 'A-B', 'A B', '__proto__x=']) {
      expect((await rejection(envSigner(name, { env: {} }))).code).toBe('USAGE');
    }
  });

  it('does not read inherited properties of the environment object', async () => {
    const err = await rejection(envSigner('toString', { env: {} }));
    expect(err.code).toBe('USAGE');
  });

  it('garbage is a KEY error that does not quote it', async () => {
    const garbage = [
      'ZZZ-not-a-key-value-4f1e2d',
      b64('another secret value 8c7b6a'),
      '{"not":"a key file 5d4c3b"}',
    ];
    for (const value of garbage) {
      const err = await rejection(envSigner(VAR, { env: { [VAR]: value } }));
      expect(err.code).toBe('KEY');
      expect(err.message).toContain(VAR);
      const shown = everythingShown(err);
      expect(shown).not.toContain(value);
      expect(shown).not.toMatch(/4f1e2d|8c7b6a|5d4c3b/);
    }
  });

  it('a bad PEM body is a KEY error that does not quote it', async () => {
    const value = '-----BEGIN PRIVATE KEY-----\nAAAAsecretsecretsecret\n-----END PRIVATE KEY-----\n';
    const err = await rejection(envSigner(VAR, { env: { [VAR]: value } }));
    expect(err.code).toBe('KEY');
    expect(everythingShown(err)).not.toContain('secretsecret');
  });

  it('a wrong key-file passphrase is a KEY error showing neither passphrase nor value', async () => {
    const file = b64(await encodeKeyFile(await pair('ed25519'), 'right-one', FAST));
    const err = await rejection(
      envSigner(VAR, { env: { [VAR]: file }, secrets: secretsOf('wrong-one-71ab') }),
    );
    expect(err.code).toBe('KEY');
    expect(err.message).toBe(`environment variable ${VAR}: wrong passphrase or corrupted key file`);
    const shown = everythingShown(err);
    expect(shown).not.toContain('wrong-one-71ab');
    expect(shown).not.toContain('right-one');
    expect(shown).not.toContain(file.slice(100, 140));
  });

  it('an encrypted key without a secrets callback is a USAGE error', async () => {
    const file = b64(await encodeKeyFile(await pair('ed25519'), 'pw', FAST));
    const err = await rejection(envSigner(VAR, { env: { [VAR]: file } }));
    expect(err.code).toBe('USAGE');
    expect(err.message).toContain(VAR);
  });

  it('a failing callback becomes a KEY error; a TufError from it passes through', async () => {
    const file = b64(await encodeKeyFile(await pair('ed25519'), 'pw', FAST));
    const failing = async (_r: SecretRequest): Promise<string> => {
      throw new Error('no tty');
    };
    const err = await rejection(envSigner(VAR, { env: { [VAR]: file }, secrets: failing }));
    expect(err.code).toBe('KEY');
    expect(err.message).toContain(VAR);
    const { UsageError } = await import('../../src/errors.js');
    const cancelled = async (): Promise<string> => {
      throw new UsageError('cancelled');
    };
    expect((await rejection(envSigner(VAR, { env: { [VAR]: file }, secrets: cancelled }))).message).toBe(
      'cancelled',
    );
  });
});
