/**
 * The signing half of the crypto seam (ADR 0022), backend against backend: a key generated and
 * a signature made on node:crypto, WebCrypto, or WebCrypto without Ed25519 (noble) verifies on
 * every backend and under tuf-js, in TUF's encodings (ECDSA DER, RSA-PSS with the 32-byte salt
 * securesystemslib signs with), and its PKCS#8 export is what node:crypto reads.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { MetadataKind, Metadata as TufMetadata } from '@tufjs/models';
import type { JSONObject } from '@tufjs/models/dist/utils/types.js';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useCryptoBackend } from '../../src/crypto/active-backend.js';
import type { Algorithm, CryptoBackend, GeneratedKeyMaterial } from '../../src/crypto/backend.js';
import { ecdsaDerToRaw, ecdsaRawToDer } from '../../src/crypto/ecdsa-der.js';
import { type Key, keyFromSpki, materialOf } from '../../src/crypto/key.js';
import { MemorySigner } from '../../src/crypto/memory-signer.js';
import { backend as nodeBackend } from '../../src/crypto/node-backend.js';
import { pssSaltLength } from '../../src/crypto/rsa-pss.js';
import { Signature } from '../../src/crypto/signature.js';
import { webCryptoBackend } from '../../src/crypto/web-backend.js';
import { CryptoBackendError } from '../../src/errors.js';
import { Metadata } from '../../src/metadata/metadata.js';
import { Role, TOP_LEVEL_ROLE_NAMES } from '../../src/metadata/roles.js';
import { Root, SPECIFICATION_VERSION } from '../../src/metadata/signed.js';
import { fromHex, hex, utf8 } from './helpers.js';
import { subtleWithout } from './subtle.js';

const BACKENDS: [string, CryptoBackend][] = [
  ['node:crypto', nodeBackend],
  ['webcrypto', webCryptoBackend()],
  ['webcrypto without Ed25519 (noble)', webCryptoBackend({ subtle: subtleWithout('Ed25519') })],
];
const ALGORITHMS: Algorithm[] = ['ed25519', 'ecdsa-p256', 'ecdsa-p384', 'rsassa-pss-sha256'];
const DATA = utf8('{"_type":"root","version":1}');

let restore: (() => void) | undefined;
afterEach(() => {
  restore?.();
  restore = undefined;
});

interface Made {
  generated: GeneratedKeyMaterial;
  key: Key;
  sig: string;
}

// One key per backend and algorithm (RSA at 2048 bits to keep the suite fast), signed over DATA.
const made = new Map<string, Made>();
beforeAll(async () => {
  for (const [name, backend] of BACKENDS) {
    for (const alg of ALGORITHMS) {
      const generated = await backend.generateKeyPair(alg, { rsaBits: 2048, extractable: true });
      const sig = hex(await backend.sign(generated.privateKey, DATA));
      made.set(`${name}/${alg}`, { generated, key: keyFromSpki(generated.spki), sig });
    }
  }
});
const get = (name: string, alg: Algorithm): Made => {
  const m = made.get(`${name}/${alg}`);
  if (m === undefined) throw new Error('fixture missing');
  return m;
};

/** A version-1 root listing `key` for every role, signed (hex) by it, for tufa and tuf-js. */
async function signedRoot(key: Key, sign: (data: Uint8Array) => Promise<string>) {
  const keyid = key.keyid();
  const root = new Root({
    version: 1,
    specVersion: SPECIFICATION_VERSION,
    expires: new Date('2030-01-01T00:00:00Z'),
    consistentSnapshot: true,
    keys: new Map([[keyid, key]]),
    roles: new Map(TOP_LEVEL_ROLE_NAMES.map((r) => [r, new Role([keyid], 1)])),
  });
  const sig = await sign(new Metadata(root).signedBytes());
  return {
    md: new Metadata(root, [new Signature(keyid, sig)]),
    json: { signatures: [{ keyid, sig }], signed: root.toJSON() } as unknown as JSONObject,
  };
}

describe.each(BACKENDS)('keys generated and signed on %s', (name, backend) => {
  it.each(ALGORITHMS)('%s: the signature verifies on every backend', async (alg) => {
    const { key, sig } = get(name, alg);
    expect(materialOf(key)?.algorithm).toBe(alg);
    for (const [verifier, b] of BACKENDS) {
      restore = useCryptoBackend(b);
      expect(await key.verify(DATA, sig), `verified on ${verifier}`).toBe(true);
      expect(await key.verify(utf8('{"_type":"root","version":2}'), sig), `other data on ${verifier}`).toBe(
        false,
      );
      restore();
      restore = undefined;
    }
  });

  it.each(ALGORITHMS)('%s: node signatures verify on this backend too (the reverse)', async (alg) => {
    const { key, sig } = get('node:crypto', alg);
    restore = useCryptoBackend(backend);
    expect(await key.verify(DATA, sig)).toBe(true);
  });

  it('writes TUF encodings: ECDSA as strict DER, RSA-PSS with a 32-byte salt', () => {
    for (const [alg, size] of [
      ['ecdsa-p256', 32],
      ['ecdsa-p384', 48],
    ] as const) {
      const der = fromHex(get(name, alg).sig);
      const raw = ecdsaDerToRaw(der, size);
      expect(raw).toBeDefined();
      expect(hex(ecdsaRawToDer(raw as Uint8Array, size))).toBe(hex(der));
    }
    const rsa = get(name, 'rsassa-pss-sha256');
    const material = materialOf(rsa.key);
    expect(fromHex(rsa.sig)).toHaveLength(256);
    // securesystemslib signs with the digest length; node's own default would be the maximum.
    expect(pssSaltLength(material?.rsa ?? { n: 0n, e: 0n, modulusBits: 0 }, fromHex(rsa.sig))).toBe(32);
    // Ed25519 is deterministic: the same message signs the same on every backend (RFC 8032).
    expect(fromHex(get(name, 'ed25519').sig)).toHaveLength(64);
  });

  it.each(ALGORITHMS)('%s: the PKCS#8 export is the key node:crypto reads', async (alg) => {
    const { generated } = get(name, alg);
    const pkcs8 = await backend.exportPkcs8(generated.privateKey);
    const priv = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
    const spki = createPublicKey(priv).export({ type: 'spki', format: 'der' });
    expect(hex(new Uint8Array(spki))).toBe(hex(generated.spki));
  });

  it.each([
    ['ed25519', true],
    ['ecdsa-p256', true],
    // tuf-js verifies with node's default digest, SHA-256 for every EC key, so it cannot verify
    // ecdsa-sha2-nistp384 (SHA-384, as securesystemslib signs). Asserted, so this breaks when
    // tuf-js is fixed.
    ['ecdsa-p384', false],
    ['rsassa-pss-sha256', true],
  ] as const)('%s: a root signed here verifies under tuf-js: %s', async (alg, tufJsVerifies) => {
    const { generated, key } = get(name, alg);
    const { md, json } = await signedRoot(key, async (d) => hex(await backend.sign(generated.privateKey, d)));
    await md.verifyDelegate('root', md); // and under tufa, on the active backend
    const theirs = TufMetadata.fromJSON(MetadataKind.Root, json);
    const check = () => theirs.verifyDelegate('root', theirs);
    if (tufJsVerifies) expect(check).not.toThrow();
    else expect(check).toThrow(/signed by 0\/1 keys/);
  });
});

describe('Ed25519 signatures are the same on every backend (deterministic, RFC 8032)', () => {
  it('one private key signs the same bytes on node:crypto, WebCrypto and noble', async () => {
    const { generated, sig } = get('webcrypto without Ed25519 (noble)', 'ed25519');
    const pkcs8 = await BACKENDS[2]?.[1].exportPkcs8(generated.privateKey);
    if (pkcs8 === undefined) throw new Error('fixture missing');
    const nodeKey = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
    const viaNode = await nodeBackend.sign({ algorithm: 'ed25519', key: nodeKey }, DATA);
    const cryptoKey = await globalThis.crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, [
      'sign',
    ]);
    const viaWeb = await webCryptoBackend().sign({ algorithm: 'ed25519', key: cryptoKey }, DATA);
    expect(hex(viaNode)).toBe(sig);
    expect(hex(viaWeb)).toBe(sig);
  });
});

describe('ecdsaRawToDer', () => {
  it.each([
    ['high bit set: a sign byte is added', `ff${'11'.repeat(31)}`, `7f${'22'.repeat(31)}`],
    ['leading zero bytes are dropped', `0000${'80'.repeat(30)}`, `00${'01'.repeat(31)}`],
    ['a one-byte value', `${'00'.repeat(31)}01`, `${'00'.repeat(31)}7f`],
  ])('%s, and ecdsaDerToRaw reads it back', (_what, r, s) => {
    const raw = fromHex(r + s);
    const der = ecdsaRawToDer(raw, 32);
    expect(hex(ecdsaDerToRaw(der, 32) ?? new Uint8Array(0))).toBe(r + s);
  });

  it('writes the minimal form', () => {
    expect(hex(ecdsaRawToDer(fromHex(`${'00'.repeat(31)}01${'00'.repeat(31)}80`), 32))).toBe(
      '3007020101020200' + '80',
    );
  });

  it('refuses a raw signature of the wrong length (a backend bug)', () => {
    expect(() => ecdsaRawToDer(new Uint8Array(63), 32)).toThrow(/64 bytes, got 63/);
  });
});

describe('a backend that cannot sign reports CRYPTO_BACKEND', () => {
  it('no crypto.subtle: generation fails with CryptoBackendError, naming the cause', async () => {
    restore = useCryptoBackend(webCryptoBackend({ subtle: null }));
    const err = await MemorySigner.generate('ecdsa-p256').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CryptoBackendError);
    expect((err as Error).message).toMatch(/cannot generate ecdsa-p256 keys \(webcrypto: .*crypto\.subtle/);
  });

  it('an engine without RSA-PSS: CryptoBackendError, not a usage error', async () => {
    restore = useCryptoBackend(webCryptoBackend({ subtle: subtleWithout('RSA-PSS') }));
    await expect(MemorySigner.generate('rsa', { rsaBits: 2048 })).rejects.toMatchObject({
      code: 'CRYPTO_BACKEND',
      message: expect.stringMatching(/rsassa-pss-sha256/),
    });
  });

  it('a backend whose signing fails: MemorySigner.sign rejects with CryptoBackendError', async () => {
    const failing = {
      ...subtleWithout(),
      sign: () => Promise.reject(new DOMException('busy', 'OperationError')),
    };
    restore = useCryptoBackend(webCryptoBackend({ subtle: failing }));
    const signer = await MemorySigner.generate('ecdsa-p384');
    const err = await signer.sign(DATA).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CryptoBackendError);
    expect((err as Error).message).toMatch(/cannot sign ecdsa-p384 signatures \(webcrypto: busy\)/);
  });

  it('a noble Ed25519 key signs Ed25519 only', async () => {
    const { generated } = get('webcrypto without Ed25519 (noble)', 'ed25519');
    const noble = BACKENDS[2]?.[1] as CryptoBackend;
    await expect(noble.sign({ ...generated.privateKey, algorithm: 'ecdsa-p256' }, DATA)).rejects.toThrow(
      /signs Ed25519 only/,
    );
  });

  it('a key of another backend is refused by the node backend', async () => {
    const { generated } = get('webcrypto', 'ecdsa-p256');
    await expect(nodeBackend.sign(generated.privateKey, DATA)).rejects.toThrow(
      /node:crypto private KeyObject/,
    );
  });
});
