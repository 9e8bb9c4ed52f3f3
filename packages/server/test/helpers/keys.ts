/**
 * Fixed Ed25519 keys for deterministic tests (key n has the seed n repeated 32 times), built
 * through @tufa/core's public API.
 */
import { createPrivateKey } from 'node:crypto';
import { PrivateKeySigner } from '@tufa/core';

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export function fixedSigner(n: number): PrivateKeySigner {
  const der = Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.alloc(32, n)]);
  const pem = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({
    format: 'pem',
    type: 'pkcs8',
  });
  return PrivateKeySigner.fromPem(pem.toString());
}
