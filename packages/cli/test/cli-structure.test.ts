/**
 * The CLI's module structure: a command module never imports another command module, nor
 * main.ts (what two commands share lives in a module of its own under src/), so that commands
 * can be loaded one at a time and changed without touching each other.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI_DIR } from './helpers/cli.js';

const SRC = join(CLI_DIR, 'src');
const COMMANDS = join(SRC, 'commands');

/** Every module specifier a file imports: static, re-exported, type-only and dynamic. */
function importsOf(text: string): string[] {
  const specifiers: string[] = [];
  for (const m of text.matchAll(/\b(?:import|export)\s[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g))
    specifiers.push(m[1] as string);
  for (const m of text.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g)) specifiers.push(m[1] as string);
  for (const m of text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) specifiers.push(m[1] as string);
  return specifiers;
}

describe('CLI module structure', () => {
  it('finds the imports it checks (static, type-only, dynamic)', () => {
    expect(
      importsOf(
        "import { a } from './a.js';\nimport type { B } from '../b.js';\nexport { c } from \"./c.js\";\nconst d = await import('./d.js');\nimport './e.js';",
      ),
    ).toEqual(['./a.js', '../b.js', './c.js', './d.js', './e.js']);
  });

  const files = readdirSync(COMMANDS).filter((f) => f.endsWith('.ts'));
  it('has command modules to check', () => expect(files.length).toBeGreaterThan(5));

  for (const file of files) {
    it(`commands/${file} imports no other command module and not main.ts`, () => {
      const text = readFileSync(join(COMMANDS, file), 'utf8');
      const local = importsOf(text)
        .filter((s) => s.startsWith('.'))
        .map((s) => relative(SRC, resolve(dirname(join(COMMANDS, file)), s)));
      const offending = local.filter((p) => p.startsWith('commands/') || p === 'main.js');
      expect(offending, `commands/${file}`).toEqual([]);
    });
  }
});
