/**
 * Keys, signatures, signers and hashes, on the crypto backend the runtime resolves (node:crypto
 * on Node, WebCrypto elsewhere; docs/adr/0022-crypto-backends.md).
 */
export { digest, type HashAlgorithm, Hasher, hexDigest, isSupportedHashAlgorithm } from './hash.js';
export { Key, type KeyVal } from './key.js';
export { keyFromPublicPem, keyToPem } from './key-pem.js';
export {
  type GeneratedKeyPair,
  type GenerateKeyPairOptions,
  generateKeyPair,
  type KeyKind,
} from './keygen.js';
export { Signature } from './signature.js';
export {
  type FromPemOptions,
  PrivateKeySigner,
  type PrivateKeySignerOptions,
  type Signer,
} from './signer.js';
