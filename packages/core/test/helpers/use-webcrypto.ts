/**
 * Setup file of the `webcrypto` vitest project: the same tests, with the WebCrypto backend that
 * browsers, workers and the portable entry resolve instead of node:crypto.
 */
import { beforeAll } from 'vitest';
import { cryptoBackend, useCryptoBackend } from '../../src/crypto/active-backend.js';
import { backend } from '../../src/crypto/web-backend.js';

useCryptoBackend(backend);

beforeAll(() => {
  // A guard against this file silently not applying (e.g. a second module instance).
  if (cryptoBackend().name !== 'webcrypto') throw new Error('the webcrypto project runs on node:crypto');
});
