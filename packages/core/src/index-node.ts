/**
 * The root entry `@tufa/core` as Node (and Bun) resolve it: the portable entry plus private keys
 * as node KeyObjects with PEM in and out (`PrivateKeySigner`, `generateKeyPair`), which need
 * node:crypto. Browsers, workers and Deno get `index.ts` alone; they generate keys and sign with
 * `MemorySigner` (WebCrypto), or through any other `Signer`.
 */

export {
  type FromPemOptions,
  type GeneratedKeyPair,
  type GenerateKeyPairOptions,
  generateKeyPair,
  PrivateKeySigner,
  type PrivateKeySignerOptions,
} from './crypto/index.js';
export * from './index.js';
