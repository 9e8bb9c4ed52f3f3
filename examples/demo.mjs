#!/usr/bin/env node
/**
 * The main job of tufa, end to end, with the built `tufa` binary:
 *
 *   publisher: create a repository (root key on "offline media"), sign three image digests
 *   server:    serve the published metadata on 127.0.0.1
 *   CI job:    verify a tag against a pinned root; a wrong digest is refused (exit 4); metadata
 *              tampered with on the server is refused (exit 3)
 *   publisher: rotate the targets key with the offline root key; the CI job's cache follows
 *
 *   npm run build && node examples/demo.mjs
 *
 * Everything happens in a fresh temporary directory, removed at the end; the server is stopped
 * in all cases. Exits non-zero if any step does not behave as expected.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../packages/cli/dist/bin.js', import.meta.url));
const GUN = 'registry.example.com/demo/app';
const SLUG = 'registry-example-com-demo-app'; // how tufa init names the generated keys
const PASSPHRASE = 'demo passphrase (not a secret)';
const STEP_TIMEOUT_MS = 30_000;

const started = Date.now();
const results = []; // { step, expected, got, ok }
let server; // the `tufa serve` child process
const running = new Set(); // other tufa child processes, killed if the demo is interrupted
const work = mkdtempSync(join(tmpdir(), 'tufa-demo-'));

// The children get their own environment: a fresh TUFA_HOME and the demo passphrase. Nothing
// tufa-related is inherited from the caller's shell (or set in this process).
const childEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TUFA_')));
childEnv.TUFA_HOME = join(work, 'home');
childEnv.TUFA_PASSPHRASE = PASSPHRASE;

const say = (s = '') => process.stdout.write(`${s}\n`);
const indent = (text) =>
  text
    .trimEnd()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => `    ${l}`)
    .join('\n');
const quote = (a) => (/^[\w./:@=+-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`);
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

class DemoFailure extends Error {}

/** Runs `tufa ARGS` in the work directory, shows the command and its output, checks the exit code. */
function tufa(step, args, { expect = 0, env = {} } = {}) {
  const prefix = Object.entries(env)
    .map(([k, v]) => `${k}=${quote(v)} `)
    .join('');
  say(`  $ ${prefix}tufa ${args.map(quote).join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: work,
      env: { ...childEnv, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), STEP_TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      const output = `${stdout}${stderr}`;
      if (output.trim()) say(indent(output));
      const got = code ?? signal;
      const ok = got === expect;
      results.push({ step, expected: expect, got, ok });
      say(
        `    -> exit ${got}${ok ? (expect === 0 ? '' : ` (expected ${expect})`) : `, but expected ${expect}`}`,
      );
      if (!ok) reject(new DemoFailure(`step "${step}": tufa exited ${got}, expected ${expect}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** Starts `tufa serve DIR --port 0` and resolves with the URL it prints. */
function serve(dir) {
  say(`  $ tufa serve ${dir} --port 0 &`);
  return new Promise((resolve, reject) => {
    server = spawn(process.execPath, [BIN, 'serve', dir, '--port', '0'], {
      cwd: work,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new DemoFailure('tufa serve printed no URL within 10 s')), 10_000);
    server.stdout.on('data', (c) => {
      out += c;
      const url = /(http:\/\/\S+\/)/.exec(out)?.[1];
      if (url) {
        clearTimeout(timer);
        say(indent(out));
        resolve(url);
      }
    });
    server.stderr.on('data', (c) => {
      err += c;
    });
    server.on('error', reject);
    server.on('exit', (code) => {
      clearTimeout(timer);
      reject(new DemoFailure(`tufa serve exited early (exit ${code})\n${err}`));
    });
  });
}

async function stopServer() {
  if (!server || server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  const timer = setTimeout(() => server.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

function cleanUp() {
  rmSync(work, { recursive: true, force: true });
}

/** A small fake OCI image manifest; its sha256 and size are what a tag is signed as. */
function manifest(name, layerSeed) {
  const digest = (s) => `sha256:${sha256(s)}`;
  return `${JSON.stringify(
    {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: digest(`config ${name}`),
        size: 1469,
      },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          digest: digest(layerSeed),
          size: 3_623_807,
        },
      ],
    },
    null,
    2,
  )}\n`;
}

/** The targets metadata file a client fetches now (consistent snapshots: N.targets.json). */
function currentTargetsFile(metadataDir) {
  const versions = readdirSync(metadataDir)
    .map((f) => /^(\d+)\.targets\.json$/.exec(f)?.[1])
    .filter(Boolean)
    .map(Number);
  return join(metadataDir, `${Math.max(...versions)}.targets.json`);
}

async function main() {
  if (!existsSync(BIN)) throw new DemoFailure(`${BIN} does not exist: run \`npm run build\` first`);
  const step = (n, title) => say(`\n[${n}/8] ${title}`);

  say('tufa demo: sign container image digests, serve them, verify them as a CI job would.');
  say(`  tufa             = node ${BIN}`);
  say(`  working dir      = ${work}  (removed at the end)`);
  say(`  TUFA_HOME        = ${childEnv.TUFA_HOME}  (keys, repository config, client trust cache)`);
  say(`  TUFA_PASSPHRASE  = '${PASSPHRASE}'`);
  say('                     a demo passphrase, set for the tufa child processes only; in real use type');
  say('                     it at the hidden prompt or take it from a secret store (never argv)');

  step(1, 'Publisher: create the repository. The root key goes to "offline media" (a directory here).');
  await tufa('init', ['init', GUN, '--publish-root', './published', '--root-key-out', './offline-usb']);
  const metadataDir = join(work, 'published', ...GUN.split('/'), 'metadata');
  const rootKey = `./offline-usb/root-${SLUG}.json`;
  // The publisher hands 1.root.json to its users out of band; a CI job keeps it in its repository.
  mkdirSync(join(work, 'ci'));
  writeFileSync(join(work, 'ci', 'root.json'), readFileSync(join(metadataDir, '1.root.json')));
  say('  The CI job pins this root: ./ci/root.json is a copy of the published metadata/1.root.json');

  step(2, 'Publisher: sign three image digests (each tag -> sha256 and size of its manifest).');
  mkdirSync(join(work, 'manifests'));
  const tags = ['1.0', '1.1', '2.0'];
  const digests = {};
  for (const tag of tags) {
    const text = manifest(tag, `layer ${tag}`);
    writeFileSync(join(work, 'manifests', `${tag}.json`), text);
    digests[tag] = `sha256:${sha256(text)}`;
    const { stdout } = await tufa(`sign ${tag}`, [
      'sign',
      `${GUN}:${tag}`,
      '--manifest',
      `./manifests/${tag}.json`,
    ]);
    if (!stdout.includes(digests[tag]))
      throw new DemoFailure(`tufa sign did not sign ${tag} as ${digests[tag]}`);
  }

  step(3, 'Server: serve the published repositories read-only on 127.0.0.1.');
  const url = await serve('./published');

  step(4, 'CI job: verify a tag before deploying it (full TUF client workflow, root pinned).');
  await tufa('verify 1.1', [
    'verify',
    '--server',
    url,
    '--root',
    './ci/root.json',
    `${GUN}:1.1`,
    '--digest',
    digests['1.1'],
  ]);
  await tufa('list (verified)', ['list', GUN, '--server', url]);

  step(5, 'CI job: the registry hands out a different manifest for 1.1 -> digest mismatch, exit 4.');
  const evil = manifest('1.1', 'layer 1.1 with a backdoor');
  const evilDigest = `sha256:${sha256(evil)}`;
  await tufa('verify a wrong digest', ['verify', '--server', url, `${GUN}:1.1`, '--digest', evilDigest], {
    expect: 4,
  });

  step(6, 'Attacker with write access to the server: re-point 1.1 in the served targets metadata.');
  const targetsFile = currentTargetsFile(metadataDir);
  const original = readFileSync(targetsFile, 'utf8');
  const hex = digests['1.1'].slice('sha256:'.length);
  if (!original.includes(hex)) throw new DemoFailure(`${targetsFile} does not contain ${hex}`);
  writeFileSync(targetsFile, original.replace(hex, evilDigest.slice('sha256:'.length)));
  say(`  edited ${targetsFile.slice(work.length + 1)}: 1.1 -> ${evilDigest}`);
  say('  A new CI runner (empty cache) pins the same root and verifies the backdoored digest:');
  try {
    await tufa(
      'verify tampered metadata',
      ['verify', '--server', url, '--root', './ci/root.json', `${GUN}:1.1`, '--digest', evilDigest],
      { expect: 3, env: { TUFA_HOME: './runner-2' } },
    );
  } finally {
    writeFileSync(targetsFile, original);
  }
  say(`  restored ${targetsFile.slice(work.length + 1)}`);

  step(7, 'Publisher: rotate the targets key (root v2, signed with the offline root key).');
  await tufa('rotate targets key', ['key', 'rotate', GUN, 'targets', '--root-key', rootKey]);
  await tufa('status', ['status', GUN]);

  step(8, 'CI job: verify again. No --root needed: the cached client follows root v1 -> v2.');
  await tufa('verify after rotation', ['verify', '--server', url, `${GUN}:1.1`, '--digest', digests['1.1']]);
  await tufa('verify 2.0 after rotation', [
    'verify',
    '--server',
    url,
    `${GUN}:2.0`,
    '--digest',
    digests['2.0'],
  ]);
  // The client cache records every root version it accepted ($TUFA_HOME/trust/SERVER/GUN/chain.json).
  const trust = join(childEnv.TUFA_HOME, 'trust');
  const chains = readdirSync(trust).map((server) =>
    JSON.parse(
      readFileSync(join(trust, server, encodeURIComponent(GUN).replaceAll('.', '%2E'), 'chain.json'), 'utf8'),
    ),
  );
  const versions = Object.keys(chains[0] ?? {}).join(', ');
  if (chains.length !== 1 || versions !== '1, 2') {
    throw new DemoFailure(
      `the CI job's cache should trust root versions 1, 2 (found: ${versions || 'none'})`,
    );
  }
  say(`  The CI job's cache now trusts root versions ${versions}: it verified v2 with the keys of v1.`);
}

function summary() {
  say('\nSummary');
  for (const r of results) {
    say(
      `  ${r.ok ? 'ok  ' : 'FAIL'}  ${r.step.padEnd(28)} exit ${r.got}${r.ok && r.expected === 0 ? '' : ` (expected ${r.expected})`}`,
    );
  }
  say(`  ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

let exitCode = 0;
let interrupting = false;
const interrupted = async (signal) => {
  interrupting = true;
  await Promise.all(
    [...running].map((child) => {
      const closed = new Promise((r) => child.once('close', r));
      child.kill('SIGKILL');
      return closed;
    }),
  );
  await stopServer();
  cleanUp();
  process.stderr.write(`\ndemo interrupted (${signal}); cleaned up\n`);
  process.exit(130);
};
process.once('SIGINT', interrupted);
process.once('SIGTERM', interrupted);

try {
  await main();
  summary();
  say('\nAll steps behaved as expected: signed tags verify, a wrong digest and tampered metadata are');
  say('refused, and clients follow a key rotation signed by the offline root key.');
} catch (e) {
  if (!interrupting) {
    summary();
    process.stderr.write(`\ndemo FAILED: ${e instanceof DemoFailure ? e.message : (e?.stack ?? e)}\n`);
    exitCode = 1;
  }
} finally {
  await stopServer();
  cleanUp();
}
process.exitCode = exitCode;
