/**
 * The crypto backend in use (internal). The resolver picks it through package.json `imports`
 * (`#crypto-backend`: node:crypto under the `node` condition, WebCrypto otherwise), so nothing
 * runs at import. Tests swap it to run one vector table on every backend.
 */
import { backend as resolved } from '#crypto-backend';
import type { CryptoBackend } from './backend.js';

let current: CryptoBackend = resolved;

export function cryptoBackend(): CryptoBackend {
  return current;
}

/** Internal, for tests: use `backend` until the returned function restores the previous one. */
export function useCryptoBackend(backend: CryptoBackend): () => void {
  const previous = current;
  current = backend;
  return () => {
    current = previous;
  };
}
