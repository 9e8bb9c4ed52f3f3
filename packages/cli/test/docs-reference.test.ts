/**
 * docs/cli.md is the reference: every command, every option `--help` shows and every `TUFA_*`
 * variable the code reads is in it, and it names no command, option or variable that does not
 * exist (a reference that documents a removed flag misleads as much as one that omits a new one).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../src/main.js';
import { CLI_DIR } from './helpers/cli.js';

const ROOT = join(CLI_DIR, '..', '..');
const DOC = readFileSync(join(ROOT, 'docs', 'cli.md'), 'utf8');
/** Variables that are not for users: a hook the crash tests use to kill tufa at a given step. */
const NOT_FOR_USERS = new Set(['TUFA_TEST_ONLY_KILL_AT']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

/** `TUFA_*` names in a text (a documentation table cell). */
function variables(text: string): Set<string> {
  return new Set([...text.matchAll(/\bTUFA_[A-Z0-9_]*[A-Z0-9]\b(?!_)/g)].map((m) => m[0]));
}

/**
 * The variables a source file reads: `process.env.TUFA_X` (or `env.TUFA_X`), or the whole of a string literal
 * (`'TUFA_PIN'`, passed to a lookup; template literals are examples). Names inside longer strings, comments and constants such as
 * `TUFA_VERSION` are not variables.
 */
function readVariables(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/\benv\.(TUFA_[A-Z0-9_]*[A-Z0-9])\b|(['"])(TUFA_[A-Z0-9_]*[A-Z0-9])\2/g))
    out.add((m[1] ?? m[3]) as string);
  return out;
}

/** The documented variables: the first column of the table under "## Environment variables". */
function documentedVariables(): Set<string> {
  const section = DOC.split('\n## Environment variables')[1]?.split('\n## ')[0] ?? '';
  const out = new Set<string>();
  for (const line of section.split('\n')) {
    const first = line.split('|')[1] ?? '';
    for (const v of variables(first)) out.add(v);
  }
  return out;
}

/** Every command with its path (`key generate`) and its long options. */
function commands(program: Command): { path: string; options: string[] }[] {
  const out: { path: string; options: string[] }[] = [];
  const walk = (c: Command, prefix: string) => {
    for (const sub of c.commands) {
      const path = `${prefix}${sub.name()}`;
      if (sub.commands.length > 0) walk(sub, `${path} `);
      else out.push({ path, options: sub.options.map((o) => o.long).filter((l): l is string => !!l) });
    }
  };
  walk(program, '');
  return out;
}

describe('docs/cli.md against the code', () => {
  it('documents every TUFA_* variable the code reads, and no other', () => {
    const read = new Set<string>();
    for (const pkg of readdirSync(join(ROOT, 'packages'))) {
      for (const f of sourceFiles(join(ROOT, 'packages', pkg, 'src'))) {
        for (const v of readVariables(readFileSync(f, 'utf8'))) read.add(v);
      }
    }
    const documented = documentedVariables();
    expect(documented.size).toBeGreaterThan(5);
    const undocumented = [...read].filter((v) => !documented.has(v) && !NOT_FOR_USERS.has(v)).sort();
    const unknown = [...documented].filter((v) => !read.has(v)).sort();
    expect({ undocumented, unknown }).toEqual({ undocumented: [], unknown: [] });
  });

  it('has a section for every command and names each of its options', async () => {
    const program = await buildProgram(() => {});
    // "### tufa key generate | list | import" documents key generate, key list and key import;
    // "### tufa root" documents every root command.
    const sections = [...DOC.matchAll(/^### tufa (.+)$/gm)].flatMap((m) => {
      const [first = '', ...alternatives] = (m[1] as string).split(' | ');
      const words = first.trim().split(/\s+/);
      return [words.join(' '), ...alternatives.map((a) => [...words.slice(0, -1), a.trim()].join(' '))];
    });
    const missing: string[] = [];
    for (const { path, options } of commands(program)) {
      if (!sections.some((h) => path === h || path.startsWith(`${h} `))) missing.push(`### tufa ${path}`);
      for (const o of options) {
        if (o === '--help') continue;
        if (!new RegExp(`${o}(?![a-z-])`).test(DOC)) missing.push(`tufa ${path} ${o}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('names no option that no command has', async () => {
    const program = await buildProgram(() => {});
    const known = new Set([
      ...program.options.map((o) => o.long),
      ...commands(program).flatMap((c) => c.options),
      '--help',
      '--version',
      '--output', // `--output json`, the spelling of --json that output-flag.ts rewrites
    ]);
    // Docker's global options (the plugin section says which it honours) and npm's --global.
    const quoted = new Set(['--config', '--context', '--tls', '--log-level', '--global']);
    const named = new Set(
      [...DOC.matchAll(/(?<![\w-])--[a-z][a-z0-9-]*[a-z0-9](?![a-z0-9-])/g)].map((m) => m[0]),
    );
    const stray = [...named].filter((f) => !known.has(f) && !quoted.has(f)).sort();
    expect(stray).toEqual([]);
  });
});
