/**
 * Keys, signatures, the signer interface and hashes, on the crypto backend the runtime resolves
 * (node:crypto on Node, WebCrypto elsewhere; docs/adr/0022-crypto-backends.md), and a signer
 * that generates or holds its private key there. No `node:` module: this is what the portable
 * root entry exports.
 */
export { digest, type HashAlgorithm, Hasher, hexDigest, isSupportedHashAlgorithm } from './hash.js';
export { Key, type KeyKind, type KeyVal, type SpkiExportable } from './key.js';
export { keyFromPublicPem, keyToPem } from './key-pem.js';
export {
  type CryptoKeyLike,
  type GenerateSignerOptions,
  MemorySigner,
  type MemorySignerOptions,
} from './memory-signer.js';
export { Signature } from './signature.js';
export type { Signer } from './signer-type.js';
