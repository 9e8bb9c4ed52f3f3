/**
 * A hash-binned repository of N tags (one million by default), built with tufa's core API
 * directly — `Repository`, `useHashBins`, `addTargets`, `publish` — into a publish directory laid
 * out as `tufa init --publish-root` lays it out (`DIR/<gun>/metadata/…`), so `tufa serve DIR`
 * serves it and `tufa verify --server` reads it. The layout is the one `tufa sign --bulk` makes
 * past its threshold (ADR 0025): `targets` delegates with `succinct_roles` to
 * `defaultBitLength(N)` bits of bins (1024 at 1M), signed with the targets key.
 *
 * Fixed key seeds (bench/lib/fixtures.mjs) and a fixed clock, so the files are the same on
 * every machine; built once and reused while `built.json` names the same N and version.
 *
 * Run as a script to build: node bench/lib/million.mjs DIR GUN N
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { keyPairFromSeed, ROOT_DIR } from './fixtures.mjs';

const CORE = pathToFileURL(join(ROOT_DIR, 'packages/core/dist/index-node.js')).href;
const CORE_NODE = pathToFileURL(join(ROOT_DIR, 'packages/core/dist/node/index.js')).href;
const LAYOUT_VERSION = 1;
const YEARS_10 = 10 * 365 * 86_400; // seconds

export const tagOf = (i) => `v${i}`;
export const digestOf = (i) => createHash('sha256').update(`manifest-${i}`).digest('hex');
export const sizeOf = (i) => 1024 + ((i * 7919) % 100_000);

/** The repository's directory under the publish root, and its first root.json. */
export function repositoryPaths(dir, gun) {
  const repo = join(dir, ...gun.split('/'));
  return { repo, root: join(repo, 'metadata', '1.root.json'), marker: join(dir, 'built.json') };
}

/** True when DIR already holds this repository (same N, same layout version). */
export function isBuilt(dir, gun, n) {
  const { marker, root } = repositoryPaths(dir, gun);
  if (!existsSync(marker) || !existsSync(root)) return false;
  try {
    const m = JSON.parse(readFileSync(marker, 'utf8'));
    return m.n === n && m.gun === gun && m.version === LAYOUT_VERSION;
  } catch {
    return false;
  }
}

/** Builds the repository (in this process). Returns what it wrote. */
export async function buildBinnedRepository(dir, gun, n) {
  const { Key, PrivateKeySigner, Repository, TargetFile, defaultBitLength } = await import(CORE);
  const { FsRepositoryStorage } = await import(CORE_NODE);
  const { repo, marker } = repositoryPaths(dir, gun);
  rmSync(dir, { recursive: true, force: true });
  const pair = (role) => {
    const kp = keyPairFromSeed(`million-${role}`);
    const key = Key.fromPublicKeyObject(kp.publicKey);
    return { key, signer: new PrivateKeySigner(kp.privateKey, key) };
  };
  const k = {
    root: pair('root'),
    targets: pair('targets'),
    snapshot: pair('snapshot'),
    timestamp: pair('timestamp'),
  };
  const t0 = performance.now();
  const repository = await Repository.create(new FsRepositoryStorage(repo), {
    keys: {
      root: [k.root.key],
      targets: [k.targets.key],
      snapshot: [k.snapshot.key],
      timestamp: [k.timestamp.key],
    },
    signers: Object.values(k).map((x) => x.signer),
    // Far-off expiry: the bench must not stop working when the wall clock moves on.
    expiry: {
      root: YEARS_10,
      targets: YEARS_10,
      snapshot: YEARS_10,
      timestamp: YEARS_10,
      delegated: YEARS_10,
    },
  });
  // The bins first, on an empty targets: each tag then goes straight to its bin.
  const bits = defaultBitLength(n);
  const bins = await repository.useHashBins({ keys: [k.targets.key], bitLength: bits });
  const targets = [];
  for (let i = 0; i < n; i++)
    targets.push(new TargetFile(tagOf(i), sizeOf(i), new Map([['sha256', digestOf(i)]])));
  await repository.addTargets(targets);
  const result = await repository.publish();
  const ms = performance.now() - t0;
  writeFileSync(marker, JSON.stringify({ n, gun, bits, bins: bins.length, version: LAYOUT_VERSION, ms }));
  return { bits, bins: bins.length, written: result.written.length, ms };
}

if (process.argv[1] && fileURLToPath(pathToFileURL(process.argv[1])) === fileURLToPath(import.meta.url)) {
  const [dir, gun, n] = process.argv.slice(2);
  const r = await buildBinnedRepository(dir, gun, Number(n));
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
