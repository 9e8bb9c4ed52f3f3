/**
 * Reproducible signed fixtures: a root and targets.json files with N container-tag targets,
 * signed with Ed25519 keys derived from fixed seeds (Ed25519 signing is deterministic, so the
 * files are byte-identical on every machine). Generated once into `.bench-out/` (gitignored)
 * and reused while the generator version and the files' hashes match.
 *
 * Layout: python-tuf's (`json.dumps(indent=1, sort_keys=True)`), the common case; with
 * `goOrder` the members of each target are written `length` before `hashes`, as go-tuf's
 * struct order does, which makes a one-pass canonicalizer reorder every target.
 */
import { createHash, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canonicalEncode } from './canonical.mjs';

export const ROOT_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OUT_DIR = join(ROOT_DIR, '.bench-out');

const GENERATOR_VERSION = 2;
const EXPIRES = '2100-01-01T00:00:00Z';
const SPEC_VERSION = '1.0.31';

function seed(label) {
  return createHash('sha256').update(`tufa-bench:${label}`).digest();
}

/** An Ed25519 key pair from a 32-byte seed (PKCS#8 prefix + seed). */
export function keyPairFromSeed(label) {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed(label)]);
  const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey(privateKey);
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url').toString('hex');
  const key = { keytype: 'ed25519', keyval: { public: pub }, scheme: 'ed25519' };
  const keyid = createHash('sha256').update(canonicalEncode(key)).digest('hex');
  return { privateKey, publicKey, key, keyid };
}

function envelope(signed, signer) {
  const sig = sign(null, canonicalEncode(signed), signer.privateKey).toString('hex');
  return { signatures: [{ keyid: signer.keyid, sig }], signed };
}

/** python-tuf's file layout: indent 1, `": "` after keys (keys already inserted sorted). */
function pretty(doc) {
  return Buffer.from(JSON.stringify(doc, null, 1));
}

export function targetPath(i) {
  return `registry.example.com/team/app-${i}:v${i}`;
}

function buildRoot(rootKey, targetsKey) {
  const role = (k) => ({ keyids: [k.keyid], threshold: 1 });
  const keys = Object.fromEntries(
    [rootKey, targetsKey].sort((a, b) => (a.keyid < b.keyid ? -1 : 1)).map((k) => [k.keyid, k.key]),
  );
  const signed = {
    _type: 'root',
    consistent_snapshot: true,
    expires: EXPIRES,
    keys,
    roles: {
      root: role(rootKey),
      snapshot: role(targetsKey),
      targets: role(targetsKey),
      timestamp: role(targetsKey),
    },
    spec_version: SPEC_VERSION,
    version: 1,
  };
  return envelope(signed, rootKey);
}

function buildTargets(n, targetsKey, goOrder) {
  // Map keys are sorted in both layouts (Go's encoding/json sorts map keys too).
  const paths = Array.from({ length: n }, (_, i) => targetPath(i)).sort();
  const targets = {};
  for (const p of paths) {
    const i = Number(p.slice(p.lastIndexOf(':v') + 2));
    const sha256 = createHash('sha256').update(`blob-${i}`).digest('hex');
    const length = 1024 + ((i * 7919) % 1_000_000);
    targets[p] = goOrder ? { length, hashes: { sha256 } } : { hashes: { sha256 }, length };
  }
  const signed = { _type: 'targets', expires: EXPIRES, spec_version: SPEC_VERSION, targets, version: 1 };
  return envelope(signed, targetsKey);
}

function sha256hex(b) {
  return createHash('sha256').update(b).digest('hex');
}

/**
 * Ensures `.bench-out/core/{root.json,targets-N.json}` exist for `sizes`; returns their paths.
 * Cross-checks the bench encoder against tufa's and @tufjs/canonical-json's once per file.
 */
export async function ensureCoreFixtures(sizes, { goOrder = false, log = () => {} } = {}) {
  const dir = join(OUT_DIR, 'core');
  mkdirSync(dir, { recursive: true });
  const manifestPath = join(dir, 'manifest.json');
  let manifest = { version: GENERATOR_VERSION, files: {} };
  if (existsSync(manifestPath)) {
    const m = JSON.parse(readFileSync(manifestPath, 'utf8'));
    if (m.version === GENERATOR_VERSION) manifest = m;
  }
  const fresh = (name) => {
    const p = join(dir, name);
    const want = manifest.files[name];
    return want !== undefined && existsSync(p) && sha256hex(readFileSync(p)) === want.sha256;
  };
  const rootKey = keyPairFromSeed('root');
  const targetsKey = keyPairFromSeed('targets');
  const write = (name, bytes) => {
    writeFileSync(join(dir, name), bytes);
    manifest.files[name] = { bytes: bytes.length, sha256: sha256hex(bytes) };
    writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  };
  if (!fresh('root.json')) write('root.json', pretty(buildRoot(rootKey, targetsKey)));
  const out = { dir, root: join(dir, 'root.json'), targets: {} };
  for (const n of sizes) {
    const name = `targets-${n}${goOrder ? '-go' : ''}.json`;
    if (!fresh(name)) {
      log(`generating ${name}`);
      const doc = buildTargets(n, targetsKey, goOrder);
      await crossCheck(doc.signed);
      write(name, pretty(doc));
    }
    out.targets[n] = join(dir, name);
  }
  return out;
}

/** The three canonical encoders the bench compares must agree byte for byte. */
async function crossCheck(signed) {
  const { canonicalBytes } = await import('../../packages/core/dist/index.js');
  const { canonicalize } = await import('@tufjs/canonical-json');
  const ours = Buffer.from(canonicalEncode(signed));
  if (!ours.equals(Buffer.from(canonicalBytes(signed))))
    throw new Error('bench encoder and tufa canonicalBytes differ');
  if (!ours.equals(Buffer.from(canonicalize(signed))))
    throw new Error('bench encoder and @tufjs/canonical-json differ');
}
