/**
 * The node:crypto (OpenSSL) backend, chosen by the `node` export condition: on Node it is about
 * 10x faster than pure JS for hashing and Ed25519 (docs/adr/0003-crypto-backend.md). Bun and
 * Deno implement the same module.
 */
import { constants, createHash, createPublicKey, type KeyObject, verify } from 'node:crypto';
import type { CryptoBackend, HashState, PublicKeyMaterial } from './backend.js';
import type { HashAlgorithm } from './hash-algorithm.js';

// Re-creating the KeyObject per verification halves throughput (ADR 0003): one per material.
const keyObjects = new WeakMap<PublicKeyMaterial, KeyObject>();

function keyObject(m: PublicKeyMaterial): KeyObject {
  let k = keyObjects.get(m);
  if (k === undefined) {
    k = createPublicKey({ key: Buffer.from(m.spki), format: 'der', type: 'spki' });
    keyObjects.set(m, k);
  }
  return k;
}

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

/** node:crypto for hashes and signatures. */
export const backend: CryptoBackend = {
  name: 'node:crypto',
  createHash: hashState,
  verify: verifySignature,
};
