/** WebCrypto as older or crippled engines have it, for the backend tests. */
import type { SubtleLike } from '../../src/crypto/web-backend.js';

export const realSubtle = globalThis.crypto.subtle as unknown as SubtleLike;

/** The global WebCrypto with some algorithms taken away, as an older engine has it. */
export function subtleWithout(...names: string[]): SubtleLike {
  const missing = (alg: object): boolean => names.includes(String((alg as { name?: string }).name));
  const notSupported = () =>
    Promise.reject(new DOMException('Algorithm: Unrecognized name', 'NotSupportedError'));
  return {
    importKey: (format, data, alg, extractable, usages) =>
      missing(alg) ? notSupported() : realSubtle.importKey(format, data, alg, extractable, usages),
    verify: (alg, key, sig, data) => (missing(alg) ? notSupported() : realSubtle.verify(alg, key, sig, data)),
    generateKey: (alg, extractable, usages) =>
      missing(alg) ? notSupported() : realSubtle.generateKey(alg, extractable, usages),
    sign: (alg, key, data) => (missing(alg) ? notSupported() : realSubtle.sign(alg, key, data)),
    exportKey: (format, key) => realSubtle.exportKey(format, key),
  };
}
