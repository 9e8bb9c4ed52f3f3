/**
 * Fixed Ed25519 keys for deterministic tests (key n has the seed n repeated 32 times), built
 * through @tufa/core's public API as the package's own code sees it.
 */
import { createPrivateKey } from 'node:crypto';
import { type Key, PrivateKeySigner, type TopLevelRoleName } from '@tufa/core';

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export function fixedSigner(n: number): PrivateKeySigner {
  const der = Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.alloc(32, n)]);
  const pem = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({
    format: 'pem',
    type: 'pkcs8',
  });
  return PrivateKeySigner.fromPem(pem.toString());
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
