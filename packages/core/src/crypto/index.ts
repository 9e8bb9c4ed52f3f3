/**
 * Everything of the crypto module: the portable part (with `MemorySigner`), plus private keys as
 * node KeyObjects with PEM in and out, which need node:crypto (exported by the Node flavour of
 * the root entry and by `@tufa/core/node`).
 */

export { type GeneratedKeyPair, type GenerateKeyPairOptions, generateKeyPair } from './keygen.js';
export * from './portable.js';
export { type FromPemOptions, PrivateKeySigner, type PrivateKeySignerOptions } from './signer.js';
