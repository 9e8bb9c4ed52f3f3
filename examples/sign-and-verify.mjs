#!/usr/bin/env node
/**
 * The library end to end without a server: create a root with fresh keys, sign targets that
 * pin a container image digest, parse the signed bytes back strictly, verify them against the
 * root, and show that a tampered digest is refused.
 *
 *   npm run build && node examples/sign-and-verify.mjs
 */
import { generateKeyPair, Metadata, Role, Root, TargetFile, Targets } from '@tufa/core';

const expires = new Date(Date.UTC(new Date().getUTCFullYear() + 1, 0, 1));
const common = { version: 1, specVersion: '1.0.31', expires };

const rootKey = await generateKeyPair('ed25519');
const targetsKey = await generateKeyPair('ecdsa-p256');
const onlineKey = await generateKeyPair('ed25519');

const root = new Metadata(
  new Root({
    ...common,
    consistentSnapshot: true,
    keys: new Map([rootKey, targetsKey, onlineKey].map((k) => [k.key.keyid(), k.key])),
    roles: new Map([
      ['root', new Role([rootKey.key.keyid()], 1)],
      ['targets', new Role([targetsKey.key.keyid()], 1)],
      ['snapshot', new Role([onlineKey.key.keyid()], 1)],
      ['timestamp', new Role([onlineKey.key.keyid()], 1)],
    ]),
  }),
);
await root.sign(rootKey.signer);
await root.verifyDelegate('root', root);
console.log(`root v1 signed by ${rootKey.key.keyid().slice(0, 12)}… (ed25519)`);

// A container image tag: the target's sha256 and length are the manifest digest and size.
const digest = 'b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7';
const targets = new Metadata(
  new Targets({
    ...common,
    targets: new Map([
      [
        'registry.example.com/team/app:1.0',
        new TargetFile('registry.example.com/team/app:1.0', 7023, new Map([['sha256', digest]])),
      ],
    ]),
  }),
);
await targets.sign(targetsKey.signer);
const bytes = targets.toBytes();
console.log(
  `targets v1 signed by ${targetsKey.key.keyid().slice(0, 12)}… (ecdsa-sha2-nistp256), ${bytes.length} bytes`,
);

// What a client does with bytes it received: parse strictly, verify against the trusted root.
const received = Metadata.fromBytes(bytes, 'targets');
await root.verifyDelegate('targets', received);
const entry = received.signed.targets.get('registry.example.com/team/app:1.0');
console.log(
  `verified: registry.example.com/team/app:1.0 -> sha256:${entry.hashes.get('sha256')} (${entry.length} bytes)`,
);

// A registry that swaps the digest cannot re-sign: the signature no longer verifies.
const tampered = new TextDecoder().decode(bytes).replace(digest, 'f'.repeat(64));
try {
  await root.verifyDelegate('targets', Metadata.fromBytes(new TextEncoder().encode(tampered), 'targets'));
  console.error('tampered metadata verified: this must never happen');
  process.exit(1);
} catch (e) {
  console.log(`tampered digest refused: ${e.code}: ${e.message}`);
}
