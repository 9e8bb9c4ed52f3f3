#!/usr/bin/env node
/**
 * The tufa side of examples/python-tuf-server/interop.py: publishes a GUN to a running trust
 * server through `ServerClient` (keys made here, in memory), so that python-tuf can read it.
 *
 *   node tufa-publish.mjs SERVER_URL GUN TARGETS.json
 *
 * TARGETS.json: `[{"path": "app-1.0.tar", "length": N, "sha256": "<hex>", "role": "targets"|"team"}]`.
 * Version 2 of targets adds the targets of role "targets" and a delegation "team" (paths
 * `team/*`) holding the "team" ones; version 3 adds nothing but a custom field on the first
 * target, so that the client sees one more version. Prints `{"root": "<base64 of 1.root.json>"}`.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const lib = (p) => import(pathToFileURL(join(ROOT_DIR, 'packages', ...p.split('/'))).href);
const core = await lib('core/dist/index.js');
const coreNode = await lib('core/dist/index-node.js');
const { ServerClient } = await lib('server/dist/index.js');

const [url, gun, listFile] = process.argv.slice(2);
if (!url || !gun || !listFile) {
  console.error('usage: node tufa-publish.mjs SERVER_URL GUN TARGETS.json');
  process.exit(2);
}
const list = JSON.parse(readFileSync(listFile, 'utf8'));

async function keyPair() {
  const p = await coreNode.generateKeyPair('ed25519');
  return { key: p.key, signer: coreNode.PrivateKeySigner.fromPem(p.privateKeyPem) };
}
const root = await keyPair();
const targets = await keyPair();
const team = await keyPair();
const targetFile = (t, custom) =>
  new core.TargetFile(t.path, t.length, new Map([['sha256', t.sha256]]), custom ? { custom } : undefined);

const client = new ServerClient({ url });
await client.create(gun, {
  keys: { root: [root.key], targets: [targets.key] },
  signers: [root.signer, targets.signer],
});
await client.publish(gun, { signers: [targets.signer, team.signer] }, async (repo) => {
  await repo.addTargets(list.filter((t) => t.role === 'targets').map((t) => targetFile(t)));
  const role = new core.DelegatedRole({
    name: 'team',
    keyids: [team.key.keyid()],
    threshold: 1,
    terminating: true,
    paths: ['team/*'],
  });
  await repo.addDelegation('targets', role, [team.key]);
  await repo.addTargets(
    list.filter((t) => t.role === 'team').map((t) => targetFile(t)),
    { role: 'team' },
  );
});
const first = list.find((t) => t.role === 'targets');
await client.publish(gun, { signers: [targets.signer] }, (repo) =>
  repo.addTargets([targetFile(first, { note: 'version 3' })], { replace: true }),
);
const rootBytes = await client.readFile(gun, 'metadata/1.root.json');
process.stdout.write(`${JSON.stringify({ root: Buffer.from(rootBytes).toString('base64') })}\n`);
