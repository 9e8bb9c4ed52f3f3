#!/usr/bin/env node
/**
 * @tufa/core in a web page: makes a small TUF repository in memory (Ed25519 root, targets and
 * online keys), serves it with a page whose client is bundled by esbuild for the browser, and
 * prints the URL. With --check it opens the page in headless Chromium (Debian's
 * /usr/bin/chromium, through puppeteer-core), prints what the page concluded and exits.
 *
 *   npm run build && node examples/browser/serve.mjs          # then open the printed URL
 *   npm run build && node examples/browser/serve.mjs --check
 */
import { existsSync } from 'node:fs';
import * as http from 'node:http';
import { fileURLToPath } from 'node:url';
import {
  generateKeyPair,
  hashPrefixedTargetPath,
  hexDigest,
  MemoryRepositoryStorage,
  Repository,
  TargetFile,
} from '@tufa/core';
import { build } from 'esbuild';

// 1. A repository, published into memory.
const [root, targets, online] = await Promise.all([
  generateKeyPair('ed25519'),
  generateKeyPair('ecdsa-p256'),
  generateKeyPair('ed25519'),
]);
const storage = new MemoryRepositoryStorage();
const repo = await Repository.create(storage, {
  keys: { root: [root.key], targets: [targets.key], snapshot: [online.key], timestamp: [online.key] },
  signers: [root.signer, targets.signer, online.signer],
});
const hello = new TextEncoder().encode('Hello from a TUF repository!\n');
const sha256 = hexDigest('sha256', hello);
await repo.addTargets([new TargetFile('hello.txt', hello.length, new Map([['sha256', sha256]]))]);
await repo.publish();
// Targets are served under their hash-prefixed names (consistent snapshots).
const files = new Map(storage.files);
files.set(`targets/${hashPrefixedTargetPath('hello.txt', sha256)}`, hello);

// 2. The page's client, bundled for the browser (the portable entry, WebCrypto).
const bundle = await build({
  entryPoints: [fileURLToPath(new URL('./client.js', import.meta.url))],
  bundle: true,
  write: false,
  format: 'esm',
  platform: 'browser',
  minify: true,
  logLevel: 'silent',
});
const page =
  '<!doctype html><meta charset="utf-8"><title>tufa</title><p id="out">verifying…</p><script type="module" src="/client.js"></script>';

// 3. Served on loopback: http://127.0.0.1 is a secure context, so crypto.subtle exists.
const server = http.createServer((req, res) => {
  const url = req.url ?? '/';
  const send = (type, body) => {
    res.writeHead(200, { 'content-type': type });
    res.end(body);
  };
  if (url === '/') return send('text/html; charset=utf-8', page);
  if (url === '/client.js') return send('text/javascript', bundle.outputFiles[0].contents);
  if (url === '/trusted-root.json') return send('application/json', files.get('metadata/1.root.json'));
  const file = url.startsWith('/repo/') ? files.get(decodeURIComponent(url.slice(6))) : undefined;
  res.writeHead(file ? 200 : 404);
  res.end(file);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}/`;

if (!process.argv.includes('--check')) {
  console.log(`open ${base} (Ctrl-C stops the server)`);
} else {
  const chromium = '/usr/bin/chromium';
  if (!existsSync(chromium)) {
    console.log(`skipped: ${chromium} is not installed (apt-get install chromium)`);
    server.close();
    process.exit(0);
  }
  const { default: puppeteer } = await import('puppeteer-core');
  const browser = await puppeteer.launch({
    executablePath: chromium,
    args: ['--headless=new', '--no-sandbox'],
  });
  try {
    const tab = await browser.newPage();
    await tab.goto(base);
    await tab.waitForFunction(`!document.getElementById('out').textContent.startsWith('verifying')`);
    console.log(await tab.$eval('#out', (e) => e.textContent));
  } finally {
    await browser.close();
    server.closeAllConnections();
    server.close();
  }
}
