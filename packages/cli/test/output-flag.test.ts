/**
 * `-o json` and `--output json` mean `--json` (src/output-flag.ts), except that `-o` stays the
 * `--out FILE` of the commands that declare it; and through the built binary, each spelling gives
 * the same JSON.
 */
import type { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../src/main.js';
import { COMMANDS_WITH_OWN_O, normalizeOutputFlag } from '../src/output-flag.js';
import { expectExit, Sandbox } from './helpers/cli.js';

const argv = (...args: string[]) => ['node', 'tufa', ...args];

describe('normalizeOutputFlag', () => {
  it.each<[string[], string[]]>([
    [
      ['-o', 'json', 'verify', 'g'],
      ['--json', 'verify', 'g'],
    ],
    [
      ['verify', 'g', '-o', 'json'],
      ['verify', 'g', '--json'],
    ],
    [
      ['verify', 'g', '-ojson'],
      ['verify', 'g', '--json'],
    ],
    [
      ['verify', 'g', '--output', 'json'],
      ['verify', 'g', '--json'],
    ],
    [
      ['verify', 'g', '--output=json'],
      ['verify', 'g', '--json'],
    ],
    [
      ['verify', 'g', '-o', 'text'],
      ['verify', 'g'],
    ],
    [
      ['verify', 'g', '--output=text'],
      ['verify', 'g'],
    ],
    // Not a format: left for the parser to refuse.
    [
      ['verify', 'g', '-o', 'yaml'],
      ['verify', 'g', '-o', 'yaml'],
    ],
    // Commands whose -o is --out FILE keep it, even for a file named json; --output still works.
    [
      ['key', 'generate', 'k', '-o', 'json'],
      ['key', 'generate', 'k', '-o', 'json'],
    ],
    [
      ['root', 'sign', 'r.json', '-o', 'json'],
      ['root', 'sign', 'r.json', '-o', 'json'],
    ],
    [
      ['key', 'generate', 'k', '--output', 'json'],
      ['key', 'generate', 'k', '--json'],
    ],
    // Before the command word it is always the global spelling.
    [
      ['-o', 'json', 'key', 'list'],
      ['--json', 'key', 'list'],
    ],
    [
      ['key', 'list', '-o', 'json'],
      ['key', 'list', '--json'],
    ],
  ])('%j → %j', (input, expected) => {
    expect(normalizeOutputFlag(argv(...input))).toEqual(argv(...expected));
  });

  it('COMMANDS_WITH_OWN_O is exactly the commands that declare -o', async () => {
    const program = await buildProgram(() => {});
    const found: string[] = [];
    const walk = (c: Command, path: string[]) => {
      for (const sub of c.commands) {
        const p = [...path, sub.name()];
        if (sub.options.some((o) => o.short === '-o')) found.push(p.join(' '));
        walk(sub, p);
      }
    };
    walk(program, []);
    expect(found.sort()).toEqual([...COMMANDS_WITH_OWN_O].sort());
  });
});

describe('through the binary', () => {
  const sandbox = new Sandbox('tufa-output-flag-');
  afterAll(() => sandbox.cleanup());

  it('every spelling prints the same JSON', async () => {
    const runs = await Promise.all(
      [['--json'], ['-o', 'json'], ['--output=json']].map((flag) => sandbox.tufa(['key', 'list', ...flag])),
    );
    for (const r of runs) expect(JSON.parse(expectExit(r, 0).stdout)).toEqual({ tufa: 1, keys: [] });
  });
});
