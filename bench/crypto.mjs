// Crypto backend benchmark (docs/adr/0003-crypto-backend.md): node:crypto against @noble in
// the same run. Prints ops/s or MB/s and ratios; nothing here asserts on time.
//   node bench/crypto.mjs            (after `npm run build`, also measures Key.verify itself)
import { createHash, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as ed from '@noble/ed25519';
import { sha256 as nobleSha256, sha512 as nobleSha512 } from '@noble/hashes/sha2.js';

ed.hashes.sha512 = nobleSha512;

const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);

/** Runs `fn` (sync or async) repeatedly for SECONDS after a short warm-up; returns calls per second. */
async function rate(fn) {
  const run = async (ms) => {
    let n = 0;
    const start = performance.now();
    let now = start;
    while (now - start < ms) {
      for (let i = 0; i < 16; i++) {
        const r = fn();
        if (r instanceof Promise) await r;
      }
      n += 16;
      now = performance.now();
    }
    return (n * 1000) / (now - start);
  };
  await run(200);
  return run(SECONDS * 1000);
}

const fmt = (x) => Math.round(x).toLocaleString('en-US');
const rows = [];
function report(name, value, unit, base) {
  const ratio = base === undefined ? '' : `  (${(value / base).toFixed(2)}x)`;
  rows.push(`${name.padEnd(52)} ${fmt(value).padStart(10)} ${unit}${ratio}`);
  console.log(rows.at(-1));
}

// --- Ed25519 verify, 300-byte message (a small metadata file's signed part) -----------------
const msg = new Uint8Array(300).fill(7);
const { publicKey, privateKey } = generateKeyPairSync('ed25519');
const sig = sign(null, msg, privateKey);
const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url');
const spki = publicKey.export({ type: 'spki', format: 'der' });

console.log(`node ${process.version}, OpenSSL ${process.versions.openssl}, ${SECONDS}s per row\n`);
const nodeCached = await rate(() => verify(null, msg, publicKey, sig));
report('ed25519 verify: node:crypto, cached KeyObject', nodeCached, 'ops/s');
const nodeRebuilt = await rate(() =>
  verify(null, msg, createPublicKey({ key: spki, format: 'der', type: 'spki' }), sig),
);
report('ed25519 verify: node:crypto, KeyObject per call', nodeRebuilt, 'ops/s', nodeCached);
const nobleSync = await rate(() => ed.verify(sig, msg, raw, { zip215: false }));
report('ed25519 verify: @noble/ed25519 sync (zip215 off)', nobleSync, 'ops/s', nodeCached);
const nobleAsync = await rate(() => ed.verifyAsync(sig, msg, raw, { zip215: false }));
report('ed25519 verify: @noble/ed25519 async (WebCrypto sha512)', nobleAsync, 'ops/s', nodeCached);

const hexPub = raw.toString('hex');
const check = await rate(() => {
  const p = ed.Point.fromHex(hexPub, false);
  return p.isSmallOrder() || !p.isTorsionFree();
});
report('ed25519 key check (decode, small order, torsion), once per key', check, 'ops/s');

const dist = new URL('../packages/core/dist/crypto/index.js', import.meta.url);
if (existsSync(dist)) {
  const { Key } = await import(dist.href);
  const key = Key.fromJSON({ keytype: 'ed25519', scheme: 'ed25519', keyval: { public: hexPub } }, 'key');
  const sigHex = sig.toString('hex');
  const viaKey = await rate(() => key.verify(msg, sigHex));
  report('ed25519 verify: tufa Key.verify (hex decode, S < L, await)', viaKey, 'ops/s', nodeCached);
} else {
  console.log('(packages/core/dist not built: Key.verify not measured)');
}

// --- ECDSA and RSA verify with cached KeyObjects, for reference ------------------------------
for (const [name, type, opts, hash] of [
  ['ecdsa P-256 verify: node:crypto, cached', 'ec', { namedCurve: 'P-256' }, 'sha256'],
  ['ecdsa P-384 verify: node:crypto, cached', 'ec', { namedCurve: 'P-384' }, 'sha384'],
  ['rsa-pss 3072 verify: node:crypto, cached', 'rsa', { modulusLength: 3072 }, 'sha256'],
]) {
  const kp = generateKeyPairSync(type, opts);
  const s = sign(hash, msg, kp.privateKey);
  report(name, await rate(() => verify(hash, msg, kp.publicKey, s)), 'ops/s');
}

// --- SHA-256 throughput over a 16 MiB buffer (a large target file) ---------------------------
console.log('');
const big = new Uint8Array(16 * 1024 * 1024).fill(1);
const mb = big.length / 1e6;
const nodeHash = (await rate(() => createHash('sha256').update(big).digest())) * mb;
report('sha256: node:crypto', nodeHash, 'MB/s');
const nobleHash = (await rate(() => nobleSha256(big))) * mb;
report('sha256: @noble/hashes', nobleHash, 'MB/s', nodeHash);

console.log(
  `\nratios: node cached / noble ed25519 verify = ${(nodeCached / nobleSync).toFixed(1)}x; ` +
    `cached / per-call KeyObject = ${(nodeCached / nodeRebuilt).toFixed(1)}x; ` +
    `node / noble sha256 = ${(nodeHash / nobleHash).toFixed(1)}x`,
);
