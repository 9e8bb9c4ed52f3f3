// Refresh + look-up over 10,000 targets: the client in headless Chromium (the portable entry,
// WebCrypto + @noble/hashes, bundled by esbuild) against the same client in Node (node:crypto),
// both over FetchFetcher from one loopback server, a fresh client per run (issue 16).
// Usage: npx tsc -b && node bench/browser-client.mjs [targets] [runs]
import * as http from 'node:http';
import { fileURLToPath } from 'node:url';
import {
  FetchFetcher,
  generateKeyPair,
  hexDigest,
  MemoryMetadataStore,
  MemoryRepositoryStorage,
  Repository,
  TargetFile,
  Updater,
} from '@tufa/core';
import { build } from 'esbuild';
import puppeteer from 'puppeteer-core';

const N = Number(process.argv[2] ?? 10_000);
const RUNS = Number(process.argv[3] ?? 5);
const pairs = await Promise.all([0, 1, 2].map(() => generateKeyPair('ed25519')));
const storage = new MemoryRepositoryStorage();
const repo = await Repository.create(storage, {
  keys: {
    root: [pairs[0].key],
    targets: [pairs[1].key],
    snapshot: [pairs[2].key],
    timestamp: [pairs[2].key],
  },
  signers: pairs.map((p) => p.signer),
});
const targets = [];
for (let i = 0; i < N; i++) {
  const path = `app/${i}.tar`;
  targets.push(
    new TargetFile(path, 100 + i, new Map([['sha256', hexDigest('sha256', new TextEncoder().encode(path))]])),
  );
}
await repo.addTargets(targets);
await repo.publish();
const root = storage.files.get('metadata/1.root.json');
const lookup = `app/${N - 1}.tar`;

const driver = `
import { FetchFetcher, MemoryMetadataStore, Updater } from '@tufa/core';
window.timeClient = async (base, rootB64, target) => {
  const store = new MemoryMetadataStore();
  await store.write('root', Uint8Array.from(atob(rootB64), (c) => c.charCodeAt(0)));
  const t0 = performance.now();
  const u = new Updater({ metadataBaseUrl: base + 'metadata/', targetBaseUrl: base + 'targets/', fetcher: new FetchFetcher(), store });
  await u.refresh();
  const info = await u.getTargetInfo(target);
  if (!info) throw new Error('not found');
  return performance.now() - t0;
};`;
const bundle = (
  await build({
    stdin: { contents: driver, resolveDir: fileURLToPath(new URL('..', import.meta.url)), loader: 'js' },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    minify: true,
  })
).outputFiles[0].contents;

const server = http.createServer((req, res) => {
  const url = req.url ?? '/';
  if (url === '/') return res.end('<!doctype html><script type="module" src="/c.js"></script>');
  if (url === '/c.js') {
    res.writeHead(200, { 'content-type': 'text/javascript' });
    return res.end(bundle);
  }
  const file = url.startsWith('/repo/') ? storage.files.get(url.slice(6)) : undefined;
  res.writeHead(file ? 200 : 404);
  res.end(file);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}/repo/`;

async function nodeRun() {
  const store = new MemoryMetadataStore();
  await store.write('root', root);
  const t0 = performance.now();
  const u = new Updater({
    metadataBaseUrl: `${base}metadata/`,
    targetBaseUrl: `${base}targets/`,
    fetcher: new FetchFetcher(),
    store,
  });
  await u.refresh();
  if (!(await u.getTargetInfo(lookup))) throw new Error('not found');
  return performance.now() - t0;
}

const browser = await puppeteer.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless=new', '--no-sandbox'],
});
const page = await browser.newPage();
await page.goto(base.replace('/repo/', '/'));
await page.waitForFunction('typeof window.timeClient === "function"');
const rootB64 = Buffer.from(root).toString('base64');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const nodeTimes = [];
const chromeTimes = [];
for (let i = 0; i < RUNS + 1; i++) {
  const n = await nodeRun();
  const c = await page.evaluate(
    `window.timeClient(${JSON.stringify(base)}, ${JSON.stringify(rootB64)}, ${JSON.stringify(lookup)})`,
  );
  if (i > 0) {
    nodeTimes.push(n);
    chromeTimes.push(c);
  }
}
await browser.close();
server.close();
const targetsBytes = [...storage.files].find(([p]) => /targets\.json$/.test(p))?.[1].length ?? 0;
console.log(`| ${N} targets (targets.json ${(targetsBytes / 1024).toFixed(0)} KB), median of ${RUNS} | ms |`);
console.log('|---|---|');
console.log(`| Node ${process.version} (node:crypto) | ${median(nodeTimes).toFixed(1)} |`);
console.log(`| Chromium (WebCrypto + noble) | ${median(chromeTimes).toFixed(1)} |`);
console.log(`| ratio Chromium / Node | ${(median(chromeTimes) / median(nodeTimes)).toFixed(2)} |`);
