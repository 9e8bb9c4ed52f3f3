#!/usr/bin/env node
/**
 * A TUF repository living in an OCI registry, with no trust server: start a local registry
 * (Debian's `docker-registry`, on 127.0.0.1, port 0), push a tiny image, create a TUF repository
 * in the same registry repository (tags `_tufa.*`), sign the image's tag, then verify it as a
 * client would — through the registry only. Skips with a message when `docker-registry` is not
 * installed.
 *
 *   npm run build && node examples/tuf-in-oci/example.mjs
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, MemoryMetadataStore, Repository, TargetFile, Updater } from '@tufa/core';
import { MEDIA_TYPES, OciFetcher, OciRepositoryStorage, RegistryClient } from '@tufa/oci';

const REGISTRY_BIN = '/usr/bin/docker-registry';
if (!existsSync(REGISTRY_BIN)) {
  console.log(`skipped: ${REGISTRY_BIN} is not installed (apt-get install docker-registry)`);
  process.exit(0);
}

// 1. A throwaway registry: filesystem storage in a temp dir, anonymous access, loopback only.
const dir = mkdtempSync(join(tmpdir(), 'tufa-example-registry-'));
const config = join(dir, 'config.yml');
writeFileSync(
  config,
  [
    'version: 0.1',
    'log: { level: info, accesslog: { disabled: true } }',
    `storage: { filesystem: { rootdirectory: ${JSON.stringify(join(dir, 'data'))} } }`,
    'http: { addr: "127.0.0.1:0" }',
    '',
  ].join('\n'),
);
const child = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
const stop = () => {
  child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
};
let log = '';
const host = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`docker-registry did not start:\n${log}`)), 20_000);
  const onData = (c) => {
    log += c.toString();
    const m = /listening on (127\.0\.0\.1:\d+)/.exec(log);
    if (m) {
      clearTimeout(timer);
      resolve(m[1]);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  child.once('exit', (code) => reject(new Error(`docker-registry exited with ${code}:\n${log}`)));
});

try {
  const location = `${host}/team/app`;
  const client = new RegistryClient({ credentials: 'none', actions: ['pull', 'push'] });

  // 2. An "image": a config blob and a manifest, pushed under the tag 1.0.
  const configBytes = new TextEncoder().encode(
    '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}',
  );
  const configDigest = await client.pushBlob(location, configBytes);
  const manifest = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: configDigest,
        size: configBytes.length,
      },
      layers: [],
    }),
  );
  await client.putManifest(`${location}:1.0`, manifest, MEDIA_TYPES.ociManifest);
  const image = await client.resolve(`${location}:1.0`);
  console.log(`pushed ${location}:1.0 = ${image.digest} (${image.size} bytes)`);

  // 3. The TUF repository, in the same registry repository. Keys are fresh for the example.
  const [root, targets, online] = await Promise.all([
    generateKeyPair('ed25519'),
    generateKeyPair('ed25519'),
    generateKeyPair('ed25519'),
  ]);
  const storage = new OciRepositoryStorage(location, { client, settleMs: 100 });
  const repo = await Repository.create(storage, {
    keys: { root: [root.key], targets: [targets.key], snapshot: [online.key], timestamp: [online.key] },
    signers: [root.signer, targets.signer, online.signer],
  });
  const hex = image.digest.slice('sha256:'.length);
  await repo.addTargets([new TargetFile(`${location}:1.0`, image.size, new Map([['sha256', hex]]))]);
  const published = await repo.publish();
  console.log(`published ${published.written.length} metadata files as tags:`);
  for (const tag of (await client.listTags(location)).sort()) console.log(`  ${location}:${tag}`);

  // 4. A client that trusts root version 1 verifies the tag, reading only the registry.
  const store = new MemoryMetadataStore();
  await store.write('root', await storage.read('metadata/1.root.json'));
  const fetcher = new OciFetcher(location, { client: new RegistryClient({ credentials: 'none' }), store });
  const updater = new Updater({ metadataBaseUrl: fetcher.metadataBaseUrl, fetcher, store });
  const info = await updater.getTargetInfo(`${location}:1.0`);
  const served = await client.resolve(`${location}:1.0`);
  const signed = `sha256:${info?.target.hashes.get('sha256')}`;
  if (!info || signed !== served.digest) {
    console.error(`NOT verified: the registry serves ${served.digest}, the signed digest is ${signed}`);
    process.exitCode = 1;
  } else {
    console.log(`verified: ${location}:1.0 -> ${signed}, signed by the ${info.role} role`);
  }
} finally {
  stop();
}
