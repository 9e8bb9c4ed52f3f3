#!/usr/bin/env node
/**
 * Builds `tufa` as one executable that needs no Node.js (for CI images without it, as cosign
 * ships one binary): Bun's `bun build --compile` (bun is a devDependency) wraps the CLI bundle
 * (packages/cli/dist/tufa.mjs, scripts/bundle-cli.mjs) with the Bun runtime. `--bytecode`
 * stores the bundle precompiled, so a run starts without parsing 0.7 MB of JavaScript.
 * Why Bun and not Node's single-executable applications: docs/adr/0023-cli-bundle-and-standalone.md.
 *
 * For the machine it runs on only: a build for another OS or CPU would download that
 * platform's Bun. Hardware keys (PKCS#11) are not in it: pkcs11js is a native addon that a
 * single file cannot carry; the executable says so when a command needs it.
 *
 *   npm run build:standalone                      # npm run build, then packages/cli/standalone/tufa
 *   node scripts/build-standalone.mjs --outfile DIR/tufa   # from an existing bundle
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BUNDLE = join(ROOT, 'packages', 'cli', 'dist', 'tufa.mjs');
const BUN = join(ROOT, 'node_modules', '.bin', 'bun');
export const STANDALONE = join(ROOT, 'packages', 'cli', 'standalone', 'tufa');

export function buildStandalone(outfile = STANDALONE) {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run \`npm run build\` first`);
  if (!existsSync(BUN)) throw new Error(`${BUN} is missing: run \`npm ci\` (bun is a devDependency)`);
  mkdirSync(dirname(outfile), { recursive: true });
  execFileSync(
    BUN,
    ['build', '--compile', '--bytecode', '--format=esm', BUNDLE, '--outfile', outfile],
    // bun prints its progress on stdout: kept off ours, errors still shown. It works in the
    // current directory (temporary files): the output's, not the caller's.
    { stdio: ['ignore', 'ignore', 'inherit'], cwd: dirname(outfile) },
  );
  return outfile;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { outfile: { type: 'string' } } });
  process.stdout.write(`${buildStandalone(values.outfile ? resolve(values.outfile) : STANDALONE)}\n`);
}
