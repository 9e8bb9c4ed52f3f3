/**
 * The client test table under Deno and Bun (issue 16), installed by the `deno` and `bun` npm
 * packages. Deno resolves @tufa/core to the portable entry (WebCrypto backend, the `deno`
 * export condition); Bun to the Node flavour (node:crypto, the `bun` condition). The
 * repositories are built and served here, on the Node side. Under CI=true a runtime that does
 * not start fails the test.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CASES, type CaseServer, type Outcome, serveCases } from '../helpers/client-cases.js';
import { checkSignedRepository, type Signed } from '../helpers/runtime-signing.js';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const driver = fileURLToPath(new URL('./driver.mjs', import.meta.url));
const bin = (name: string) => `${repoRoot}node_modules/.bin/${name}`;

// What holds the generated private keys: WebCrypto's non-extractable CryptoKeys on the portable
// entry, node KeyObjects on the Node flavour (Bun; its own CryptoKey is still WebCrypto's).
const HELD = { deno: 'non-extractable', bun: 'other' } as const;

const RUNTIMES = [
  // No file-system writes, network to loopback only: the driver needs nothing else.
  ['deno', 'portable', [bin('deno'), 'run', '--allow-net=127.0.0.1', '--allow-read', '--allow-env', driver]],
  ['bun', 'node', [bin('bun'), driver]],
] as const;

for (const [name, , [exe]] of RUNTIMES) {
  if (!existsSync(exe) && process.env['CI'] === 'true') {
    throw new Error(`${exe} is missing: the ${name} npm package (a devDependency) installs it`);
  }
}

let cases: CaseServer;
beforeAll(async () => {
  cases = await serveCases();
});
afterAll(async () => {
  await cases?.close();
});

describe.each(RUNTIMES)('the client table under %s', (name, entry, [exe, ...args]) => {
  it.skipIf(!existsSync(exe))('every case gives the expected outcome', async () => {
    for (const c of CASES) if (c.change) await cases.reset(c);
    const inputs = CASES.map((c) => ({ ...cases.input(c, name), twoRuns: c.change !== undefined }));
    const { stdout } = await run(exe, [...args, JSON.stringify({ base: cases.base, inputs })], {
      cwd: repoRoot,
      env: { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' },
      maxBuffer: 16 << 20,
    });
    const out = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
      entry: string;
      results: Record<string, { first: Outcome; second?: Outcome }>;
    };
    expect(out.entry).toBe(entry); // the export condition of this runtime picked this entry
    const results = out.results;
    for (const c of CASES) {
      const r = results[c.name];
      expect(r?.first, `${c.name} (first run): ${r?.first.message ?? ''}`).toMatchObject(c.first);
      if (c.change)
        expect(r?.second, `${c.name} (second run): ${r?.second?.message ?? ''}`).toMatchObject(
          c.second ?? {},
        );
    }
  });
});

describe.each(RUNTIMES)('signing under %s', (name, _entry, [exe, ...args]) => {
  it.skipIf(!existsSync(exe))(
    'a repository built there with keys of every scheme verifies in Node',
    async () => {
      const { stdout } = await run(exe, [...args, 'sign'], {
        cwd: repoRoot,
        env: { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' },
        maxBuffer: 16 << 20,
      });
      const out = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Signed;
      await checkSignedRepository(out, HELD[name]);
    },
  );
});
