/**
 * The node:crypto (OpenSSL) backend, chosen by the `node` export condition: on Node it is about
 * 10x faster than pure JS for hashing and Ed25519 (docs/adr/0003-crypto-backend.md). Bun and
 * Deno implement the same module.
 */
import * as nodeCrypto from 'node:crypto';
import {
  constants,
  createHash,
  createPublicKey,
  KeyObject,
  generateKeyPair as nodeGenerateKeyPair,
  sign as nodeSign,
  verify,
} from 'node:crypto';
import type {
  Algorithm,
  CryptoBackend,
  GeneratedKeyMaterial,
  HashState,
  KeyGenOptions,
  PrivateKeyHandle,
  PublicKeyMaterial,
} from './backend.js';
import type { HashAlgorithm } from './hash-algorithm.js';

// Re-creating the KeyObject per verification halves throughput (ADR 0003): one per material.
const keyObjects = new WeakMap<PublicKeyMaterial, KeyObject>();
// The same key parsed again (a root read by every Repository.open and client refresh, so every
// upload to a trust server) comes with a new material: KeyObjects are also kept by their SPKI
// bytes, which name the algorithm and the key. Bounded: the oldest entry goes first.
const keyObjectsBySpki = new Map<string, KeyObject>();
const KEY_OBJECTS_MAX = 4096;

function keyObject(m: PublicKeyMaterial): KeyObject {
  let k = keyObjects.get(m);
  if (k === undefined) {
    const spki = Buffer.from(m.spki);
    const id = spki.toString('base64');
    k = keyObjectsBySpki.get(id);
    if (k === undefined) {
      k = createPublicKey({ key: spki, format: 'der', type: 'spki' });
      if (keyObjectsBySpki.size >= KEY_OBJECTS_MAX) {
        keyObjectsBySpki.delete(keyObjectsBySpki.keys().next().value as string);
      }
      keyObjectsBySpki.set(id, k);
    }
    keyObjects.set(m, k);
  }
  return k;
}

/**
 * Node's one-shot `crypto.hash` (Node 20.12 and later): about two thirds of the time of
 * `createHash` + `update` + `digest` for a short input, which a million hash-bin look-ups feel.
 */
const nodeHash = (nodeCrypto as { hash?: (alg: string, data: Uint8Array | string, enc: 'buffer') => Buffer })
  .hash;
const oneShot =
  typeof nodeHash === 'function'
    ? (algorithm: HashAlgorithm, data: Uint8Array | string): Uint8Array => {
        const b = nodeHash(algorithm, data, 'buffer');
        return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      }
    : undefined;

function hashState(algorithm: HashAlgorithm): HashState {
  const h = createHash(algorithm);
  return {
    update: (chunk) => void h.update(chunk),
    digest: () => {
      const b = h.digest();
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    },
  };
}

// Synchronous on purpose: for metadata-sized data the thread-pool hop costs more than it saves.
async function verifySignature(m: PublicKeyMaterial, data: Uint8Array, sig: Uint8Array): Promise<boolean> {
  const key = keyObject(m);
  switch (m.algorithm) {
    case 'ed25519':
      return verify(null, data, key, sig);
    case 'ecdsa-p256':
    case 'ecdsa-p384':
      return verify(
        m.algorithm === 'ecdsa-p256' ? 'sha256' : 'sha384',
        data,
        { key, dsaEncoding: 'der' },
        sig,
      );
    case 'rsassa-pss-sha256':
      // securesystemslib verifies with PSS.AUTO (any salt length); AUTO matches it.
      return verify(
        'sha256',
        data,
        { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO },
        sig,
      );
  }
}

/** The node KeyObject of a handle; a key of another backend is a programming error. */
function privateKeyObject(h: PrivateKeyHandle): KeyObject {
  if (!(h.key instanceof KeyObject) || h.key.type !== 'private') {
    throw new TypeError('expected a node:crypto private KeyObject');
  }
  return h.key;
}

// The async form runs in the thread pool: RSA generation takes long enough to block the loop.
function generateKeyObjects(
  algorithm: Algorithm,
  rsaBits: number,
): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, publicKey: KeyObject, privateKey: KeyObject) =>
      err ? reject(err) : resolve({ publicKey, privateKey });
    switch (algorithm) {
      case 'ed25519':
        return nodeGenerateKeyPair('ed25519', {}, done);
      case 'ecdsa-p256':
      case 'ecdsa-p384':
        return nodeGenerateKeyPair(
          'ec',
          { namedCurve: algorithm === 'ecdsa-p256' ? 'P-256' : 'P-384' },
          done,
        );
      case 'rsassa-pss-sha256':
        return nodeGenerateKeyPair('rsa', { modulusLength: rsaBits, publicExponent: 0x10001 }, done);
    }
  });
}

async function generateKeyPair(algorithm: Algorithm, options: KeyGenOptions): Promise<GeneratedKeyMaterial> {
  const pair = await generateKeyObjects(algorithm, options.rsaBits);
  const spki = pair.publicKey.export({ type: 'spki', format: 'der' });
  return { privateKey: { algorithm, key: pair.privateKey }, spki: new Uint8Array(spki) };
}

async function signData(h: PrivateKeyHandle, data: Uint8Array): Promise<Uint8Array> {
  const key = privateKeyObject(h);
  let sig: Buffer;
  switch (h.algorithm) {
    case 'ed25519':
      sig = nodeSign(null, data, key);
      break;
    case 'ecdsa-p256':
    case 'ecdsa-p384':
      sig = nodeSign(h.algorithm === 'ecdsa-p256' ? 'sha256' : 'sha384', data, { key, dsaEncoding: 'der' });
      break;
    case 'rsassa-pss-sha256':
      // DESIGN rule 7: a salt as long as the digest (32 bytes), as securesystemslib signs;
      // node's default for signing is the maximum salt length.
      sig = nodeSign('sha256', data, {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      });
      break;
  }
  return new Uint8Array(sig.buffer, sig.byteOffset, sig.byteLength);
}

async function exportPkcs8(h: PrivateKeyHandle): Promise<Uint8Array> {
  return new Uint8Array(privateKeyObject(h).export({ type: 'pkcs8', format: 'der' }));
}

/** node:crypto for hashes, signatures and private keys. */
export const backend: CryptoBackend = {
  name: 'node:crypto',
  createHash: hashState,
  // A string is hashed as UTF-8 by Node, lone surrogates as U+FFFD (tested against TextEncoder):
  // a path's bin without encoding it first, about two thirds of the time.
  ...(oneShot ? { digest: oneShot, digestText: oneShot } : {}),
  verify: verifySignature,
  generateKeyPair,
  sign: signData,
  exportPkcs8,
};
