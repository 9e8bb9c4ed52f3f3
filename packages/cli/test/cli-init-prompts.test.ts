/**
 * `tufa init` on a terminal asks for each new key's passphrase once (typed twice), never again
 * to unlock the key it just made; and a failure part-way (passphrases that differ, a given key
 * that will not unlock) leaves no key behind, so `init` can simply be run again.
 *
 * The terminal is real: util-linux `script` runs the CLI on a pseudo-terminal, and the test
 * answers each prompt as it appears (never by timing).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, expectExit, Sandbox } from './helpers/cli.js';

const sandbox = new Sandbox('tufa-init-prompts-');
afterAll(() => sandbox.cleanup());

const PROMPT = /(Passphrase for [^\r\n]*: |Repeat the passphrase: )/g;

function terminalEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('TUFA_') && !k.startsWith('VITEST') && k !== 'NODE_OPTIONS') env[k] = v;
  }
  return { ...env, TUFA_HOME: sandbox.home, TUFA_SCRYPT_N: '1024', NO_COLOR: '1' };
}

/**
 * Runs `tufa ARGS` on a pseudo-terminal, answering the n-th prompt with answers[n]; resolves to
 * the exit code and the prompts seen, in order.
 */
function onTerminal(
  args: string[],
  answers: string[],
): Promise<{ code: number | null; prompts: string[]; output: string }> {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  return new Promise((done, fail) => {
    const child = spawn('script', ['-qfec', quoted, '/dev/null'], { cwd: sandbox.dir, env: terminalEnv() });
    let output = '';
    const prompts: string[] = [];
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const seen = [...output.matchAll(PROMPT)].map((m) => m[1] as string);
      while (prompts.length < seen.length) {
        const answer = answers[prompts.length] ?? 'unexpected-prompt';
        prompts.push(seen[prompts.length] as string);
        child.stdin.write(`${answer}\r`);
      }
    });
    child.on('error', fail);
    child.on('close', (code) => done({ code, prompts, output }));
  });
}

const PW = 'typed-Passphrase-2468';

describe('tufa init on a terminal', () => {
  it('asks twice per new key (new, repeat) and never to unlock a key it just made', async () => {
    const gun = 'registry.example.com/team/prompted';
    const r = await onTerminal(
      ['init', gun, '--publish-root', 'pub', '--root-key-out', 'offline'],
      Array(8).fill(PW),
    );
    expect(r.code, r.output).toBe(0);
    expect(r.prompts).toHaveLength(8);
    expect(r.prompts.filter((p) => p.startsWith('Repeat'))).toHaveLength(4);
    // What was typed is what the keys are encrypted with.
    expectExit(
      await sandbox.tufa(['sign', `${gun}:1`, '--digest', `sha256:${'1'.repeat(64)}`, '--size', '1'], {
        env: { TUFA_PASSPHRASE: PW },
      }),
      0,
    );
  });

  it('passphrases that differ at the third key leave no key behind; init then runs again', async () => {
    const gun = 'registry.example.com/team/mistyped';
    const keysBefore = readdirSync(sandbox.path('home', 'keys')).sort();
    const r = await onTerminal(
      ['init', gun, '--publish-root', 'pub', '--root-key-out', 'offline-2'],
      [PW, PW, PW, PW, PW, 'a-Different-one-1357'],
    );
    expect(r.code, r.output).toBe(6);
    expect(r.output).toContain('the two passphrases differ');
    expect(readdirSync(sandbox.path('home', 'keys')).sort()).toEqual(keysBefore);
    expect(existsSync(sandbox.path('offline-2', 'root-registry-example-com-team-mistyped.json'))).toBe(false);
    expectExit(
      await sandbox.tufa(['init', gun, '--publish-root', 'pub', '--root-key-out', 'offline-2'], {
        env: { TUFA_PASSPHRASE: PW },
      }),
      0,
    );
  });
});

describe('tufa init without a terminal', () => {
  it('a given key that will not unlock leaves no generated root key behind', async () => {
    const gun = 'registry.example.com/team/given';
    expectExit(
      await sandbox.tufa(['key', 'generate', 'given-targets'], {
        env: { TUFA_PASSPHRASE: 'given-Passphrase-1' },
      }),
      0,
    );
    const args = [
      'init',
      gun,
      '--publish-root',
      'pub',
      '--root-key-out',
      'offline-3',
      '--targets-key',
      'given-targets',
    ];
    expectExit(await sandbox.tufa(args, { env: { TUFA_PASSPHRASE: PW } }), 6);
    expect(readdirSync(sandbox.path('offline-3'))).toEqual([]);
    expectExit(
      await sandbox.tufa(args, {
        env: { TUFA_PASSPHRASE: PW, TUFA_PASSPHRASE_GIVEN_TARGETS: 'given-Passphrase-1' },
      }),
      0,
    );
  });
});
