/**
 * Token errors that SoftHSM2 cannot produce (a locked PIN, a missing mechanism, a session lost
 * mid-signature, a module without thread locking), through a JavaScript stand-in for pkcs11js;
 * the mapping of every CKR_* value we name; and a machine without pkcs11js.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyError, NotFoundError, UsageError } from '@tufa/core';
import { resolveSigner } from '@tufa/core/node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CK, setBindingImporter } from '../src/binding.js';
import { CKR, ckrName, ckrOf, mapPkcs11Error } from '../src/errors.js';
import { closePkcs11, generateKeyPairOnToken, listTokens, Pkcs11Signer, register } from '../src/index.js';
import { addEd25519Key, type FakeState, fakeBinding, fakeState, pkcs11Error } from './fake-binding.js';

const enc = new TextEncoder();

describe('mapPkcs11Error', () => {
  const ctx = {
    operation: 'C_Login',
    token: 'token "t"',
    uri: 'pkcs11:token=t',
    mechanism: 'CKM_EDDSA (ed25519 signing)',
  };
  it.each([
    [CKR.CKR_PIN_INCORRECT, KeyError, /^wrong PIN for token "t" \(CKR_PIN_INCORRECT\)/],
    [CKR.CKR_PIN_LOCKED, KeyError, /^the user PIN of token "t" is locked \(CKR_PIN_LOCKED\): unblock it/],
    [CKR.CKR_PIN_EXPIRED, KeyError, /^the PIN of token "t" has expired/],
    [CKR.CKR_PIN_LEN_RANGE, KeyError, /^the PIN for token "t" has an invalid length/],
    [
      CKR.CKR_MECHANISM_INVALID,
      KeyError,
      /^token "t" does not support CKM_EDDSA \(ed25519 signing\) \(CKR_MECHANISM_INVALID \(0x70\) from C_Login\)/,
    ],
    [CKR.CKR_CURVE_NOT_SUPPORTED, KeyError, /^token "t" does not support CKM_EDDSA/],
    [CKR.CKR_TOKEN_NOT_PRESENT, NotFoundError, /^token "t" was removed \(CKR_TOKEN_NOT_PRESENT \(0xe0\)/],
    [CKR.CKR_DEVICE_REMOVED, NotFoundError, /^token "t" was removed/],
    [CKR.CKR_TOKEN_WRITE_PROTECTED, KeyError, /is write-protected/],
    [CKR.CKR_KEY_FUNCTION_NOT_PERMITTED, KeyError, /may not sign/],
    [CKR.CKR_FUNCTION_CANCELED, KeyError, /was cancelled on token "t"/],
    [CKR.CKR_TEMPLATE_INCONSISTENT, KeyError, /refused the key attributes/],
    [CKR.CKR_ARGUMENTS_BAD, UsageError, /rejected its arguments/],
    [
      CKR.CKR_DEVICE_ERROR,
      KeyError,
      /^C_Login failed for token "t": CKR_DEVICE_ERROR \(0x30\) \(pkcs11:token=t\)$/,
    ],
    [0x8000_0001, KeyError, /^C_Login failed for token "t": CKR 0x80000001/],
  ])('CKR 0x%s', (rv, type, message) => {
    const e = mapPkcs11Error(pkcs11Error(rv), ctx);
    expect(e).toBeInstanceOf(type);
    expect(e.message).toMatch(message);
  });

  it('passes TufErrors through and wraps anything else as a KeyError', () => {
    const usage = new UsageError('x');
    expect(mapPkcs11Error(usage, ctx)).toBe(usage);
    const e = mapPkcs11Error(new Error('dlopen failed\nstack'), { operation: 'load' });
    expect(e).toBeInstanceOf(KeyError);
    expect(e.message).toBe('load failed for the token: dlopen failed');
  });

  it('reads the return value only from pkcs11js errors', () => {
    expect(ckrOf(pkcs11Error(0xa0))).toBe(0xa0);
    expect(ckrOf(Object.assign(new Error('ENOENT'), { code: 2 }))).toBeUndefined();
    expect(ckrOf(new TypeError('x'))).toBeUndefined();
    expect(ckrOf(null)).toBeUndefined();
    expect(ckrName(0xa4)).toBe('CKR_PIN_LOCKED (0xa4)');
  });
});

describe('constants', () => {
  it('match the ones pkcs11js exports (where it has them)', async (ctx) => {
    let mod: Record<string, unknown>;
    try {
      const m = (await import('pkcs11js' as string)) as { default?: Record<string, unknown> };
      mod = m.default ?? (m as Record<string, unknown>);
    } catch {
      ctx.skip('pkcs11js is not installed');
      return;
    }
    let compared = 0;
    for (const [name, value] of [...Object.entries(CK), ...Object.entries(CKR)]) {
      if (name === 'CKF_OS_LOCKING_OK' || name === 'CKF_RW_SESSION' || name === 'CKF_TOKEN_PRESENT') {
        expect(value).toBe(name === 'CKF_TOKEN_PRESENT' ? 1 : 2);
        continue;
      }
      if (mod[name] === undefined) continue; // the PKCS#11 3.0 Edwards constants
      expect([name, mod[name]]).toEqual([name, value]);
      compared++;
    }
    expect(compared).toBeGreaterThan(60);
    expect(mod['CKM_EDDSA']).toBeUndefined(); // why binding.ts defines them itself
  });
});

describe('with a stand-in module', () => {
  let dir: string;
  let modulePath: string;
  let state: FakeState;
  const uri = (more = ';object=k') => `pkcs11:token=fake${more}?module-path=${modulePath}`;
  const env = { TUFA_PIN: '1234' };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tufa-fake-'));
    modulePath = join(dir, 'libfake.so');
    await writeFile(modulePath, 'fake');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    state = fakeState();
    addEd25519Key(state, 'k', Buffer.from([1]));
    setBindingImporter(async () => fakeBinding(state));
  });
  afterEach(async () => {
    await closePkcs11();
    setBindingImporter(undefined);
  });

  it('signs, and the signature verifies', async () => {
    const s = await Pkcs11Signer.open(uri(), { env });
    const sig = await s.sign(enc.encode('x'));
    expect(await s.key.verify(enc.encode('x'), sig.sig)).toBe(true);
    expect(s.uri).toBe(
      `pkcs11:token=fake;serial=0042;object=k;type=private;id=%01?module-path=${modulePath}`,
    );
  });

  it('a PIN the token reports locked: KeyError, without asking for or trying a PIN', async () => {
    state.tokenFlags |= CK.CKF_USER_PIN_LOCKED;
    let asked = 0;
    const err = await Pkcs11Signer.open(uri(), {
      env: {},
      secrets: async () => {
        asked++;
        return '1234';
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyError);
    expect((err as KeyError).code).toBe('KEY');
    expect((err as Error).message).toMatch(
      /^the user PIN of token "fake" \(serial 0042\) is locked \(CKR_PIN_LOCKED\)/,
    );
    expect(asked).toBe(0);
    expect(state.loginAttempts).toEqual([]);
  });

  it('a PIN that locks at login (CKR_PIN_LOCKED from C_Login): the same KeyError', async () => {
    state.failures.set('C_Login', [CKR.CKR_PIN_LOCKED]);
    await expect(Pkcs11Signer.open(uri(), { env })).rejects.toMatchObject({
      code: 'KEY',
      message: expect.stringMatching(/is locked \(CKR_PIN_LOCKED\)/),
    });
  });

  it('a wrong PIN is forgotten: the next attempt asks again', async () => {
    const answers = ['0000', '1234'];
    const secrets = async () => answers.shift() as string;
    await expect(Pkcs11Signer.open(uri(), { env: {}, secrets })).rejects.toMatchObject({
      message: expect.stringMatching(/^wrong PIN/),
    });
    await expect(Pkcs11Signer.open(uri(), { env: {}, secrets })).resolves.toBeInstanceOf(Pkcs11Signer);
    expect(state.loginAttempts).toEqual(['1:0000', '1:1234']);
  });

  it('a token without the signing mechanism: KeyError naming it', async () => {
    state.mechanisms = [CK.CKM_ECDSA];
    const s = await Pkcs11Signer.open(uri(), { env });
    await expect(s.sign(enc.encode('x'))).rejects.toMatchObject({
      code: 'KEY',
      message: expect.stringMatching(
        /^token "fake" \(serial 0042\) does not support CKM_EDDSA \(ed25519 signing\) \(CKR_MECHANISM_INVALID \(0x70\) from C_SignInit\)/,
      ),
    });
  });

  it('a token without the key generation mechanism: KeyError naming it', async () => {
    await expect(generateKeyPairOnToken(uri(';object=new'), 'ed25519', { env })).rejects.toMatchObject({
      code: 'KEY',
      message: 'token "fake" (serial 0042) does not support CKM_EC_EDWARDS_KEY_PAIR_GEN (ed25519 keys)',
    });
    expect(state.calls.get('C_GenerateKeyPair')).toBeUndefined();
  });

  it('a session lost mid-signature is reopened and logged in again, once, without asking again', async () => {
    let asked = 0;
    const s = await Pkcs11Signer.open(uri(), {
      env: {},
      secrets: async () => {
        asked++;
        return '1234';
      },
    });
    state.failures.set('C_Sign', [CKR.CKR_SESSION_HANDLE_INVALID]);
    const sig = await s.sign(enc.encode('x'));
    expect(await s.key.verify(enc.encode('x'), sig.sig)).toBe(true);
    expect(state.sessionsOpened).toBe(2);
    expect(asked).toBe(1);
    // Twice in a row: the token is gone.
    state.failures.set('C_Sign', [CKR.CKR_DEVICE_REMOVED, CKR.CKR_DEVICE_REMOVED]);
    await expect(s.sign(enc.encode('x'))).rejects.toBeInstanceOf(NotFoundError);
  });

  it('serializes concurrent signatures on one session', async () => {
    const s = await Pkcs11Signer.open(uri(), { env });
    const sigs = await Promise.all(Array.from({ length: 20 }, (_, i) => s.sign(enc.encode(`m${i}`))));
    expect(sigs).toHaveLength(20);
    expect(state.interleaved).toBe(0);
    expect(state.calls.get('C_Sign')).toBe(20);
  });

  it('closePkcs11 while signatures are queued: it waits for the running one, the rest reopen the module', async () => {
    const s = await Pkcs11Signer.open(uri(), { env });
    const before = Array.from({ length: 5 }, (_, i) => s.sign(enc.encode(`a${i}`)));
    const closed = closePkcs11();
    const after = Array.from({ length: 5 }, (_, i) => s.sign(enc.encode(`b${i}`)));
    const sigs = await Promise.all([...before, ...after, closed]);
    expect(sigs.filter(Boolean)).toHaveLength(10);
    expect(state.interleaved).toBe(0);
    expect(state.calls.get('C_Initialize')).toBe(2);
  });

  it('a module that cannot lock (CKR_CANT_LOCK) still works, one operation at a time', async () => {
    state.failures.set('C_Initialize', [CKR.CKR_CANT_LOCK]);
    const s = await Pkcs11Signer.open(uri(), { env });
    await Promise.all(Array.from({ length: 5 }, () => s.sign(enc.encode('x'))));
    expect(state.calls.get('C_Initialize')).toBe(2);
    expect(state.interleaved).toBe(0);
  });

  it('refuses a public key that is not the pair of the private key (checked on every signature)', async () => {
    state = fakeState();
    addEd25519Key(state, 'a', Buffer.from([1]));
    addEd25519Key(state, 'b', Buffer.from([2]));
    // Swap the public points of the two keys.
    const pubs = state.objects.filter((o) => o.attrs.get(CK.CKA_EC_POINT));
    const [pa, pb] = pubs.map((o) => o.attrs.get(CK.CKA_EC_POINT) as Buffer);
    pubs[0]?.attrs.set(CK.CKA_EC_POINT, pb as Buffer);
    pubs[1]?.attrs.set(CK.CKA_EC_POINT, pa as Buffer);
    const s = await Pkcs11Signer.open(uri(';object=a'), { env });
    await expect(s.sign(enc.encode('x'))).rejects.toMatchObject({
      code: 'KEY',
      message: expect.stringContaining('does not verify with the public key'),
    });
  });

  it('no initialized token: NotFoundError', async () => {
    state.tokenFlags = 0;
    await expect(Pkcs11Signer.open(uri(), { env })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining('no initialized token is present: is it plugged in?'),
    });
  });

  it('library attributes select the module', async () => {
    const ok = `pkcs11:library-manufacturer=tufa%20tests;library-version=1;object=k?module-path=${modulePath}`;
    await expect(Pkcs11Signer.open(ok, { env })).resolves.toBeInstanceOf(Pkcs11Signer);
    const other = `pkcs11:library-version=2.0;object=k?module-path=${modulePath}`;
    await expect(Pkcs11Signer.open(other, { env })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('without pkcs11js', () => {
  afterEach(async () => {
    await closePkcs11();
    setBindingImporter(undefined);
  });

  it('importing the package and registering the scheme need nothing native', async () => {
    let imported = 0;
    setBindingImporter(async () => {
      imported++;
      throw Object.assign(new Error("Cannot find package 'pkcs11js'"), { code: 'ERR_MODULE_NOT_FOUND' });
    });
    const unregister = register();
    unregister();
    expect(imported).toBe(0);
  });

  it('a clear UsageError saying how to add hardware support', async () => {
    setBindingImporter(async () => {
      throw Object.assign(new Error("Cannot find package 'pkcs11js' imported from …"), {
        code: 'ERR_MODULE_NOT_FOUND',
      });
    });
    const unregister = register();
    try {
      const err = await resolveSigner('pkcs11:token=t;object=k?module-path=/usr/lib/softhsm/libsofthsm2.so', {
        secrets: async () => '1234',
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UsageError);
      expect((err as UsageError).code).toBe('USAGE');
      expect((err as Error).message).toMatch(
        /^pkcs11js is not installed: hardware keys need the optional dependency pkcs11js, .*npm install pkcs11js@2$/,
      );
    } finally {
      unregister();
    }
  });

  it('an installed pkcs11js whose addon did not build: a UsageError saying to rebuild it', async () => {
    setBindingImporter(async () => {
      throw Object.assign(new Error("Cannot find module './build/Release/pkcs11.node'"), {
        code: 'MODULE_NOT_FOUND',
      });
    });
    await expect(listTokens('/usr/lib/softhsm/libsofthsm2.so')).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringMatching(/native addon cannot be loaded .*npm rebuild pkcs11js/),
    });
  });
});
