/**
 * The root entry `@tufa/core` as Node (and Bun) resolve it: the portable entry plus signing with
 * and generating private keys in this process, which need node:crypto. Browsers, workers and
 * Deno get `index.ts` alone; they can sign through any `Signer` (e.g. a remote one).
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
