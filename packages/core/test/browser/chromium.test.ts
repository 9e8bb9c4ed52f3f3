/**
 * The client in headless Chromium (issue 16): Debian's /usr/bin/chromium driven by
 * puppeteer-core (no browser download), the client bundled by esbuild for the browser, the page
 * served from http://127.0.0.1:PORT (a secure context, so crypto.subtle exists), repositories
 * built here on the Node side and served by a loopback HTTP server. A table of cases, run in
 * the page and again in a module Web Worker. Under CI=true a missing chromium fails the test.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, type KeyKind } from '../../src/index-node.js';
import { NOW } from '../helpers/client.js';
import { Simulator } from '../helpers/simulator.js';

const CHROMIUM = '/usr/bin/chromium';
const present = existsSync(CHROMIUM);
if (!present && process.env['CI'] === 'true') {
  throw new Error(`${CHROMIUM} is missing: CI installs Debian's chromium (.ci/run)`);
}

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const sims = new Map<string, Simulator>();
let server: http.Server;
let base = '';
let bundle = '';
let browser: Browser;
let page: Page;

interface Outcome {
  ok: boolean;
  code?: string;
  message?: string;
  role?: string;
  content?: string;
  persisted?: boolean;
  secure?: boolean;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

async function keyedSim(kind: KeyKind): Promise<Simulator> {
  const sim = new Simulator();
  for (const role of ['root', 'timestamp', 'snapshot', 'targets']) {
    // RSA at 2048 bits: the size only costs time here; RSA-PSS signs with a 32-byte salt.
    sim.rotateKey(role, (await generateKeyPair(kind, { rsaBits: 2048 })).signer);
  }
  await sim.publishRoot();
  await sim.addTarget('app/1.0', `built with ${kind}`);
  await sim.publish();
  return sim;
}

/** What a case serves; `change` alters the repository between two runs of the same client. */
interface Case {
  name: string;
  make: () => Promise<Simulator>;
  target: string;
  first: Partial<Outcome>;
  change?: (sim: Simulator) => Promise<void> | void;
  second?: Partial<Outcome>;
}

const CASES: Case[] = [
  ...(['ed25519', 'ecdsa-p256', 'ecdsa-p384', 'rsa'] as const).map(
    (kind): Case => ({
      name: `keys-${kind}`,
      make: () => keyedSim(kind),
      target: 'app/1.0',
      first: { ok: true, role: 'targets', content: `built with ${kind}`, persisted: true, secure: true },
    }),
  ),
  {
    name: 'root-rotation',
    make: () => keyedSim('ed25519'),
    target: 'app/1.0',
    first: { ok: true },
    change: async (sim) => {
      const old = sim.signers.get('root') ?? [];
      const next = (await generateKeyPair('ecdsa-p256')).signer;
      sim.rotateKey('root', next);
      sim.root.version = 2;
      await sim.publishRoot([...old, next]); // 5.3.4/5.3.5: signed by the old and the new keys
      sim.timestamp.version += 1;
      await sim.publish();
    },
    second: { ok: true, content: 'built with ed25519' },
  },
  {
    name: 'rotation-without-old-keys',
    make: () => keyedSim('ed25519'),
    target: 'app/1.0',
    first: { ok: true },
    change: async (sim) => {
      const next = (await generateKeyPair('ed25519')).signer;
      sim.rotateKey('root', next);
      sim.root.version = 2;
      await sim.publishRoot([next]);
    },
    second: { ok: false, code: 'THRESHOLD' },
  },
  {
    // 5.4.3.2: the client trusts timestamp version 2; the server then serves version 1 again.
    name: 'rollback',
    make: async () => {
      const sim = await keyedSim('ed25519');
      const v1 = sim.files.get('metadata/timestamp.json') ?? new Uint8Array();
      sim.timestamp.version = 2;
      await sim.publish();
      sim.files.set('old-timestamp', v1);
      return sim;
    },
    target: 'app/1.0',
    first: { ok: true },
    change: (sim) => {
      sim.files.set('rollback-to', sim.files.get('old-timestamp') ?? new Uint8Array());
    },
    second: { ok: false, code: 'ROLLBACK' },
  },
  {
    name: 'tampered-target',
    make: async () => {
      const sim = await keyedSim('ed25519');
      for (const [path, bytes] of sim.files) {
        if (path.startsWith('targets/'))
          sim.files.set(
            path,
            bytes.map((b, i) => (i === 0 ? b ^ 1 : b)),
          );
      }
      return sim;
    },
    target: 'app/1.0',
    first: { ok: false, code: 'LENGTH_OR_HASH' },
  },
  {
    name: 'tampered-metadata',
    make: async () => {
      const sim = await keyedSim('ecdsa-p384');
      const ts = new TextDecoder().decode(sim.files.get('metadata/timestamp.json'));
      sim.files.set(
        'metadata/timestamp.json',
        new TextEncoder().encode(ts.replace('"version": 1', '"version": 9')),
      );
      return sim;
    },
    target: 'app/1.0',
    first: { ok: false, code: 'THRESHOLD' },
  },
  {
    name: 'delegation',
    make: async () => {
      const sim = await keyedSim('ed25519');
      sim.delegate('targets', 'team', { paths: ['team/*'] });
      sim.delegate('team', 'release', { paths: ['team/release-*'], terminating: true });
      await sim.addTarget('team/release-1', 'delegated twice', 'release');
      sim.targets.version += 1;
      sim.snapshot.version += 1;
      sim.timestamp.version += 1;
      await sim.publish();
      return sim;
    },
    target: 'team/release-1',
    first: { ok: true, role: 'release', content: 'delegated twice' },
  },
  {
    name: 'hash-bins',
    make: async () => {
      const sim = await keyedSim('ed25519');
      const path = 'bins/app.tar';
      const prefix = sha256(path).slice(0, 2);
      for (let i = 0; i < 16; i++) {
        const p = i.toString(16);
        sim.delegate('targets', `bin-${p}`, { path_hash_prefixes: [p] });
      }
      await sim.addTarget(path, 'in its bin', `bin-${prefix[0]}`);
      sim.targets.version += 1;
      sim.snapshot.version += 1;
      sim.timestamp.version += 1;
      await sim.publish();
      return sim;
    },
    target: 'bins/app.tar',
    first: { ok: true, content: 'in its bin' },
  },
];

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
  bundle = out.outputFiles[0]?.text ?? '';
  for (const c of CASES) sims.set(c.name, await c.make());
  server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><script type="module" src="/driver.js"></script>');
      return;
    }
    if (url === '/driver.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(bundle);
      return;
    }
    const m = /^\/case\/([^/]+)\/(.*)$/.exec(url);
    const sim = m ? sims.get(m[1] ?? '') : undefined;
    let file = sim?.files.get(decodeURIComponent(m?.[2] ?? ''));
    if (m?.[2] === 'metadata/timestamp.json' && sim?.files.has('rollback-to'))
      file = sim.files.get('rollback-to');
    res.writeHead(file ? 200 : 404, { 'access-control-allow-origin': '*' });
    res.end(file);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless=new', '--no-sandbox'],
  });
  page = await browser.newPage();
  await page.goto(`${base}/`);
  await page.waitForFunction('typeof window.tufaCase === "function"');
});

afterAll(async () => {
  await browser?.close();
  server?.closeAllConnections();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
});

let run = 0;
function input(c: Case, sim: Simulator, where: string) {
  return {
    db: `${where}-${c.name}-${run++}`,
    root: Buffer.from(sim.rootBytes(1)).toString('base64'),
    metadata: `${base}/case/${c.name}/metadata/`,
    targets: `${base}/case/${c.name}/targets/`,
    now: NOW.toISOString(),
    target: c.target,
  };
}

// Browser-side code as strings: this file is type-checked without DOM types.
const inPage = (arg: ReturnType<typeof input>): Promise<Outcome> =>
  page.evaluate(`window.tufaCase(${JSON.stringify(arg)})`) as Promise<Outcome>;

const inWorker = (arg: ReturnType<typeof input>): Promise<Outcome> =>
  page.evaluate(`new Promise((resolve, reject) => {
    const w = new Worker('/driver.js', { type: 'module' });
    w.onmessage = (e) => { resolve(e.data); w.terminate(); };
    w.onerror = (e) => reject(new Error(e.message));
    w.postMessage(${JSON.stringify(arg)});
  })`) as Promise<Outcome>;

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
          if (c.change) sims.set(c.name, await c.make());
          const fresh = sims.get(c.name) as Simulator;
          const arg = input(c, fresh, where);
          expect(await exec(arg)).toMatchObject(c.first);
          if (c.change) {
            await c.change(fresh);
            expect(await exec(arg)).toMatchObject(c.second ?? {});
          }
        });
      }
    });
  }
});
