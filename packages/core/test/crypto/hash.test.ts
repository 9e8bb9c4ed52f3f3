import { sha256 as nobleSha256, sha512 as nobleSha512 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { textDigest } from '../../src/crypto/hash.js';
import {
  digest,
  type HashAlgorithm,
  Hasher,
  hexDigest,
  isSupportedHashAlgorithm,
} from '../../src/crypto/index.js';
import { backend as nodeBackend } from '../../src/crypto/node-backend.js';
import { UnsupportedHashError, UsageError } from '../../src/errors.js';
import { hex, utf8 } from './helpers.js';

// FIPS 180-4 example values.
const KNOWN: [HashAlgorithm, string, string][] = [
  ['sha256', '', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
  ['sha256', 'abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
  [
    'sha512',
    'abc',
    'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
  ],
];

describe('digest / hexDigest', () => {
  it.each(KNOWN)('%s(%j) matches the known answer', (alg, input, expected) => {
    expect(hexDigest(alg, utf8(input))).toBe(expected);
    expect(hex(digest(alg, utf8(input)))).toBe(expected);
  });

  it('returns a plain Uint8Array, not a Buffer', () => {
    expect(Object.getPrototypeOf(digest('sha256', utf8('x')))).toBe(Uint8Array.prototype);
  });

  it('rejects an algorithm it does not support (names come from metadata at run time)', () => {
    expect(() => digest('md5' as HashAlgorithm, utf8('x'))).toThrow(UnsupportedHashError);
    expect(() => hexDigest('sha384' as HashAlgorithm, utf8('x'))).toThrow(UnsupportedHashError);
    expect(() => new Hasher('SHA256' as HashAlgorithm)).toThrow(UnsupportedHashError);
  });

  it('agrees with @noble/hashes on random input (differential)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
        expect(hex(digest('sha256', data))).toBe(hex(nobleSha256(data)));
        expect(hex(digest('sha512', data))).toBe(hex(nobleSha512(data)));
      }),
    );
  });
});

describe('textDigest', () => {
  const encoder = new TextEncoder();
  // Lone surrogates (either half, at either end), astral characters, controls, the empty string.
  const awkward = ['', 'app:v1', '\uD800', 'a\uDC00b', 'x\uD83D', '\u{1F600}', '\uE000', '\0\n', 'ü'];

  it('is the digest of the UTF-8 encoding, lone surrogates as U+FFFD (as TextEncoder)', () => {
    for (const text of awkward) {
      expect(hex(textDigest('sha256', text))).toBe(hex(digest('sha256', encoder.encode(text))));
    }
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (text) => {
        expect(hex(textDigest('sha256', text))).toBe(hex(nobleSha256(encoder.encode(text))));
      }),
    );
  });

  it("Node's one-shot string hashing agrees with TextEncoder, where Node has it", () => {
    if (!nodeBackend.digestText) return; // Node before 20.12: textDigest encodes first
    for (const text of awkward) {
      expect(hex(nodeBackend.digestText('sha512', text))).toBe(hex(nobleSha512(encoder.encode(text))));
    }
  });
});

describe('isSupportedHashAlgorithm', () => {
  it.each(['sha256', 'sha512'])('accepts %s', (name) => expect(isSupportedHashAlgorithm(name)).toBe(true));
  it.each(['SHA256', 'sha-256', 'sha384', 'md5', 'blake2b-256', '', '__proto__', 'constructor'])(
    'rejects %j',
    (name) => expect(isSupportedHashAlgorithm(name)).toBe(false),
  );
});

describe('Hasher', () => {
  it('hashes any split of the input like the one-shot digest', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 8 }), (chunks) => {
        const all = Buffer.concat(chunks);
        for (const alg of ['sha256', 'sha512'] as const) {
          const h = new Hasher(alg);
          for (const c of chunks) h.update(c);
          expect(h.digestHex()).toBe(hexDigest(alg, all));
        }
      }),
    );
  });

  it('digest() returns the bytes of digestHex()', () => {
    const a = new Hasher('sha256').update(utf8('ab')).update(utf8('c')).digest();
    expect(hex(a)).toBe(KNOWN[1]?.[2]);
  });

  it('is single use: finishing or updating after the digest is a UsageError', () => {
    const h = new Hasher('sha256');
    h.digestHex();
    expect(() => h.digestHex()).toThrow(UsageError);
    expect(() => h.digest()).toThrow(UsageError);
    expect(() => h.update(utf8('x'))).toThrow(UsageError);
  });
});
