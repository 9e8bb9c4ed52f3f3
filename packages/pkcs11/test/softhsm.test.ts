/**
 * Against a throwaway SoftHSM2 token: every key type generated on the token, exported, used to
 * sign and verified by tufa and by node's crypto; listing; the PIN sources; the token errors a
 * user meets; concurrent signing through one session; and the `pkcs11:` signer scheme.
 */
import { constants, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Key, type KeyKind, keyToPem, Signature } from '@tufa/core';
import { resolveSigner, type SecretRequest } from '@tufa/core/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CK } from '../src/binding.js';
import {
  closePkcs11,
  generateKeyPairOnToken,
  listKeys,
  listTokens,
  Pkcs11Signer,
  parsePkcs11Uri,
  register,
} from '../src/index.js';
import { findKeys } from '../src/keys.js';
import { openToken } from '../src/token.js';
import { createTokens, probeSoftHsm, required, SOFTHSM_MODULE, type SoftHsm, USER_PIN } from './softhsm.js';

const hsm = await probeSoftHsm();
const run = hsm.available || required;

it('has SoftHSM2 and pkcs11js (required under CI=true)', (ctx) => {
  ctx.skip(!hsm.available && !required, hsm.reason);
  expect(hsm.reason).toBeUndefined();
});

const enc = new TextEncoder();
const MESSAGE = enc.encode('{"signed":{"_type":"root","version":1}}');
const pinEnv = { TUFA_PIN: USER_PIN };

/** Verifies a TUF signature with node's crypto directly (not through tufa's Key). */
function nodeVerifies(key: Key, data: Uint8Array, sigHex: string): boolean {
  const sig = Buffer.from(sigHex, 'hex');
  const pub = createPublicKey(keyToPem(key));
  switch (key.scheme) {
    case 'ed25519':
      return nodeVerify(null, data, pub, sig);
    case 'ecdsa-sha2-nistp256':
      return nodeVerify('sha256', data, { key: pub, dsaEncoding: 'der' }, sig);
    case 'ecdsa-sha2-nistp384':
      return nodeVerify('sha384', data, { key: pub, dsaEncoding: 'der' }, sig);
    case 'rsassa-pss-sha256':
      // Exactly a 32-byte salt, as securesystemslib signs (not AUTO).
      return nodeVerify(
        'sha256',
        data,
        { key: pub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
        sig,
      );
    default:
      return false;
  }
}

describe.skipIf(!run)('SoftHSM2', () => {
  let t: SoftHsm;
  const generated = new Map<KeyKind, Pkcs11Signer>();

  beforeAll(async () => {
    if (!hsm.available) throw new Error(`SoftHSM2 tests are required under CI=true: ${hsm.reason}`);
    t = await createTokens(['test', 'second', 'pins']);
  });

  afterAll(async () => {
    await closePkcs11();
    await t?.cleanup();
  });

  describe('tokens', () => {
    it('lists the tokens of a module, initialized or not', async () => {
      const tokens = await listTokens(SOFTHSM_MODULE);
      const test = tokens.find((x) => x.label === 'test');
      expect(test).toMatchObject({
        label: 'test',
        manufacturer: 'SoftHSM project',
        model: 'SoftHSM v2',
        initialized: true,
        loginRequired: true,
        pinLocked: false,
      });
      expect(test?.serial).toMatch(/^[0-9a-f]{16}$/);
      expect(test?.uri).toBe(`pkcs11:token=test;serial=${test?.serial}?module-path=${SOFTHSM_MODULE}`);
      expect(tokens.filter((x) => x.initialized).map((x) => x.label)).toEqual(
        expect.arrayContaining(['test', 'second', 'pins']),
      );
      // SoftHSM always offers one more free slot with an uninitialized token.
      expect(tokens.some((x) => !x.initialized)).toBe(true);
    });

    it('takes the module from TUFA_PKCS11_MODULE', async () => {
      const tokens = await listTokens(undefined, { env: { TUFA_PKCS11_MODULE: SOFTHSM_MODULE } });
      expect(tokens.map((x) => x.label)).toContain('test');
    });
  });

  describe.each([
    ['ed25519', 'ed25519', 'ed25519'],
    ['ecdsa-p256', 'ecdsa', 'ecdsa-sha2-nistp256'],
    ['ecdsa-p384', 'ecdsa', 'ecdsa-sha2-nistp384'],
    ['rsa', 'rsa', 'rsassa-pss-sha256'],
  ] as const)('%s', (kind, keytype, scheme) => {
    it('generates a key pair on the token, with a non-extractable sensitive private key', async () => {
      const g = await generateKeyPairOnToken(t.uri('test', `;object=${kind}`), kind, { env: pinEnv });
      generated.set(kind, g.signer);
      expect(g.key.keytype).toBe(keytype);
      expect(g.key.scheme).toBe(scheme);
      expect(g.key.supported).toBe(true);
      expect(g.keyid).toBe(g.key.keyid());
      expect(g.signer.keyid).toBe(g.keyid);
      if (kind === 'ed25519') expect(g.key.keyval.public).toMatch(/^[0-9a-f]{64}$/);
      else
        expect(g.key.keyval.public).toMatch(
          /^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n$/,
        );
      if (kind === 'rsa') {
        expect(createPublicKey(g.key.keyval.public).asymmetricKeyDetails?.modulusLength).toBe(3072);
      }
      // The URI names the key exactly, never with a PIN.
      const parsed = parsePkcs11Uri(g.uri);
      expect(parsed).toMatchObject({
        token: 'test',
        object: kind,
        type: 'private',
        modulePath: SOFTHSM_MODULE,
      });
      expect(parsed.serial).toMatch(/^[0-9a-f]{16}$/);
      expect(parsed.id).toHaveLength(16);

      const token = await openToken(parsed, g.uri, SOFTHSM_MODULE);
      const attrs = await token.queue.run(() => {
        const [priv] = findKeys(token, parsed, 'private');
        if (!priv) throw new Error('no private key');
        return token.attributes(priv.handle, [
          CK.CKA_TOKEN,
          CK.CKA_PRIVATE,
          CK.CKA_SENSITIVE,
          CK.CKA_EXTRACTABLE,
          CK.CKA_SIGN,
        ]);
      });
      expect([...attrs.values()].map((v) => v[0])).toEqual([1, 1, 1, 0, 1]);
    });

    it('signs; tufa and node verify the signature, and not over other data', async () => {
      const signer = generated.get(kind);
      if (!signer) throw new Error('generation failed');
      const sig = await signer.sign(MESSAGE);
      expect(sig).toBeInstanceOf(Signature);
      expect(sig.keyid).toBe(signer.keyid);
      expect(await signer.key.verify(MESSAGE, sig.sig)).toBe(true);
      expect(nodeVerifies(signer.key, MESSAGE, sig.sig)).toBe(true);
      const other = enc.encode('{"signed":{"_type":"root","version":2}}');
      expect(await signer.key.verify(other, sig.sig)).toBe(false);
      expect(nodeVerifies(signer.key, other, sig.sig)).toBe(false);
      if (keytype === 'ecdsa') expect(sig.sig.startsWith('30')).toBe(true); // ASN.1 DER, not r‖s
      if (kind === 'ed25519') expect((await signer.sign(MESSAGE)).sig).toBe(sig.sig); // deterministic
    });

    it('opens the same key again from its URI, by id alone, and through resolveSigner', async () => {
      const signer = generated.get(kind);
      if (!signer) throw new Error('generation failed');
      const again = await Pkcs11Signer.open(signer.uri, { env: pinEnv });
      expect(again.keyid).toBe(signer.keyid);
      const id = parsePkcs11Uri(signer.uri).id as Uint8Array;
      const byId = await Pkcs11Signer.open(
        `pkcs11:token=test;id=${[...id].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')}`,
        { modulePath: SOFTHSM_MODULE, env: pinEnv },
      );
      expect(byId.key.keyval.public).toBe(signer.key.keyval.public);
      const unregister = register();
      try {
        const resolved = await resolveSigner(signer.uri, { secrets: async () => USER_PIN, env: {} });
        expect(resolved).toBeInstanceOf(Pkcs11Signer);
        expect(resolved.keyid).toBe(signer.keyid);
        expect(await signer.key.verify(MESSAGE, (await resolved.sign(MESSAGE)).sig)).toBe(true);
      } finally {
        unregister();
      }
    });
  });

  it('lists the keys on a token with their TUF keyids', async () => {
    const keys = await listKeys(t.uri('test'), { env: pinEnv });
    expect(keys.map((k) => [k.label, k.keyType, k.hasPrivateKey, k.hasPublicKey])).toEqual([
      ['ecdsa-p256', 'ecdsa-p256', true, true],
      ['ecdsa-p384', 'ecdsa-p384', true, true],
      ['ed25519', 'ed25519', true, true],
      ['rsa', 'rsa', true, true],
    ]);
    for (const k of keys) {
      const signer = generated.get(k.keyType as KeyKind);
      expect(k.keyid).toBe(signer?.keyid);
      expect(k.uri).toBe(signer?.uri);
      expect(k.id).toMatch(/^[0-9a-f]{32}$/);
    }
    // Object attributes narrow the list.
    const one = await listKeys(t.uri('test', ';object=rsa'), { env: pinEnv });
    expect(one.map((k) => k.label)).toEqual(['rsa']);
  });

  it('signs concurrently through one session: 20 parallel signatures, all valid', async () => {
    for (const kind of ['ed25519', 'ecdsa-p256'] as const) {
      const signer = generated.get(kind);
      if (!signer) throw new Error('generation failed');
      const messages = Array.from({ length: 20 }, (_, i) => enc.encode(`message ${i}`));
      const sigs = await Promise.all(messages.map((m) => signer.sign(m)));
      const ok = await Promise.all(sigs.map((s, i) => signer.key.verify(messages[i] as Uint8Array, s.sig)));
      expect(ok).toEqual(Array(20).fill(true));
    }
    // Two signers on one token, interleaved, with RSA (the slowest) in the mix.
    const a = generated.get('rsa') as Pkcs11Signer;
    const b = generated.get('ecdsa-p384') as Pkcs11Signer;
    const mixed = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).sign(enc.encode(`m${i}`))),
    );
    for (const [i, s] of mixed.entries()) {
      expect(await (i % 2 ? a : b).key.verify(enc.encode(`m${i}`), s.sig)).toBe(true);
    }
  });

  it('keeps working after closePkcs11: the next signature reopens the module and logs in again', async () => {
    const signer = generated.get('ed25519') as Pkcs11Signer;
    await closePkcs11();
    const sig = await signer.sign(MESSAGE);
    expect(await signer.key.verify(MESSAGE, sig.sig)).toBe(true);
  });

  describe('PINs', () => {
    const pinsUri = () => t.uri('pins', ';object=k');

    beforeAll(async () => {
      await generateKeyPairOnToken(pinsUri(), 'ed25519', { env: pinEnv });
    });

    it('asks the secrets callback once per token login, with kind pin, and shares the session', async () => {
      await closePkcs11();
      const asked: SecretRequest[] = [];
      const secrets = async (r: SecretRequest) => {
        asked.push(r);
        return USER_PIN;
      };
      const one = await Pkcs11Signer.open(pinsUri(), { secrets, env: {} });
      const two = await Pkcs11Signer.open(pinsUri(), { secrets, env: {} });
      await Promise.all([one.sign(MESSAGE), two.sign(MESSAGE)]);
      expect(asked).toHaveLength(1);
      expect(asked[0]?.kind).toBe('pin');
      expect(asked[0]?.label).toMatch(/^token "pins" \(serial [0-9a-f]{16}\)$/);
    });

    it('reads TUFA_PIN before asking', async () => {
      await closePkcs11();
      const secrets = async () => {
        throw new Error('not asked');
      };
      await expect(Pkcs11Signer.open(pinsUri(), { secrets, env: pinEnv })).resolves.toBeInstanceOf(
        Pkcs11Signer,
      );
    });

    it('reads pin-source=file:… (RFC 7512), dropping one trailing newline', async () => {
      await closePkcs11();
      const file = join(t.dir, 'pin.txt');
      await writeFile(file, `${USER_PIN}\n`, { mode: 0o600 });
      const s = await Pkcs11Signer.open(
        `pkcs11:token=pins;object=k?module-path=${SOFTHSM_MODULE}&pin-source=file:${file}`,
        {
          env: {},
        },
      );
      expect(parsePkcs11Uri(s.uri).pinSource).toBe(`file:${file}`);
      await closePkcs11();
      await expect(
        Pkcs11Signer.open(
          `pkcs11:token=pins;object=k?module-path=${SOFTHSM_MODULE}&pin-source=file:${file}.missing`,
          {
            env: {},
          },
        ),
      ).rejects.toMatchObject({
        code: 'KEY',
        message: expect.stringContaining('cannot read the PIN from pin-source'),
      });
    });

    it('accepts pin-value from API callers, and never writes it back into a URI', async () => {
      await closePkcs11();
      const s = await Pkcs11Signer.open(`${pinsUri()}&pin-value=${USER_PIN}`, { env: {} });
      expect(s.uri).not.toContain('pin-value');
      expect(parsePkcs11Uri(s.uri).pinValue).toBeUndefined();
    });

    it('without any PIN source: a UsageError naming the ways to give one', async () => {
      await closePkcs11();
      await expect(Pkcs11Signer.open(pinsUri(), { env: {} })).rejects.toMatchObject({
        code: 'USAGE',
        message: expect.stringMatching(/token "pins".* needs a PIN: set TUFA_PIN, add pin-source=file:/),
      });
    });

    it('a wrong PIN is a KeyError that names the token, not the PIN, and is not tried twice', async () => {
      await closePkcs11();
      let calls = 0;
      const secrets = async () => {
        calls++;
        return '987654';
      };
      const err = await Pkcs11Signer.open(pinsUri(), { secrets, env: {} }).catch((e: unknown) => e);
      expect(err).toMatchObject({
        name: 'KeyError',
        code: 'KEY',
        message: expect.stringMatching(
          /^wrong PIN for token "pins" \(serial [0-9a-f]+\) \(CKR_PIN_INCORRECT\)/,
        ),
      });
      expect(String((err as Error).message)).not.toContain('987654');
      await expect(Pkcs11Signer.open(pinsUri(), { secrets, env: {} })).rejects.toMatchObject({ code: 'KEY' });
      expect(calls).toBe(2);
      // SoftHSM2 never locks a PIN (no retry counter): the right PIN still works.
      await expect(Pkcs11Signer.open(pinsUri(), { env: pinEnv })).resolves.toBeInstanceOf(Pkcs11Signer);
    });
  });

  describe('errors', () => {
    it('no module configured: a UsageError saying how to name one', async () => {
      await expect(Pkcs11Signer.open('pkcs11:token=test;object=ed25519', { env: {} })).rejects.toMatchObject({
        code: 'USAGE',
        message: expect.stringMatching(
          /^no PKCS#11 module for pkcs11:token=test;object=ed25519: add \?module-path=.* or set TUFA_PKCS11_MODULE/,
        ),
      });
      await expect(listTokens(undefined, { env: {} })).rejects.toMatchObject({ code: 'USAGE' });
    });

    it('a module that does not exist or does not load: a KeyError naming the file', async () => {
      await expect(
        Pkcs11Signer.open('pkcs11:token=test?module-path=/nonexistent/libpkcs11.so', { env: pinEnv }),
      ).rejects.toMatchObject({
        name: 'KeyError',
        message: 'cannot load the PKCS#11 module "/nonexistent/libpkcs11.so": no such file',
      });
      const bogus = join(t.dir, 'bogus.so');
      await writeFile(bogus, 'not a shared library');
      await expect(listTokens(bogus)).rejects.toMatchObject({
        name: 'KeyError',
        message: expect.stringMatching(/^cannot load the PKCS#11 module ".*bogus\.so": .*(ELF|too short)/),
      });
      await expect(listTokens('relative/libsofthsm2.so')).rejects.toMatchObject({
        code: 'USAGE',
        message: expect.stringContaining('must be absolute'),
      });
    });

    it('no such token: NotFoundError listing the tokens present', async () => {
      await expect(Pkcs11Signer.open(t.uri('absent', ';object=x'), { env: pinEnv })).rejects.toMatchObject({
        name: 'NotFoundError',
        code: 'NOT_FOUND',
        message: expect.stringMatching(
          /^no token matches pkcs11:token=absent;object=x\?module-path=.* \(tokens present: .*"test" serial/,
        ),
      });
    });

    it('never shows a pin-value in an error', async () => {
      const err = await Pkcs11Signer.open(`${t.uri('absent')}&pin-value=S3CRET`, {}).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'NOT_FOUND' });
      expect((err as Error).message).not.toContain('S3CRET');
    });

    it('no such key: NotFoundError', async () => {
      await expect(
        Pkcs11Signer.open(t.uri('test', ';object=missing'), { env: pinEnv }),
      ).rejects.toMatchObject({
        code: 'NOT_FOUND',
        message: expect.stringMatching(
          /^no private key on token "test" .* matches pkcs11:token=test;object=missing/,
        ),
      });
    });

    it('several keys match: a UsageError asking for object= or id=', async () => {
      await expect(Pkcs11Signer.open(t.uri('test'), { env: pinEnv })).rejects.toMatchObject({
        code: 'USAGE',
        message: expect.stringMatching(
          /^4 private keys on token "test" .* match pkcs11:token=test.*: add object=LABEL or id=… to the URI$/,
        ),
      });
    });

    it('a public key URI cannot sign', async () => {
      await expect(
        Pkcs11Signer.open(t.uri('test', ';object=rsa;type=public'), { env: pinEnv }),
      ).rejects.toMatchObject({
        code: 'USAGE',
        message: expect.stringContaining('signing needs the private key'),
      });
    });

    it('generation refuses a label that exists, and a key without a label', async () => {
      await expect(
        generateKeyPairOnToken(t.uri('test', ';object=rsa'), 'ed25519', { env: pinEnv }),
      ).rejects.toMatchObject({
        code: 'USAGE',
        message: expect.stringMatching(/^a private key with label "rsa" already exists on token "test"/),
      });
      await expect(generateKeyPairOnToken(t.uri('test'), 'ed25519', { env: pinEnv })).rejects.toMatchObject({
        code: 'USAGE',
        message: expect.stringContaining('name the new key with object=LABEL'),
      });
      await expect(
        generateKeyPairOnToken(t.uri('test', ';object=x'), 'rsa', { env: pinEnv, rsaBits: 1024 }),
      ).rejects.toMatchObject({ code: 'USAGE' });
    });

    it('resolveSigner without register(): a UsageError pointing at @tufa/pkcs11', async () => {
      await expect(
        resolveSigner(t.uri('test', ';object=ed25519'), { secrets: async () => USER_PIN }),
      ).rejects.toMatchObject({
        code: 'USAGE',
        message: expect.stringContaining('@tufa/pkcs11'),
      });
    });
  });

  it('a key on a second token signs independently', async () => {
    const g = await generateKeyPairOnToken(t.uri('second', ';object=root-2;id=%02'), 'ecdsa-p256', {
      env: pinEnv,
    });
    expect(parsePkcs11Uri(g.uri).id).toEqual(new Uint8Array([2]));
    const [x, y] = await Promise.all([
      g.signer.sign(MESSAGE),
      (generated.get('ed25519') as Pkcs11Signer).sign(MESSAGE),
    ]);
    expect(await g.key.verify(MESSAGE, x.sig)).toBe(true);
    expect(await (generated.get('ed25519') as Pkcs11Signer).key.verify(MESSAGE, y.sig)).toBe(true);
  });
});
