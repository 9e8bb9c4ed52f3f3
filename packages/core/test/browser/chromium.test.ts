/**
 * The client in headless Chromium (issue 16): Debian's /usr/bin/chromium driven by
 * puppeteer-core (no browser download), the client bundled by esbuild for the browser, the page
 * served from http://127.0.0.1:PORT (a secure context, so crypto.subtle exists), repositories
 * built here on the Node side and served by a loopback HTTP server. A table of cases, run in
 * the page and again in a module Web Worker. Under CI=true a missing chromium fails the test.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CASES, type CaseInput, type CaseServer, type Outcome, serveCases } from '../helpers/client-cases.js';
import { checkSignedRepository, type Signed } from '../helpers/runtime-signing.js';

const CHROMIUM = '/usr/bin/chromium';
const present = existsSync(CHROMIUM);
if (!present && process.env['CI'] === 'true') {
  throw new Error(`${CHROMIUM} is missing: CI installs Debian's chromium (.ci/run)`);
}

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
let cases: CaseServer;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!present) return;
  const out = await build({
    entryPoints: [fileURLToPath(new URL('./driver.js', import.meta.url))],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    absWorkingDir: repoRoot,
    logLevel: 'silent',
  });
  const bundle = out.outputFiles[0]?.text ?? '';
  cases = await serveCases((url, res) => {
    if (url === '/') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><script type="module" src="/driver.js"></script>');
      return true;
    }
    if (url === '/driver.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(bundle);
      return true;
    }
    return false;
  });
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless=new', '--no-sandbox'],
  });
  page = await browser.newPage();
  await page.goto(`${cases.base}/`);
  await page.waitForFunction('typeof window.tufaCase === "function"');
});

afterAll(async () => {
  await browser?.close();
  await cases?.close();
});

// Browser-side code as strings: this file is type-checked without DOM types.
const inPage = (arg: CaseInput): Promise<Outcome> =>
  page.evaluate(`window.tufaCase(${JSON.stringify(arg)})`) as Promise<Outcome>;

const inWorker = (arg: CaseInput): Promise<Outcome> =>
  page.evaluate(`new Promise((resolve, reject) => {
    const w = new Worker('/driver.js', { type: 'module' });
    w.onmessage = (e) => { resolve(e.data); w.terminate(); };
    w.onerror = (e) => reject(new Error(e.message));
    w.postMessage(${JSON.stringify(arg)});
  })`) as Promise<Outcome>;

const signInPage = (): Promise<Signed> => page.evaluate('window.tufaSign()') as Promise<Signed>;

const signInWorker = (): Promise<Signed> =>
  page.evaluate(`new Promise((resolve, reject) => {
    const w = new Worker('/driver.js', { type: 'module' });
    w.onmessage = (e) => { resolve(e.data); w.terminate(); };
    w.onerror = (e) => reject(new Error(e.message));
    w.postMessage('sign');
  })`) as Promise<Signed>;

describe.skipIf(!present)('signing in headless Chromium', () => {
  it.each([
    ['page', signInPage],
    ['worker', signInWorker],
  ] as const)(
    'a repository built in a %s with non-extractable keys of every scheme verifies in Node',
    async (_w, exec) => {
      await checkSignedRepository(await exec(), 'non-extractable');
    },
  );
});

describe.skipIf(!present)('the client in headless Chromium', () => {
  // Sequential: the two-run cases change their repository between runs.
  for (const [where, exec] of [
    ['page', inPage],
    ['worker', inWorker],
  ] as const) {
    describe(`in a ${where}`, () => {
      for (const c of CASES) {
        it(c.name, async () => {
          // Each place gets a fresh repository for the two-run cases (the first place changed it).
          if (c.change) await cases.reset(c);
          const arg = cases.input(c, where);
          const first = await exec(arg);
          expect(first).toMatchObject(c.first);
          // http://127.0.0.1 is a secure context, so WebCrypto exists (failures report no flag).
          if (first.ok) expect(first.secure).toBe(true);
          if (c.change) {
            await cases.change(c);
            expect(await exec(arg)).toMatchObject(c.second ?? {});
          }
        });
      }
    });
  }
});
