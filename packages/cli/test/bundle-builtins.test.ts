/**
 * The bundle loads the built-in modules only some commands use (https, tls, child_process,
 * readline) when a command first uses them, not at start (scripts/bundle-cli.mjs, LAZY_BUILTINS):
 * every `tufa verify` in CI pays for what loads at start. That the commands using them still work
 * is tested where they are used (cli-server over TLS, the agent's spawn, prompts).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ensureBundle } from './helpers/bundle.js';

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
