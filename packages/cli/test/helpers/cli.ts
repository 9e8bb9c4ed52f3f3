/**
 * Harness for the CLI tests: runs the BUILT binary (the bundle the published bin runs, or the
 * standalone executable: ./bundle.ts) in a child process with a hermetic environment, and offers
 * helpers for the files it writes. Nothing here imports CLI modules.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { ensureBundle, tufaCommand } from './bundle.js';

export const CLI_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The bundled CLI, rebuilt here when `tsc -b` wrote something newer; run it with this Node.js. */
export const BIN = ensureBundle();

/** Distinctive passphrases, so a leak into stdout/stderr is easy to spot. */
export const PASSPHRASE = 'correct-Horse-battery-9137';
export const OTHER_PASSPHRASE = 'Second-passphrase-5521';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Variables added to (or, with undefined, removed from) the sandbox's base environment. */
  env?: Record<string, string | undefined>;
  /** Written to stdin, which is then closed (stdin is always a pipe: never a TTY). */
  input?: string;
  cwd?: string;
}

/** A machine that runs `tufa` with its own $TUFA_HOME. */
export interface Client {
  home: string;
  tufa(args: string[], options?: RunOptions): Promise<RunResult>;
}

/** A temporary directory, with TUFA_HOME inside it, for one group of tests. */
export class Sandbox {
  readonly dir: string;
  readonly home: string;
  readonly env: Record<string, string | undefined>;
  #clients = 0;

  constructor(prefix = 'tufa-cli-') {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    this.home = join(this.dir, 'home');
    this.env = { TUFA_HOME: this.home, TUFA_PASSPHRASE: PASSPHRASE };
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  /** Runs `tufa ARGS` with this sandbox's environment (overridable per call). */
  tufa(args: string[], options: RunOptions = {}): Promise<RunResult> {
    return runTufa(args, { cwd: this.dir, ...options, env: { ...this.env, ...options.env } });
  }

  /**
   * A client machine in this sandbox: $TUFA_HOME at `home` (by default a new `client-N`
   * directory, nothing cached) and no passphrase, since a client holds no keys.
   */
  client(home?: string): Client {
    const clientHome = home ?? this.path(`client-${++this.#clients}`);
    return {
      home: clientHome,
      tufa: (args, options = {}) =>
        this.tufa(args, {
          ...options,
          env: { TUFA_HOME: clientHome, TUFA_PASSPHRASE: undefined, ...options.env },
        }),
    };
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A repository as `tufa init GUN --publish-root pub --root-key-out offline` creates it in a sandbox. */
export interface Publisher {
  gun: string;
  /** The publish root, `SANDBOX/pub`. */
  pub: string;
  /** The GUN's metadata directory under the publish root. */
  md: string;
  /** The first root, `MD/1.root.json`: what a client pins on first use. */
  root: string;
  /** Runs that `tufa init` and expects it to succeed. */
  init(): Promise<void>;
}

/** The paths of GUN's repository in `sandbox`, and the `tufa init` that creates it. */
export function publisher(sandbox: Sandbox, gun: string): Publisher {
  const pub = sandbox.path('pub');
  const md = metadataDir(pub, gun);
  return {
    gun,
    pub,
    md,
    root: join(md, '1.root.json'),
    init: async () => {
      expectExit(await sandbox.tufa(['init', gun, '--publish-root', 'pub', '--root-key-out', 'offline']), 0);
    },
  };
}

function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (k.startsWith('TUFA_') || k === 'CI' || k.startsWith('VITEST') || k === 'NODE_OPTIONS') continue;
    env[k] = v;
  }
  env['TUFA_SCRYPT_N'] = '1024';
  env['NO_COLOR'] = '1';
  return env;
}

function secretsIn(env: Record<string, string | undefined>): string[] {
  return Object.entries(env)
    .filter(([k, v]) => /^TUFA_(NEW_)?PASSPHRASE/.test(k) && typeof v === 'string' && v.length >= 6)
    .map(([, v]) => v as string);
}

/** The hermetic base environment with `extra` applied (an undefined value removes the variable). */
export function tufaEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string | undefined> = { ...baseEnv(), ...extra };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env as Record<string, string>;
}

export interface ProcessOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed (stdin is always a pipe: never a TTY). */
  input?: string;
}

/** Runs a program to its end and collects its output as text. */
export function runProcess(cmd: string, args: string[], options: ProcessOptions = {}): Promise<RunResult> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd ?? process.cwd(),
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    child.on('error', fail);
    child.on('close', (code, signal) => done({ code, signal, stdout, stderr }));
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/** Runs the built CLI. Every run is checked for leaked passphrases and stack traces. */
export async function runTufa(args: string[], options: RunOptions = {}): Promise<RunResult> {
  const env = tufaEnv(options.env);
  const run = tufaCommand(args);
  const result = await runProcess(run.command, run.args, { ...options, env });
  const { stdout, stderr } = result;
  for (const secret of secretsIn(env)) {
    expect(stdout, `passphrase leaked to stdout of tufa ${args.join(' ')}`).not.toContain(secret);
    expect(stderr, `passphrase leaked to stderr of tufa ${args.join(' ')}`).not.toContain(secret);
  }
  if (!args.includes('--debug')) {
    expect(stderr, `stack trace in stderr of tufa ${args.join(' ')}`).not.toMatch(/\n\s+at .+:\d+:\d+/);
  }
  return result;
}

/** Shows a result in assertion messages. */
export function show(r: RunResult): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** Asserts the exit code (with the output in the failure message) and returns the result. */
export function expectExit(r: RunResult, code: number): RunResult {
  expect(r.code, show(r)).toBe(code);
  return r;
}

/** Asserts success and parses stdout as the one JSON document `--json` prints. */
export function expectJson<T extends object = Record<string, unknown>>(
  r: RunResult,
  code = 0,
): T & { tufa: number } {
  expectExit(r, code);
  const v = JSON.parse(r.stdout) as T & { tufa: number };
  expect(v.tufa).toBe(1);
  return v;
}

/** An `Error:` line (and optionally a `Hint:` line), without a stack trace. */
export function expectError(
  r: RunResult,
  code: number,
  message: RegExp | string,
  hint?: RegExp | string,
): void {
  expectExit(r, code);
  const lines = r.stderr.split('\n');
  const err = lines.find((l) => l.startsWith('Error: '));
  expect(err, show(r)).toBeDefined();
  if (typeof message === 'string') expect(err).toContain(message);
  else expect(err).toMatch(message);
  if (hint !== undefined) {
    const h = lines.find((l) => l.startsWith('Hint: '));
    expect(h, show(r)).toBeDefined();
    if (typeof hint === 'string') expect(h).toContain(hint);
    else expect(h).toMatch(hint);
  }
}

export const sha256hex = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** `sha256:` and 64 hex digits derived from a seed. */
export function digestOf(seed: string): string {
  return `sha256:${sha256hex(seed)}`;
}

/** The directory a GUN is published in under a publish root. */
export function metadataDir(publishRoot: string, gun: string): string {
  return join(publishRoot, ...gun.split('/'), 'metadata');
}

// biome-ignore lint/suspicious/noExplicitAny: parsed metadata and config files, read loosely in assertions
export function readJson<T = Record<string, any>>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** The highest N of N.ROLE.json in a metadata directory. */
export function newestVersion(dir: string, role: string): number {
  let best = 0;
  for (const f of readdirSync(dir)) {
    const m = new RegExp(`^(\\d+)\\.${role.replace(/[.]/g, '\\.')}\\.json$`).exec(f);
    if (m) best = Math.max(best, Number(m[1]));
  }
  return best;
}

/** Files of a directory tree (relative paths), sorted. */
export function listFiles(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(join(dir, e.name), rel));
    else out.push(rel);
  }
  return out.sort();
}

export function fileMode(path: string): number {
  return statSync(path).mode & 0o777;
}

/** Every file under a directory tree: relative path → bytes (as a string). */
export function snapshotTree(dir: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const f of listFiles(dir)) m.set(f, readFileSync(join(dir, f), 'latin1'));
  return m;
}

/** The client caches: `$TUFA_HOME/trust/SERVER/GUN/metadata` directories. */
export function trustMetadataDirs(home: string): string[] {
  const trust = join(home, 'trust');
  if (!existsSync(trust)) return [];
  const out: string[] = [];
  for (const server of readdirSync(trust)) {
    for (const gun of readdirSync(join(trust, server))) {
      const md = join(trust, server, gun, 'metadata');
      if (existsSync(md)) out.push(md);
    }
  }
  return out.sort();
}

/** `role.json` → version, for every file in a client cache directory. */
export function cachedVersions(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of readdirSync(dir)) {
    const v = readJson(join(dir, f)) as { signed?: { version?: number } };
    out[f] = v.signed?.version ?? -1;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// `tufa serve`

export interface Served {
  url: string;
  dir: string;
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `tufa serve DIR --port 0` and waits for its `serving DIR at URL` line. */
export function startServe(sandbox: Sandbox, dir: string, extra: string[] = []): Promise<Served> {
  const run = tufaCommand(['serve', dir, '--port', '0', ...extra]);
  const child = spawn(run.command, run.args, {
    cwd: sandbox.dir,
    env: tufaEnv(sandbox.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`tufa serve did not start:\n${out}\n${err}`)), 15_000);
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      err += c;
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`tufa serve exited with ${code}:\n${out}\n${err}`));
    });
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const m =
        /^serving (.+) at (http:\/\/127\.0\.0\.1:\d+\/) \(read-only/m.exec(out) ??
        /"url": "(http:\/\/127\.0\.0\.1:\d+\/)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        const url = (m[2] ?? m[1]) as string;
        done({
          url,
          dir,
          child,
          stdout: () => out,
          stderr: () => err,
          stop: async () => {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
            return exited;
          },
        });
      }
    });
  });
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** An HTTP request with the path sent exactly as given (no `..` normalisation). */
export function rawRequest(url: string, path: string, method = 'GET'): Promise<RawResponse> {
  const u = new URL(url);
  return new Promise((done, fail) => {
    const req = request({ host: u.hostname, port: Number(u.port), path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', fail);
    req.end();
  });
}
