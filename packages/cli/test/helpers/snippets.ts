/**
 * Shell snippets of the docs and the CI example scripts, as a reader runs them: extracted from
 * Markdown, checked for the fail-closed rules, and run with bash and the BUILT `tufa` on PATH
 * (a wrapper script around `node packages/cli/dist/bin.js`). Nothing here imports CLI modules.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { expect } from 'vitest';
import { BIN, CLI_DIR, PASSPHRASE } from './cli.js';

export const REPO = resolve(CLI_DIR, '..', '..');

/** Languages whose fences are shell a reader runs. */
export const SHELL_LANGS = new Set(['sh', 'bash', 'shell', 'zsh', 'console']);

export interface Fence {
  /** Repository-relative path of the Markdown file. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  /** The fence's content, with the opening fence's indentation removed. */
  body: string;
  /** `X` of an `<!-- snippet: X -->` comment on the last non-blank line before the fence. */
  marker: string | undefined;
}

const MARKER_RE = /^\s*<!--\s*snippet:\s*([a-z-]+)\s*-->\s*$/;

/** Every fenced block of a Markdown text (``` fences, possibly indented inside a list). */
export function extractFences(file: string, text: string): Fence[] {
  const lines = text.split('\n');
  const fences: Fence[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^( *)```([A-Za-z0-9_-]*)\s*$/.exec(lines[i] as string);
    if (!open) continue;
    const indent = (open[1] as string).length;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !/^ *```\s*$/.test(lines[j] as string)) {
      const l = lines[j] as string;
      body.push(l.slice(Math.min(indent, l.length - l.trimStart().length)));
      j++;
    }
    let k = i - 1;
    while (k >= 0 && (lines[k] as string).trim() === '') k--;
    const marker = k >= 0 ? MARKER_RE.exec(lines[k] as string)?.[1] : undefined;
    fences.push({ file, line: i + 1, lang: open[2] as string, body: body.join('\n'), marker });
    i = j;
  }
  return fences;
}

/** Line numbers of `<!-- snippet: … -->` comments not followed by a fence (a marker that marks nothing). */
export function strayMarkers(text: string): number[] {
  const lines = text.split('\n');
  const stray: number[] = [];
  lines.forEach((l, i) => {
    if (!MARKER_RE.test(l)) return;
    let k = i + 1;
    while (k < lines.length && (lines[k] as string).trim() === '') k++;
    if (!/^ *```[A-Za-z0-9_-]+\s*$/.test(lines[k] ?? '')) stray.push(i + 1);
  });
  return stray;
}

/** The Markdown files a user reads: README.md, CONTRIBUTING.md, docs/**, the package READMEs. */
export function docFiles(): string[] {
  const out = ['README.md', 'CONTRIBUTING.md'].filter((f) => existsSync(join(REPO, f)));
  const walk = (dir: string) => {
    for (const e of readdirSync(join(REPO, dir), { withFileTypes: true })) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.md')) out.push(rel);
    }
  };
  walk('docs');
  for (const p of readdirSync(join(REPO, 'packages'))) {
    if (existsSync(join(REPO, 'packages', p, 'README.md'))) out.push(`packages/${p}/README.md`);
  }
  return out.sort();
}

export function readRepoFile(rel: string): string {
  return readFileSync(join(REPO, rel), 'utf8');
}

/**
 * The commands of a shell text, one string per logical line: `\` continuations joined, blank
 * lines and comment lines dropped.
 */
export function logicalLines(script: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const raw of script.split('\n')) {
    const line = raw.trim();
    if (current === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    out.push(current + line);
    current = '';
  }
  if (current !== '') out.push(current);
  return out;
}

/** `$( … )` contents blanked (one level), so `&&` inside a command substitution is not at top level. */
function withoutSubstitutions(line: string): string {
  return line.replace(/\$\([^()]*\)/g, '$()');
}

/**
 * What makes a shell text carry on after a failure, one message per finding (empty: none).
 * `script` is a whole script (`set -euo pipefail` must be its first command) or a snippet
 * (where a single command needs no `set`).
 */
export function failOpenFindings(text: string, kind: 'snippet' | 'script'): string[] {
  const found: string[] = [];
  const cmds = logicalLines(text.replace(/^#!.*\n/, ''));
  if ((kind === 'script' || cmds.length > 1) && cmds[0] !== 'set -euo pipefail') {
    found.push(`does not start with "set -euo pipefail" (it has ${cmds.length} commands)`);
  }
  cmds.forEach((cmd, i) => {
    // `set -e` ignores a failure on the left of `&&`: `false && x` goes on to the next line.
    if (i < cmds.length - 1 && /\s&&\s/.test(withoutSubstitutions(cmd))) {
      found.push(`"${cmd}": a failure left of && does not stop the script; put the commands on two lines`);
    }
    // The status of `export X=$(cmd)` is export's, not cmd's.
    if (/^(export|local|readonly|declare)\s+[^=\s]+=.*\$\(/.test(cmd)) {
      found.push(`"${cmd}": the status is ${cmd.split(/\s/)[0]}'s, not the command's; assign first`);
    }
  });
  for (const line of text.split('\n')) {
    // jq's output used as a value must fail on null: `jq -e`.
    if (/\$\([^)]*\bjq\b/.test(line) && !/\bjq\s+(-[A-Za-z]*e[A-Za-z]*\b|--exit-status)/.test(line)) {
      found.push(`"${line.trim()}": jq without -e turns a missing value into "null" and exits 0`);
    }
  }
  return found;
}

/** A bearer token or other credential header on a command line (visible in `ps`). */
export function headerSecrets(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => /--header[=\s]+["']?(Authorization|Proxy-Authorization)\s*:/i.test(l))
    .map((l) => l.trim());
}

// ---------------------------------------------------------------------------------------------
// Running

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A directory holding a `tufa` that runs the built CLI with this Node.js. */
export function tufaBinDir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const wrapper = join(dir, 'tufa');
  writeFileSync(wrapper, `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`);
  chmodSync(wrapper, 0o755);
  return dir;
}

/**
 * The environment a snippet runs in: the machine's, without TUFA_* and CI settings, with the
 * wrapper first on PATH, cheap key derivation, and `extra` on top (undefined removes a variable).
 */
export function shellEnv(binDir: string, extra: Record<string, string | undefined>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (k.startsWith('TUFA_') || k === 'CI' || k.startsWith('VITEST') || k === 'NODE_OPTIONS') continue;
    env[k] = v;
  }
  env['PATH'] = `${binDir}:${process.env['PATH'] ?? '/usr/bin:/bin'}`;
  env['TUFA_SCRYPT_N'] = '1024';
  env['NO_COLOR'] = '1';
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Runs a program; checks that no passphrase of its environment reached its output. */
export function run(
  cmd: string,
  args: string[],
  options: { cwd: string; env: Record<string, string> },
): Promise<Ran> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    child.on('error', fail);
    child.on('close', (code) => {
      const secrets = Object.entries(options.env)
        .filter(([k, v]) => /^TUFA_(NEW_)?PASSPHRASE/.test(k) && v.length >= 6)
        .map(([, v]) => v);
      for (const s of [PASSPHRASE, ...secrets]) {
        if (stdout.includes(s) || stderr.includes(s)) {
          fail(new Error(`a passphrase leaked into the output of ${cmd} ${args.join(' ')}`));
          return;
        }
      }
      done({ code, stdout, stderr });
    });
  });
}

export function showRan(r: Ran): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

export function expectRan(r: Ran, code: number): Ran {
  expect(r.code, showRan(r)).toBe(code);
  return r;
}

export function rel(path: string): string {
  return relative(REPO, path);
}
