/** Keys, signatures, signers and hashes. Node backend: node:crypto, with @noble/ed25519 for key checks. */
export { digest, type HashAlgorithm, Hasher, hexDigest, isSupportedHashAlgorithm } from './hash.js';
export { Key, type KeyVal } from './key.js';
export {
  type GeneratedKeyPair,
  type GenerateKeyPairOptions,
  generateKeyPair,
  type KeyKind,
  keyFromPublicPem,
  keyToPem,
} from './keygen.js';
export { Signature } from './signature.js';
export {
  type FromPemOptions,
  PrivateKeySigner,
  type PrivateKeySignerOptions,
  type Signer,
} from './signer.js';
