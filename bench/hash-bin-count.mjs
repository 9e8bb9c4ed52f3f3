/**
 * How many hash bins for N tags (ADR 0025): bytes, not time. For each N and bit length, builds a
 * repository in memory with tufa's Repository (N tags as `tufa sign --bulk` gives them: a tag, a
 * sha256, a size), moves them into 2^bits bins, publishes, and reports the bytes of snapshot.json
 * and of one bin. A client's update after one tag changed fetches timestamp + snapshot + that
 * bin; a publisher adding one tag re-signs and writes the same three files. So the figure to
 * keep small is snapshot + one bin.
 *
 * Usage: node bench/hash-bin-count.mjs [N ...]   (default 1000 10000 100000)
 * Needs `npx tsc -b` first (imports the built @tufa/core).
 */
import { createHash } from 'node:crypto';
import {
  defaultBitLength,
  Key,
  MemoryRepositoryStorage,
  PrivateKeySigner,
  Repository,
  TargetFile,
} from '@tufa/core';
import { keyPairFromSeed } from './lib/fixtures.mjs';

const sizes = process.argv.slice(2).map(Number);
const NS = sizes.length > 0 ? sizes : [1000, 10_000, 100_000];

const pair = (label) => {
  const kp = keyPairFromSeed(`hash-bin-count-${label}`);
  const key = Key.fromPublicKeyObject(kp.publicKey);
  return { key, signer: new PrivateKeySigner(kp.privateKey, key) };
};
const keys = {
  root: pair('root'),
  targets: pair('targets'),
  snapshot: pair('snapshot'),
  timestamp: pair('timestamp'),
};
const signers = Object.values(keys).map((k) => k.signer);
const NOW = new Date('2026-01-01T00:00:00Z');

function target(i) {
  const hex = createHash('sha256').update(`image-${i}`).digest('hex');
  return new TargetFile(`app-${i}:v${i}`, 1024 + ((i * 7919) % 100_000), new Map([['sha256', hex]]));
}

async function measure(n, bits) {
  const storage = new MemoryRepositoryStorage();
  const repo = await Repository.create(storage, {
    keys: {
      root: [keys.root.key],
      targets: [keys.targets.key],
      snapshot: [keys.snapshot.key],
      timestamp: [keys.timestamp.key],
    },
    signers,
    now: () => NOW,
  });
  await repo.addTargets(Array.from({ length: n }, (_, i) => target(i)));
  const bins = await repo.useHashBins({ keys: [keys.targets.key], bitLength: bits });
  await repo.publish();
  const bytes = (name) => storage.files.get(`metadata/${name}`)?.length ?? 0;
  const binBytes = bins.map((b) => bytes(`1.${b}.json`));
  const meanBin = binBytes.reduce((a, b) => a + b, 0) / binBytes.length;
  const snapshot = bytes('1.snapshot.json');
  return {
    n,
    bits,
    bins: bins.length,
    snapshot,
    meanBin: Math.round(meanBin),
    maxBin: Math.max(...binBytes),
    perUpdate: Math.round(snapshot + meanBin + bytes('timestamp.json')),
  };
}

const kb = (b) => `${(b / 1024).toFixed(1)} KB`;
console.log(
  '| N | bits | bins | snapshot | mean bin | max bin | per update (timestamp + snapshot + bin) | default |',
);
console.log('|---:|---:|---:|---:|---:|---:|---:|:---:|');
for (const n of NS) {
  const best = defaultBitLength(n);
  const results = [];
  for (let bits = Math.max(1, best - 4); bits <= Math.min(16, best + 4); bits++)
    results.push(await measure(n, bits));
  const min = Math.min(...results.map((r) => r.perUpdate));
  for (const r of results) {
    console.log(
      `| ${n} | ${r.bits} | ${r.bins} | ${kb(r.snapshot)} | ${kb(r.meanBin)} | ${kb(r.maxBin)} | ${kb(r.perUpdate)}${r.perUpdate === min ? ' (least)' : ''} | ${r.bits === best ? '←' : ''} |`,
    );
  }
}
