/** Fixed Ed25519 keys for deterministic tests: key n has the seed n repeated 32 times. */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { Key } from '../../src/crypto/key.js';
import { PrivateKeySigner, type PrivateKeySignerOptions } from '../../src/crypto/signer.js';

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export function fixedSigner(n: number, options: PrivateKeySignerOptions = {}): PrivateKeySigner {
  const der = Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.alloc(32, n)]);
  const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  return new PrivateKeySigner(privateKey, Key.fromPublicKeyObject(createPublicKey(privateKey)), options);
}
