/** Fixed Ed25519 keys for deterministic tests: key n has the seed n repeated 32 times. */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { Key } from '../../src/crypto/key.js';
import { PrivateKeySigner, type PrivateKeySignerOptions } from '../../src/crypto/signer.js';
import type { TopLevelRoleName } from '../../src/metadata/roles.js';

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export function fixedSigner(n: number, options: PrivateKeySignerOptions = {}): PrivateKeySigner {
  const der = Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.alloc(32, n)]);
  const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  return new PrivateKeySigner(privateKey, Key.fromPublicKeyObject(createPublicKey(privateKey)), options);
}

/** `Repository.create`'s `keys`: each top-level role authorises the public key of its one signer. */
export function topLevelKeys(
  signers: Record<TopLevelRoleName, { key: Key }>,
): Record<TopLevelRoleName, Key[]> {
  return {
    root: [signers.root.key],
    targets: [signers.targets.key],
    snapshot: [signers.snapshot.key],
    timestamp: [signers.timestamp.key],
  };
}
