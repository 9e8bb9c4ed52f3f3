/**
 * `tufa completion bash|zsh|fish`: scripts generated from the command definitions. The bash one
 * is run in bash, completing real command lines; zsh reuses it through bashcompinit; fish's lines
 * are checked for shape (and by fish itself where it is installed).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, expectExit, Sandbox } from './helpers/cli.js';

const sandbox = new Sandbox('tufa-completion-');
let bashScript = '';
beforeAll(async () => {
  bashScript = expectExit(await sandbox.tufa(['completion', 'bash']), 0).stdout;
  writeFileSync(sandbox.path('tufa.bash'), bashScript);
});
afterAll(() => sandbox.cleanup());

/** What bash completes for the command line `words` (the last word being typed). */
function complete(...words: string[]): string[] {
  const script = `source ${JSON.stringify(sandbox.path('tufa.bash'))}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}
_tufa; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['--norc', '-c', script], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split('\n').filter((l) => l !== '');
}

describe('bash', () => {
  it('completes command words, group commands and flags', () => {
    expect(complete('tufa', 'ver')).toEqual(['verify']);
    expect(complete('tufa', 'key', 'g')).toEqual(['generate']);
    expect(complete('tufa', 'root', 's')).toEqual(['sign-request', 'sign']);
    expect(complete('tufa', 'verify', 'registry.example.com/app:1', '--di')).toEqual(['--digest']);
    expect(complete('tufa', '--json', 'status', 'g', '--wi')).toEqual(['--within']);
  });

  it('offers the global flags after a command, and nothing of other commands', () => {
    const flags = complete('tufa', 'list', '-');
    expect(flags).toEqual(expect.arrayContaining(['--server', '--json', '--debug', '--help']));
    expect(flags).not.toContain('--digest');
  });

  it("leaves a flag's value to the shell (files, URLs)", () => {
    expect(complete('tufa', 'verify', 'g', '--server', '')).toEqual([]);
  });

  it('is registered for the tufa command', () => {
    expect(bashScript).toMatch(/^complete -o default -F _tufa tufa$/m);
  });
});

describe('zsh and fish', () => {
  it('zsh runs the bash completion through bashcompinit', async () => {
    const zsh = expectExit(await sandbox.tufa(['completion', 'zsh']), 0).stdout;
    expect(zsh).toContain('autoload -U +X bashcompinit && bashcompinit\n');
    expect(zsh.endsWith(bashScript)).toBe(true);
  });

  it('fish: one complete line per command word and flag', async () => {
    const fish = expectExit(await sandbox.tufa(['completion', 'fish']), 0).stdout;
    const lines = fish.trimEnd().split('\n').slice(1);
    for (const l of lines)
      expect(l).toMatch(
        /^complete -c tufa -n '[^']*'( -f -a [a-z-]+| -l [a-z0-9-]+( -s [A-Za-z])?( -r)?| -s [A-Za-z]( -r)?) -d '.*'$/,
      );
    expect(lines).toContain(
      "complete -c tufa -n '__fish_seen_subcommand_from verify; and not __fish_seen_subcommand_from key notary delegation root agent' -l digest -s d -r -d 'exit 0 only if the tag is signed with this digest'",
    );
    const fishBin = spawnSync('fish', ['--version']);
    if (fishBin.error === undefined) {
      const check = spawnSync('fish', ['-n', '-c', fish], { encoding: 'utf8' });
      expect(check.status, check.stderr).toBe(0);
    }
  });

  it('an unknown shell is exit 2', async () => {
    expectError(
      await sandbox.tufa(['completion', 'powershell']),
      2,
      'no completion for "powershell": expected bash, zsh or fish',
      'tufa completion bash',
    );
  });
});
