/**
 * The client table in workerd, Cloudflare's Workers runtime (issue 16), run through miniflare 3
 * (its npm package ships the workerd binary; version 3 is the newest that supports Node 20). The
 * worker is bundled by esbuild with the `workerd` and `worker` conditions, as wrangler bundles
 * it, so it gets the portable entry and the WebCrypto backend; it fetches the repositories from
 * the loopback server on the Node side.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CASES, type CaseServer, type Outcome, serveCases } from '../helpers/client-cases.js';
import { checkSignedRepository, type Signed } from '../helpers/runtime-signing.js';

let cases: CaseServer;
let mf: Miniflare;

beforeAll(async () => {
  cases = await serveCases();
  const out = await build({
    entryPoints: [fileURLToPath(new URL('./worker.mjs', import.meta.url))],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    conditions: ['workerd', 'worker'],
    mainFields: ['module', 'main'],
    absWorkingDir: fileURLToPath(new URL('../../../../', import.meta.url)),
    logLevel: 'silent',
  });
  // A current compatibility date, as new workers get (navigator.userAgent exists since 2022).
  mf = new Miniflare({
    modules: true,
    compatibilityDate: '2025-07-01',
    script: out.outputFiles[0]?.text ?? '',
  });
});

afterAll(async () => {
  await mf?.dispose();
  await cases?.close();
});

describe('the client table in workerd', () => {
  it('every case gives the expected outcome, with the portable entry', async () => {
    for (const c of CASES) if (c.change) await cases.reset(c);
    const inputs = CASES.map((c) => ({ ...cases.input(c, 'workerd'), twoRuns: c.change !== undefined }));
    const res = await mf.dispatchFetch('http://worker.test/', {
      method: 'POST',
      body: JSON.stringify({ base: cases.base, inputs }),
    });
    const out = (await res.json()) as {
      entry: string;
      results: Record<string, { first: Outcome; second?: Outcome }>;
    };
    expect(out.entry).toBe('portable');
    for (const c of CASES) {
      const r = out.results[c.name];
      expect(r?.first, `${c.name} (first run): ${r?.first.message ?? ''}`).toMatchObject(c.first);
      if (c.change)
        expect(r?.second, `${c.name} (second run): ${r?.second?.message ?? ''}`).toMatchObject(
          c.second ?? {},
        );
    }
  });
});

describe('signing in workerd', () => {
  it('a repository built there with non-extractable keys of every scheme verifies in Node', async () => {
    const res = await mf.dispatchFetch('http://worker.test/sign', { method: 'POST' });
    await checkSignedRepository((await res.json()) as Signed, 'non-extractable');
  });
});
