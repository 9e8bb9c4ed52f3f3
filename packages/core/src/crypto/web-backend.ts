/**
 * The WebCrypto backend, for every runtime but Node (browsers, workers, and Deno or Bun through
 * the portable entry): signatures by `crypto.subtle`, hashes by `@noble/hashes` (WebCrypto has
 * no incremental digest, and streamed targets need one), Ed25519 by `@noble/ed25519` only on an
 * engine whose WebCrypto lacks it. Uses no `node:` module and no `Buffer`.
 *
 * WebCrypto differs from TUF's encodings in two places, bridged here: ECDSA signatures are
 * raw r‖s (TUF has DER), and RSA-PSS takes an explicit salt length (TUF verifies any, like
 * python-tuf's PSS.AUTO), recovered from the signature before WebCrypto checks it.
 */
import * as ed from '@noble/ed25519';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import type {
  Algorithm,
  CryptoBackend,
  GeneratedKeyMaterial,
  HashState,
  KeyGenOptions,
  PrivateKeyHandle,
  PublicKeyMaterial,
} from './backend.js';
import { ecdsaDerToRaw, ecdsaRawToDer } from './ecdsa-der.js';
import type { HashAlgorithm } from './hash-algorithm.js';
import { pssSaltLength } from './rsa-pss.js';
import { ed25519Pkcs8, ed25519Spki } from './spki.js';

/** The part of WebCrypto's `SubtleCrypto` this backend uses (no DOM types in declarations). */
export interface SubtleLike {
  importKey(
    format: 'raw' | 'spki',
    keyData: Uint8Array,
    algorithm: object,
    extractable: boolean,
    keyUsages: string[],
  ): Promise<unknown>;
  verify(algorithm: object, key: unknown, signature: Uint8Array, data: Uint8Array): Promise<boolean>;
  generateKey(algorithm: object, extractable: boolean, keyUsages: string[]): Promise<unknown>;
  sign(algorithm: object, key: unknown, data: Uint8Array): Promise<ArrayBuffer>;
  exportKey(format: 'spki' | 'pkcs8', key: unknown): Promise<ArrayBuffer>;
}

/**
 * An Ed25519 private key on an engine whose WebCrypto lacks Ed25519: noble's 32-byte seed, kept
 * in a private field (JavaScript cannot make it non-extractable as WebCrypto can).
 */
class NobleEd25519Key {
  readonly #seed: Uint8Array;
  constructor(seed: Uint8Array) {
    this.#seed = seed;
  }
  seed(): Uint8Array {
    return this.#seed;
  }
}

/**
 * The generation parameters and usages of each algorithm. RSA-PSS keys carry SHA-256; WebCrypto
 * exports their public half as rsaEncryption SPKI, as securesystemslib writes RSA keys.
 */
function genParams(algorithm: Algorithm, rsaBits: number): object {
  switch (algorithm) {
    case 'ed25519':
      return { name: 'Ed25519' };
    case 'ecdsa-p256':
    case 'ecdsa-p384':
      return { name: 'ECDSA', namedCurve: CURVE[algorithm][0] };
    case 'rsassa-pss-sha256':
      return {
        name: 'RSA-PSS',
        modulusLength: rsaBits,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      };
  }
}

/** Options of `webCryptoBackend`. */
export interface WebCryptoBackendOptions {
  /**
   * The SubtleCrypto to use; by default `globalThis.crypto.subtle`, read at each call. It is
   * absent outside a secure context (`null` here says so), which is a backend error, never a
   * bad signature.
   */
  subtle?: SubtleLike | null | undefined;
}

function hashState(algorithm: HashAlgorithm): HashState {
  const h = algorithm === 'sha256' ? sha256.create() : sha512.create();
  return { update: (chunk) => void h.update(chunk), digest: () => h.digest() };
}

function isNotSupported(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'NotSupportedError';
}

/** Raised when there is no WebCrypto at all; key.ts reports it as a CryptoBackendError. */
function noSubtle(): never {
  throw new Error(
    'WebCrypto is not available (expected globalThis.crypto.subtle, found none: is the page a secure context, https or http://127.0.0.1?)',
  );
}

const CURVE = { 'ecdsa-p256': ['P-256', 'SHA-256', 32], 'ecdsa-p384': ['P-384', 'SHA-384', 48] } as const;

/** A backend on the given (or the global) SubtleCrypto. */
export function webCryptoBackend(options: WebCryptoBackendOptions = {}): CryptoBackend {
  const subtleOf = (): SubtleLike =>
    (options.subtle === undefined
      ? (globalThis as { crypto?: { subtle?: SubtleLike } }).crypto?.subtle
      : options.subtle) ?? noSubtle();
  // One imported CryptoKey per material and SubtleCrypto (import is the expensive part).
  const imported = new WeakMap<PublicKeyMaterial, Promise<unknown>>();
  const importOnce = (m: PublicKeyMaterial, load: () => Promise<unknown>): Promise<unknown> => {
    let p = imported.get(m);
    if (p === undefined) {
      p = load();
      imported.set(m, p);
    }
    return p;
  };

  async function verify(m: PublicKeyMaterial, data: Uint8Array, sig: Uint8Array): Promise<boolean> {
    const subtle = subtleOf();
    switch (m.algorithm) {
      case 'ed25519': {
        let key: unknown;
        try {
          key = await importOnce(m, () =>
            subtle.importKey('raw', m.raw, { name: 'Ed25519' }, false, ['verify']),
          );
        } catch (e) {
          if (!isNotSupported(e)) throw e;
          // An engine without Ed25519 in WebCrypto: noble, strict RFC 8032 (zip215: false).
          // Its SHA-512 comes from crypto.subtle, present since we got this far.
          return ed.verifyAsync(sig, data, m.raw, { zip215: false });
        }
        return subtle.verify({ name: 'Ed25519' }, key, sig, data);
      }
      case 'ecdsa-p256':
      case 'ecdsa-p384': {
        const [namedCurve, hash, size] = CURVE[m.algorithm];
        const raw = ecdsaDerToRaw(sig, size);
        if (raw === undefined) return false;
        const key = await importOnce(m, () =>
          subtle.importKey('raw', m.raw, { name: 'ECDSA', namedCurve }, false, ['verify']),
        );
        return subtle.verify({ name: 'ECDSA', hash }, key, raw, data);
      }
      case 'rsassa-pss-sha256': {
        if (m.rsa === undefined) return false;
        const saltLength = pssSaltLength(m.rsa, sig);
        if (saltLength === undefined) return false;
        const key = await importOnce(m, () =>
          subtle.importKey('spki', m.spki, { name: 'RSA-PSS', hash: 'SHA-256' }, false, ['verify']),
        );
        return subtle.verify({ name: 'RSA-PSS', saltLength }, key, sig, data);
      }
    }
  }

  async function generateKeyPair(
    algorithm: Algorithm,
    options: KeyGenOptions,
  ): Promise<GeneratedKeyMaterial> {
    const subtle = subtleOf();
    let pair: { privateKey: unknown; publicKey: unknown };
    try {
      pair = (await subtle.generateKey(genParams(algorithm, options.rsaBits), options.extractable, [
        'sign',
        'verify',
      ])) as typeof pair;
    } catch (e) {
      if (algorithm !== 'ed25519' || !isNotSupported(e)) throw e;
      // An engine without Ed25519 in WebCrypto: noble, from crypto.getRandomValues.
      const seed = ed.utils.randomSecretKey();
      const raw = await ed.getPublicKeyAsync(seed);
      return { privateKey: { algorithm, key: new NobleEd25519Key(seed) }, spki: ed25519Spki(raw) };
    }
    // A public key is always extractable in WebCrypto, whatever `extractable` said.
    const spki = new Uint8Array(await subtle.exportKey('spki', pair.publicKey));
    return { privateKey: { algorithm, key: pair.privateKey }, spki };
  }

  async function sign(h: PrivateKeyHandle, data: Uint8Array): Promise<Uint8Array> {
    if (h.key instanceof NobleEd25519Key) {
      if (h.algorithm !== 'ed25519') throw new TypeError('a noble key signs Ed25519 only');
      return ed.signAsync(data, h.key.seed());
    }
    const subtle = subtleOf();
    switch (h.algorithm) {
      case 'ed25519':
        return new Uint8Array(await subtle.sign({ name: 'Ed25519' }, h.key, data));
      case 'ecdsa-p256':
      case 'ecdsa-p384': {
        const [, hash, size] = CURVE[h.algorithm];
        // WebCrypto gives r‖s (IEEE P1363); TUF writes DER (DESIGN rule 7).
        return ecdsaRawToDer(new Uint8Array(await subtle.sign({ name: 'ECDSA', hash }, h.key, data)), size);
      }
      case 'rsassa-pss-sha256':
        // DESIGN rule 7: a salt as long as the digest, as securesystemslib and the node backend sign.
        return new Uint8Array(await subtle.sign({ name: 'RSA-PSS', saltLength: 32 }, h.key, data));
    }
  }

  async function exportPkcs8(h: PrivateKeyHandle): Promise<Uint8Array> {
    if (h.key instanceof NobleEd25519Key) return ed25519Pkcs8(h.key.seed());
    return new Uint8Array(await subtleOf().exportKey('pkcs8', h.key));
  }

  return { name: 'webcrypto', createHash: hashState, verify, generateKeyPair, sign, exportPkcs8 };
}

/** The backend on the global WebCrypto. */
export const backend: CryptoBackend = webCryptoBackend();
