/**
 * MemorySigner, the portable in-memory signer (ADR 0022): keys generated on the runtime's backend
 * (node:crypto here, WebCrypto in the webcrypto project), WebCrypto CryptoKeys, export, and a
 * repository built and signed with it that a client then trusts.
 */
import type { webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cryptoBackend } from '../../src/crypto/active-backend.js';
import { type KeyKind, keyFromPublicPem, PrivateKeySigner } from '../../src/crypto/index.js';
import { Key } from '../../src/crypto/key.js';
import { MemorySigner } from '../../src/crypto/memory-signer.js';
import { KeyError, UnsupportedKeyError, UsageError } from '../../src/errors.js';
import { TargetFile } from '../../src/metadata/files.js';
import { Repository } from '../../src/repository/repository.js';
import { MemoryRepositoryStorage } from '../../src/repository/storage.js';
import { client } from '../repository/helpers.js';
import { flipHexBit, utf8 } from './helpers.js';

const KINDS: KeyKind[] = ['ed25519', 'ecdsa-p256', 'ecdsa-p384', 'rsa'];
const DATA = utf8('{"_type":"targets","version":3}');
const subtle = globalThis.crypto.subtle;

describe.each(KINDS)('MemorySigner.generate(%s)', (kind) => {
  it('signs what its key verifies, as securesystemslib writes the key', async () => {
    const signer = await MemorySigner.generate(kind, { rsaBits: 2048 });
    expect(signer.keyid).toBe(signer.key.keyid());
    expect(signer.key.supported).toBe(true);
    const s = await signer.sign(DATA);
    expect(s.keyid).toBe(signer.keyid);
    expect(await signer.key.verify(DATA, s.sig)).toBe(true);
    expect(await signer.key.verify(utf8('other'), s.sig)).toBe(false);
    expect(await signer.key.verify(DATA, flipHexBit(s.sig, 8))).toBe(false);
    // Two generations give two keys.
    const other = await MemorySigner.generate(kind, { rsaBits: 2048 });
    expect(other.key.materialId()).not.toBe(signer.key.materialId());
  });

  it('is not extractable by default on WebCrypto; with extractable: true its PEM loads in PrivateKeySigner', async () => {
    const locked = await MemorySigner.generate(kind, { rsaBits: 2048 });
    if (cryptoBackend().name === 'webcrypto') {
      expect(locked.cryptoKey?.extractable).toBe(false);
      await expect(locked.toPem()).rejects.toThrow(KeyError);
      await expect(locked.toPem()).rejects.toThrow(/expected an extractable key/);
    } else {
      expect(locked.cryptoKey).toBeUndefined(); // a node KeyObject
    }
    const open = await MemorySigner.generate(kind, { rsaBits: 2048, extractable: true });
    const pem = await open.toPem();
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n$/);
    const loaded = PrivateKeySigner.fromPem(pem);
    expect(loaded.key.keyid()).toBe(open.key.keyid());
    expect(await open.key.verify(DATA, (await loaded.sign(DATA)).sig)).toBe(true);
  });
});

describe('MemorySigner.generate refuses bad options', () => {
  it.each([1024, 2047, 2048.5, Number.NaN, 16385])('rsaBits %s', async (rsaBits) => {
    await expect(MemorySigner.generate('rsa', { rsaBits })).rejects.toThrow(UsageError);
  });

  it('an unknown kind', async () => {
    await expect(MemorySigner.generate('dsa' as KeyKind)).rejects.toThrow(
      /unknown key kind dsa \(expected ed25519, ecdsa-p256, ecdsa-p384 or rsa\)/,
    );
  });
});

/** A WebCrypto key pair and the TUF key of its public half. */
async function webPair(params: object, extractable = false) {
  const pair = (await subtle.generateKey(params as webcrypto.EcKeyGenParams, extractable, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const spki = Buffer.from(await subtle.exportKey('spki', pair.publicKey)).toString('base64');
  const pem = `-----BEGIN PUBLIC KEY-----\n${spki.match(/.{1,64}/g)?.join('\n')}\n-----END PUBLIC KEY-----\n`;
  return { pair, key: keyFromPublicPem(pem) };
}

const RSA = {
  name: 'RSA-PSS',
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: 'SHA-256',
};

describe('MemorySigner.fromCryptoKey', () => {
  it.each([
    ['Ed25519', { name: 'Ed25519' }],
    ['ECDSA P-256', { name: 'ECDSA', namedCurve: 'P-256' }],
    ['ECDSA P-384', { name: 'ECDSA', namedCurve: 'P-384' }],
    ['RSA-PSS', RSA],
  ])('%s: signs for the key of its public half', async (_n, params) => {
    const { pair, key } = await webPair(params);
    const signer = await MemorySigner.fromCryptoKey(pair.privateKey, key, { keyid: 'custom' });
    expect(signer.keyid).toBe('custom');
    expect(signer.cryptoKey).toBe(pair.privateKey);
    const s = await signer.sign(DATA);
    expect(s.keyid).toBe('custom');
    expect(await key.verify(DATA, s.sig)).toBe(true);
  });

  it('refuses a private key that belongs to another public key', async () => {
    const a = await webPair({ name: 'ECDSA', namedCurve: 'P-256' });
    const b = await webPair({ name: 'ECDSA', namedCurve: 'P-256' });
    await expect(MemorySigner.fromCryptoKey(a.pair.privateKey, b.key)).rejects.toThrow(
      new KeyError(`the private key does not match the public key ${b.key.keyid()}`),
    );
  });

  it('refuses a CryptoKey of another algorithm or curve than the scheme needs', async () => {
    const p384 = await webPair({ name: 'ECDSA', namedCurve: 'P-384' });
    const p256 = await webPair({ name: 'ECDSA', namedCurve: 'P-256' });
    await expect(MemorySigner.fromCryptoKey(p384.pair.privateKey, p256.key)).rejects.toThrow(
      /does not fit ecdsa-sha2-nistp256 \(expected ECDSA on P-256, got .*P-384/,
    );
    const ed = await webPair({ name: 'Ed25519' });
    await expect(MemorySigner.fromCryptoKey(ed.pair.privateKey, p256.key)).rejects.toThrow(KeyError);
    const sha384 = await webPair({ ...RSA, hash: 'SHA-384' });
    await expect(MemorySigner.fromCryptoKey(sha384.pair.privateKey, sha384.key)).rejects.toThrow(
      /expected RSA-PSS with SHA-256/,
    );
  });

  it('refuses a public key, or a key without the sign usage', async () => {
    const { pair, key } = await webPair({ name: 'Ed25519' });
    await expect(MemorySigner.fromCryptoKey(pair.publicKey, key)).rejects.toThrow(
      /expected a private CryptoKey with the sign usage, got a public key/,
    );
  });

  it('refuses a key tufa cannot verify', async () => {
    const { pair } = await webPair({ name: 'Ed25519' });
    const unknown = new Key('ed448', 'ed448', { public: 'ab' });
    await expect(MemorySigner.fromCryptoKey(pair.privateKey, unknown)).rejects.toThrow(UnsupportedKeyError);
  });

  it('exports an extractable CryptoKey; refuses a non-extractable one', async () => {
    const open = await webPair({ name: 'ECDSA', namedCurve: 'P-384' }, true);
    const signer = await MemorySigner.fromCryptoKey(open.pair.privateKey, open.key);
    expect(PrivateKeySigner.fromPem(await signer.toPem()).key.keyid()).toBe(open.key.keyid());
    const locked = await webPair({ name: 'ECDSA', namedCurve: 'P-384' });
    await expect(
      (await MemorySigner.fromCryptoKey(locked.pair.privateKey, locked.key)).toPem(),
    ).rejects.toThrow(KeyError);
  });
});

describe('a repository built with generated keys', () => {
  it('publishes metadata signed by every scheme, which a client then verifies', async () => {
    const now = new Date('2026-06-01T00:00:00Z');
    const [root, targets, snapshot, timestamp] = await Promise.all(
      KINDS.map((k) => MemorySigner.generate(k, { rsaBits: 2048 })),
    );
    if (!root || !targets || !snapshot || !timestamp) throw new Error('generation failed');
    const storage = new MemoryRepositoryStorage();
    const repo = await Repository.create(storage, {
      keys: {
        root: [root.key],
        targets: [targets.key],
        snapshot: [snapshot.key],
        timestamp: [timestamp.key],
      },
      signers: [root, targets, snapshot, timestamp],
      now: () => now,
    });
    await repo.addTargets([new TargetFile('app/1.0', 3, new Map([['sha256', 'ab'.repeat(32)]]))]);
    await repo.publish();
    const { updater } = await client(storage, { now });
    await updater.refresh();
    expect((await updater.getTargetInfo('app/1.0'))?.target.length).toBe(3);
  });
});
