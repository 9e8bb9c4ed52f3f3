import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { Signer } from '../../src/crypto/signer.js';
import { UsageError } from '../../src/errors.js';
import {
  encodeKeyFile,
  filePathFromUri,
  redactUri,
  registerSignerScheme,
  resolveSigner,
  type SignerContext,
  signerSchemes,
  writeKeyFile,
} from '../../src/signers/index.js';
import { everythingShown, expectSigns, FAST, pair, rejection, secretsOf, tempDir } from './helpers.js';

const PIN = '918273';
const unregister: (() => void)[] = [];
afterEach(() => {
  for (const u of unregister.splice(0)) u();
});

function ctx(extra: Partial<SignerContext> = {}): SignerContext {
  return { secrets: secretsOf('pw'), ...extra };
}

describe('resolveSigner: file:', () => {
  it('absolute, file:///, relative to baseDir and percent-encoded paths', async () => {
    const dir = await tempDir();
    const path = join(dir, 'my key.json');
    const kp = await pair('ed25519');
    await writeKeyFile(path, kp, 'pw', FAST);
    const uris = [
      `file:${path.replaceAll(' ', '%20')}`,
      pathToFileURL(path).href, // file:///…/my%20key.json
    ];
    for (const uri of uris) {
      const signer = await resolveSigner(uri, ctx());
      expect(signer.keyid).toBe(kp.key.keyid());
      await expectSigns(signer);
    }
    await expectSigns(await resolveSigner('file:my%20key.json', ctx({ baseDir: dir })));
    expect(filePathFromUri('file:a/b.json', '/base')).toBe(resolve('/base', 'a/b.json'));
    expect(filePathFromUri('file:a%25b.json', '/base')).toBe(resolve('/base', 'a%b.json'));
  });

  it('asks for the passphrase with the path as label', async () => {
    const dir = await tempDir();
    const kp = await pair('ecdsa-p256');
    await writeKeyFile(join(dir, 'k.json'), kp, 'pw', FAST);
    const secrets = secretsOf('pw');
    await resolveSigner('file:k.json', { secrets, baseDir: dir });
    expect(secrets.requests).toEqual([
      { kind: 'passphrase', keyid: kp.key.keyid(), label: `key file ${JSON.stringify(join(dir, 'k.json'))}` },
    ]);
  });

  it('a PKCS#8 PEM file', async () => {
    const dir = await tempDir();
    const kp = await pair('ecdsa-p384');
    await writeFile(join(dir, 'k.pem'), kp.privateKeyPem);
    const signer = await resolveSigner('file:k.pem', ctx({ baseDir: dir }));
    expect(signer.keyid).toBe(kp.key.keyid());
    await expectSigns(signer);
  });

  it('refuses malformed file: URIs and reports a missing file', async () => {
    for (const uri of [
      'file:',
      'file:k.json?x=1',
      'file:k.json#frag',
      'file:bad%zz',
      'file://otherhost/k.json',
    ]) {
      expect((await rejection(resolveSigner(uri, ctx()))).code, uri).toBe('USAGE');
    }
    const dir = await tempDir();
    const err = await rejection(resolveSigner('file:nope.json', ctx({ baseDir: dir })));
    expect(err.code).toBe('STORAGE');
    expect(err.message).toContain('nope.json');
  });
});

describe('resolveSigner: env:', () => {
  it('reads the variable from the context environment', async () => {
    const kp = await pair('ed25519');
    const file = Buffer.from(await encodeKeyFile(kp, 'pw', FAST)).toString('base64');
    const signer = await resolveSigner('env:MY_KEY', ctx({ env: { MY_KEY: file } }));
    expect(signer.keyid).toBe(kp.key.keyid());
    await expectSigns(signer);
  });

  it('a missing variable is named; a bad name is refused', async () => {
    const err = await rejection(resolveSigner('env:MY_KEY', ctx({ env: {} })));
    expect(err.code).toBe('USAGE');
    expect(err.message).toContain('MY_KEY');
    for (const uri of ['env:', 'env:A-B', 'env:A?x=1', 'env:1A']) {
      expect((await rejection(resolveSigner(uri, ctx({ env: {} })))).code, uri).toBe('USAGE');
    }
  });
});

describe('resolveSigner: schemes and plugins', () => {
  it('an unknown scheme is a USAGE error listing what works', async () => {
    const err = await rejection(resolveSigner('awskms:///alias/root', ctx()));
    expect(err.code).toBe('USAGE');
    expect(err.message).toContain('awskms:');
    expect(err.message).toContain('file:');
    expect(err.message).toContain('env:');
  });

  it('pkcs11: without a plugin explains how to add hardware support, without the PIN', async () => {
    const uri = `pkcs11:token=tufa;object=root?pin-value=${PIN}`;
    const err = await rejection(resolveSigner(uri, ctx()));
    expect(err.code).toBe('USAGE');
    expect(err.message).toContain('install @tufa/pkcs11');
    expect(everythingShown(err)).not.toContain(PIN);
  });

  it('a registered plugin receives the whole URI and the context', async () => {
    const kp = await pair('ed25519');
    const seen: [string, SignerContext][] = [];
    unregister.push(
      registerSignerScheme('pkcs11', async (uri, context) => {
        seen.push([uri, context]);
        return kp.signer;
      }),
    );
    expect(signerSchemes()).toContain('pkcs11');
    const uri = `PKCS11:token=tufa;object=root?pin-value=${PIN}`;
    const context = ctx({ baseDir: '/somewhere' });
    const signer: Signer = await resolveSigner(uri, context);
    expect(signer).toBe(kp.signer);
    expect(seen).toEqual([[uri, context]]);
    unregister.pop()?.();
    expect((await rejection(resolveSigner(uri, ctx()))).code).toBe('USAGE');
    expect(signerSchemes()).not.toContain('pkcs11');
  });

  it('plugin failures: TufErrors pass through, others become KEY with a redacted URI', async () => {
    const uri = `fakekms:key/1?pin=${PIN}`;
    unregister.push(
      registerSignerScheme('fakekms', async () => {
        throw new Error('boom');
      }),
    );
    const err = await rejection(resolveSigner(uri, ctx()));
    expect(err.code).toBe('KEY');
    expect(err.message).toContain('fakekms:key/1');
    expect(err.message).not.toContain(PIN);

    unregister.push(
      registerSignerScheme('fakekms', async () => {
        throw new UsageError('plugin says no');
      }),
    );
    expect((await rejection(resolveSigner(uri, ctx()))).message).toBe('plugin says no');

    unregister.push(registerSignerScheme('fakekms', async () => ({ nope: true }) as unknown as Signer));
    expect((await rejection(resolveSigner(uri, ctx()))).code).toBe('USAGE');
  });

  it('built-in schemes cannot be replaced, bad scheme names are refused', () => {
    const h = async (): Promise<Signer> => {
      throw new Error('unused');
    };
    for (const scheme of ['file', 'ENV', '', '1x', 'a b', 'x:']) {
      expect(() => registerSignerScheme(scheme, h), scheme).toThrow(UsageError);
    }
  });

  it('a string without a scheme is refused, and pasted key material is not echoed', async () => {
    const err = await rejection(resolveSigner('keys/root.json', ctx()));
    expect(err.code).toBe('USAGE');
    expect(err.message).toContain('file:keys/root.json');
    const kp = await pair('ed25519');
    const pasted = await rejection(resolveSigner(kp.privateKeyPem, ctx()));
    expect(pasted.code).toBe('USAGE');
    const body = kp.privateKeyPem.split('\n')[1] ?? '';
    expect(everythingShown(pasted)).not.toContain(body);
  });
});

describe('redactUri', () => {
  const CASES: [string, string][] = [
    [`pkcs11:token=tufa;object=root?pin-value=${PIN}`, 'pkcs11:token=tufa;object=root'],
    [
      `pkcs11:token=tufa?module-path=/usr/lib/softhsm.so&pin-value=${PIN}`,
      'pkcs11:token=tufa?module-path=/usr/lib/softhsm.so',
    ],
    [`pkcs11:token=tufa?pin-value=${PIN}&module-name=softhsm2`, 'pkcs11:token=tufa?module-name=softhsm2'],
    [`pkcs11:token=tufa;pin-value=${PIN};object=root`, 'pkcs11:token=tufa;object=root'],
    [`pkcs11:token=tufa?PIN-VALUE=${PIN}`, 'pkcs11:token=tufa'],
    [`pkcs11:token=tufa?pin%2Dvalue=${PIN}`, 'pkcs11:token=tufa'],
    [`pkcs11:token=tufa?pin=${PIN}`, 'pkcs11:token=tufa'],
    ['pkcs11:token=tufa?pin-source=file:/run/pin', 'pkcs11:token=tufa?pin-source=file:/run/pin'],
    [`kms://user:${PIN}@host/key`, 'kms://user@host/key'],
    [`kms://host/key?password=${PIN}&region=eu`, 'kms://host/key?region=eu'],
    ['file:/keys/root.json', 'file:/keys/root.json'],
    ['env:TUFA_KEY', 'env:TUFA_KEY'],
  ];
  it.each(CASES)('%s → %s', (input, expected) => {
    expect(redactUri(input)).toBe(expected);
    expect(redactUri(input)).not.toContain(PIN);
  });
});
