/**
 * The bundle loads the built-in modules only some commands use (https, tls, child_process,
 * readline) when a command first uses them, not at start (scripts/bundle-cli.mjs, LAZY_BUILTINS):
 * every `tufa verify` in CI pays for what loads at start. That the commands using them still work
 * is tested where they are used (cli-server over TLS, the agent's spawn, prompts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureBundle, PUBLISHED_BIN } from './helpers/bundle.js';

const REPORT =
  'data:text/javascript,process.on("exit",()=>process.stderr.write("\\nLOADED "+JSON.stringify(process.moduleLoadList)))';

/** The built-in modules a run of the bundle loaded (Node's own record of them). */
function builtinsLoaded(args: string[]): string[] {
  const r = spawnSync(process.execPath, ['--import', REPORT, ensureBundle(), ...args], {
    encoding: 'utf8',
    env: { ...process.env, TUFA_HOME: '/nonexistent-tufa-home' },
  });
  const line = r.stderr.split('\n').find((l) => l.startsWith('LOADED '));
  if (line === undefined) throw new Error(`no module list (exit ${r.status}): ${r.stderr}`);
  return (JSON.parse(line.slice('LOADED '.length)) as string[])
    .filter((m) => m.startsWith('NativeModule '))
    .map((m) => m.slice('NativeModule '.length));
}

describe('built-in modules the bundle loads at start', () => {
  it.each([[['--version']], [['verify', '--help']]])(
    'tufa %j loads no https, tls, child_process or readline',
    (args) => {
      const loaded = builtinsLoaded(args);
      expect(loaded).toContain('fs'); // the record is there
      for (const m of ['https', 'tls', 'child_process', 'readline', 'readline/promises']) {
        expect(loaded, m).not.toContain(m);
      }
    },
  );
});

describe('the published bin starts as CommonJS (bin/package.json)', () => {
  /**
   * The internal modules a run of the bin loaded, reported by a CommonJS preload (`--import`
   * would start the ES module loader itself).
   */
  function internalsLoaded(args: string[]): string[] {
    ensureBundle();
    const dir = mkdtempSync(join(tmpdir(), 'tufa-bin-loader-'));
    try {
      const report = join(dir, 'report.cjs');
      writeFileSync(
        report,
        'process.on("exit",()=>process.stderr.write("\\nLOADED "+JSON.stringify(process.moduleLoadList)))\n',
      );
      const r = spawnSync(process.execPath, ['-r', report, PUBLISHED_BIN, ...args], {
        encoding: 'utf8',
        env: { ...process.env, TUFA_HOME: join(dir, 'home') },
      });
      const line = r.stderr.split('\n').find((l) => l.startsWith('LOADED '));
      if (line === undefined) throw new Error(`no module list (exit ${r.status}): ${r.stderr}`);
      return JSON.parse(line.slice('LOADED '.length)) as string[];
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it.each([[['--version']], [['verify', '--help']]])(
    'tufa %j runs without the ES module loader (an ES module entry point costs every run ms)',
    (args) => {
      const loaded = internalsLoaded(args);
      expect(loaded).toContain('NativeModule vm'); // the code cache's loader ran
      for (const m of ['module_job', 'translators', 'get_format']) {
        expect(loaded, m).not.toContain(`NativeModule internal/modules/esm/${m}`);
      }
    },
  );
});
