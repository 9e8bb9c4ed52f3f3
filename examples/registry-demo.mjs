#!/usr/bin/env node
/**
 * Content trust for image tags against a real registry, with the built `tufa` binary:
 *
 *   registry:  a local docker-registry (Debian's package) on 127.0.0.1, storage in a temp dir
 *   push:      an image pushed with skopeo
 *   publisher: tufa init, then `tufa sign REF` signs what the registry serves for the tag
 *   CI job:    tufa verify --registry (the registry still serves the signed digest), then
 *              tufa resolve prints REGISTRY/REPO@sha256:… for `docker pull`
 *   attack:    another image pushed to the same tag: verify --registry refuses it (exit 4)
 *   in-registry: tufa publish --to oci://… --switch moves the TUF repository into the registry
 *              itself (tags _tufa.*, docs/tuf-in-oci.md); the next tufa sign publishes there
 *              and tufa verify --server oci://… reads nothing but the registry
 *
 *   npm run demo:registry
 *
 * Without docker-registry or skopeo installed it says so and exits 0 (apt-get install
 * docker-registry skopeo). Everything happens in a temp directory, removed at the end.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const BIN = fileURLToPath(new URL('../packages/cli/dist/bin.js', import.meta.url));
const REGISTRY_BIN = '/usr/bin/docker-registry';
const SKOPEO_BIN = '/usr/bin/skopeo';

if (!existsSync(REGISTRY_BIN) || !existsSync(SKOPEO_BIN)) {
  console.log(
    'registry demo skipped: needs docker-registry and skopeo (apt-get install docker-registry skopeo)',
  );
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'tufa-registry-demo-'));
const env = {
  ...process.env,
  TUFA_HOME: join(dir, 'home'),
  TUFA_PASSPHRASE: 'demo passphrase (not a secret)',
  DOCKER_CONFIG: join(dir, 'docker'), // no credentials needed: the demo registry is anonymous
};
let registry;

function tufa(args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env, cwd: dir }, (error, stdout, stderr) =>
      resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function expect(step, r, code) {
  const ok = r.code === code;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${step} (exit ${r.code}, expected ${code})`);
  if (r.stdout.trim()) console.log(`     ${r.stdout.trim().split('\n').join('\n     ')}`);
  if (!ok) {
    console.log(r.stderr);
    throw new Error(`${step} failed`);
  }
  return r;
}

function blob(layout, bytes) {
  const hex = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(join(layout, 'blobs', 'sha256', hex), bytes);
  return { digest: `sha256:${hex}`, size: bytes.length };
}

/** An OCI layout with one tiny image whose config carries `seed`. */
function imageLayout(seed) {
  const layout = join(dir, `layout-${seed}`);
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const tar = Buffer.alloc(1024);
  const layer = blob(layout, gzipSync(tar));
  const config = blob(
    layout,
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Labels: { seed } },
        rootfs: { type: 'layers', diff_ids: [`sha256:${createHash('sha256').update(tar).digest('hex')}`] },
      }),
    ),
  );
  const manifest = blob(
    layout,
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
      }),
    ),
  );
  writeFileSync(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: { 'org.opencontainers.image.ref.name': 'image' },
        },
      ],
    }),
  );
  return { layout, ...manifest };
}

function push(image, destination) {
  const policy = join(dir, 'policy.json');
  writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  return new Promise((resolve, reject) => {
    execFile(
      SKOPEO_BIN,
      [
        '--policy',
        policy,
        'copy',
        '--quiet',
        '--dest-tls-verify=false',
        `oci:${image.layout}:image`,
        `docker://${destination}`,
      ],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir } },
      (error, _stdout, stderr) => (error ? reject(new Error(`skopeo copy failed: ${stderr}`)) : resolve()),
    );
  });
}

async function startRegistry() {
  const config = join(dir, 'registry.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${JSON.stringify(join(dir, 'registry-data'))}`,
      'http:',
      '  addr: 127.0.0.1:0',
      `  secret: ${JSON.stringify(randomUUID())}`,
      '',
    ].join('\n'),
  );
  registry = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  return new Promise((resolve, reject) => {
    const onData = (c) => {
      log += c.toString('utf8');
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(log);
      if (m) resolve(`127.0.0.1:${m[1]}`);
    };
    registry.stdout.on('data', onData);
    registry.stderr.on('data', onData);
    registry.once('exit', (code) => reject(new Error(`docker-registry exited with ${code}:\n${log}`)));
  });
}

try {
  const host = await startRegistry();
  const gun = `${host}/demo/app`;
  console.log(`registry on ${host}`);
  const first = imageLayout('first');
  await push(first, `${gun}:1.0`);
  console.log(`pushed ${gun}:1.0 (${first.digest})`);

  expect(
    'publisher: tufa init',
    await tufa(['init', gun, '--publish-to', 'pub', '--root-key-out', 'offline']),
    0,
  );
  expect('publisher: tufa sign REF (what the registry serves)', await tufa(['sign', `${gun}:1.0`]), 0);
  const root = join(dir, 'pub', ...gun.split('/'), 'metadata', '1.root.json');
  const client = ['--server', 'pub', '--root', root];
  expect('CI: tufa verify --registry', await tufa(['verify', `${gun}:1.0`, '--registry', ...client]), 0);
  const resolved = expect(
    'CI: tufa resolve (for docker pull)',
    await tufa(['resolve', `${gun}:1.0`, ...client]),
    0,
  );
  if (resolved.stdout.trim() !== `${gun}@${first.digest}`)
    throw new Error('resolve printed another reference');

  const second = imageLayout('second');
  await push(second, `${gun}:1.0`);
  console.log(`pushed another image to ${gun}:1.0 (${second.digest})`);
  expect(
    'CI: tufa verify --registry refuses the moved tag',
    await tufa(['verify', `${gun}:1.0`, '--registry', ...client]),
    4,
  );

  // The repository itself moves into the registry, next to the images it protects.
  expect(
    'publisher: tufa publish --to oci:// --switch (the repository moves into the registry)',
    await tufa(['publish', gun, '--to', `oci://${gun}`, '--switch']),
    0,
  );
  await push(first, `${gun}:1.1`);
  expect('publisher: tufa sign REF, published into the registry', await tufa(['sign', `${gun}:1.1`]), 0);
  expect(
    'CI: tufa verify --registry --server oci:// (only the registry is read)',
    await tufa(['verify', `${gun}:1.1`, '--registry', '--server', `oci://${gun}`, '--root', root]),
    0,
  );
  console.log('registry demo: every step behaved as expected');
} catch (e) {
  console.error(`registry demo failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
} finally {
  registry?.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
