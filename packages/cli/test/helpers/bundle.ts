/**
 * The `tufa` the CLI tests run: what users run. By default that is the published bin
 * (`packages/cli/bin/tufa.js`) run by this Node.js, which runs the CommonJS bundle
 * (`dist/tufa.cjs`) with its V8 code cache (scripts/bundle-cli.mjs, scripts/code-cache.mjs); with
 * `TUFA_TEST_BIN=/path/to/tufa` it is that executable (the standalone build,
 * standalone.test.ts). Nothing here imports CLI modules.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const REPO_ROOT = resolve(CLI_DIR, '..', '..');
/** What `tsc -b` writes for the CLI: the bundle's input. */
export const ENTRY = join(CLI_DIR, 'dist', 'bin.js');
export const BUNDLE = join(CLI_DIR, 'dist', 'tufa.mjs');
/** The CommonJS bundle the published bin runs, and the V8 code cache it compiles it with. */
export const CJS_BUNDLE = join(CLI_DIR, 'dist', 'tufa.cjs');
export const CODE_CACHE = `${CJS_BUNDLE}.cache`;
/** The published bin: `tufa` as npm links it. */
export const PUBLISHED_BIN = join(CLI_DIR, 'bin', 'tufa.js');
/** The Docker CLI plugin's bundle (`docker-tufa`), made by the same script. */
export const DOCKER_BUNDLE = join(CLI_DIR, 'dist', 'docker-tufa.mjs');
export const BUNDLE_SCRIPT = join(REPO_ROOT, 'scripts', 'bundle-cli.mjs');

/** The newest modification time of the .js files `tsc -b` wrote for the packages the CLI bundles. */
function newestBuildOutput(): number {
  let newest = 0;
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith('.js')) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const pkg of readdirSync(join(REPO_ROOT, 'packages'))) {
    const dist = join(REPO_ROOT, 'packages', pkg, 'dist');
    if (existsSync(dist)) walk(dist);
  }
  return newest;
}

/**
 * Makes sure the bundle holds the current build: after a `tsc -b` that changed something (the
 * usual step before a targeted test run), it is rebuilt here, as `npm run build` would, so a
 * test never runs yesterday's CLI. The script writes atomically: test workers that rebuild at the
 * same time each see a whole file. Returns the published bin, which runs it.
 */
export function ensureBundle(): string {
  if (!existsSync(ENTRY)) {
    throw new Error(`${ENTRY} is missing: build first with \`npm run build\` in the repository root`);
  }
  const built = [BUNDLE, DOCKER_BUNDLE, CJS_BUNDLE, CODE_CACHE].map((f) =>
    existsSync(f) ? statSync(f).mtimeMs : 0,
  );
  if (Math.min(...built) < newestBuildOutput()) {
    execFileSync(process.execPath, [BUNDLE_SCRIPT], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  return PUBLISHED_BIN;
}

/** `TUFA_TEST_BIN`: an executable to test instead of the bundle (read before tests clear TUFA_*). */
export const STANDALONE: string | undefined = process.env['TUFA_TEST_BIN'] || undefined;
if (STANDALONE !== undefined && !existsSync(STANDALONE)) {
  throw new Error(`TUFA_TEST_BIN names ${STANDALONE}, which does not exist`);
}

/** The program and arguments that run `tufa ARGS` under test. */
export function tufaCommand(args: readonly string[]): { command: string; args: string[] } {
  if (STANDALONE !== undefined) return { command: STANDALONE, args: [...args] };
  return { command: process.execPath, args: [PUBLISHED_BIN, ...args] };
}
