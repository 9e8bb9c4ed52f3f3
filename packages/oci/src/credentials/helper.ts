/**
 * Docker credential helpers (`docker-credential-<name> get`), as docker-credential-helpers
 * defines the protocol: the server URL on stdin, `{"ServerURL","Username","Secret"}` on stdout;
 * a `Username` of `<token>` means `Secret` is an identity token. A helper that has nothing for
 * the server says `credentials not found in native keychain` and exits non-zero.
 *
 * The helper is found on PATH by its name only (the name was checked: no path separators) and
 * run without a shell. Its output may hold secrets: stdout is read up to a cap and never shown;
 * stderr is shown only capped, on one line, with anything that looks like a token hidden.
 */
import { spawn } from 'node:child_process';
import { KeyError, parseJson, TimeoutError } from '@tufa/core';

const NOT_FOUND = 'credentials not found in native keychain';
const MAX_STDOUT = 64 * 1024;
const MAX_STDERR = 4 * 1024;
const SHOWN_STDERR = 200;

export interface HelperCredentials {
  username: string | undefined;
  password: string | undefined;
  identityToken: string | undefined;
}

export interface RunHelperOptions {
  /** Environment of the helper (PATH finds it). Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Milliseconds before the helper is killed. Default 60 000 (a helper may wait for a touch or an unlock). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * What a failing helper printed, safe to put in an error: the first line, control characters
 * dropped, runs that look like tokens or passwords (16 or more base64/hex/URL-safe characters,
 * or whatever follows `password`, `secret`, `token` and `=`/`:`) replaced by `…`, at most 200
 * characters.
 */
export function scrubHelperOutput(text: string): string {
  const line = (text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '').replace(/[^\x20-\x7e]/g, '?');
  return line
    .replace(/((?:pass(?:word)?|secret|token|auth)\w*\s*[=:]\s*)\S+/gi, '$1…')
    .replace(/[A-Za-z0-9+/_=.-]{16,}/g, '…')
    .slice(0, SHOWN_STDERR)
    .trim();
}

/**
 * Runs `docker-credential-<name> get` for `serverUrl`. `undefined` when the helper has no
 * credentials for it; KeyError when it cannot be run or answers something else.
 */
export async function runCredentialHelper(
  name: string,
  serverUrl: string,
  options: RunHelperOptions = {},
): Promise<HelperCredentials | undefined> {
  const program = `docker-credential-${name}`;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(options.env ?? process.env)) if (v !== undefined) env[k] = v;
  const { code, stdout, stderr, error, timedOut } = await new Promise<{
    code: number | null;
    stdout: Buffer;
    stderr: Buffer;
    error: NodeJS.ErrnoException | undefined;
    timedOut: boolean;
  }>((resolve) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLength = 0;
    let errLength = 0;
    let timedOut = false;
    let spawnError: NodeJS.ErrnoException | undefined;
    const child = spawn(program, ['get'], { env, stdio: ['pipe', 'pipe', 'pipe'], shell: false });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    const onAbort = () => child.kill('SIGKILL');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (c: Buffer) => {
      outLength += c.length;
      if (outLength <= MAX_STDOUT) out.push(c);
      else child.kill('SIGKILL');
    });
    child.stderr.on('data', (c: Buffer) => {
      if (errLength < MAX_STDERR) err.push(c.subarray(0, MAX_STDERR - errLength));
      errLength += c.length;
    });
    child.stdin.on('error', () => {}); // a helper that exits without reading stdin
    child.on('error', (e: NodeJS.ErrnoException) => {
      spawnError = e;
    });
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve({
        code: outLength > MAX_STDOUT ? -1 : exitCode,
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err),
        error: spawnError,
        timedOut,
      });
    });
    child.stdin.end(serverUrl);
  });
  if (error?.code === 'ENOENT') {
    throw new KeyError(
      `the credential helper ${program} is not on PATH (install it, or remove it from the Docker config)`,
    );
  }
  if (error !== undefined)
    throw new KeyError(`cannot run the credential helper ${program} (${error.code ?? 'error'})`);
  if (timedOut)
    throw new TimeoutError(`the credential helper ${program} did not answer within ${timeoutMs} ms`);
  if (options.signal?.aborted) throw new KeyError(`the credential helper ${program} was stopped`);
  if (code === -1) throw new KeyError(`the credential helper ${program} wrote more than ${MAX_STDOUT} bytes`);
  if (code !== 0) {
    if (stdout.toString('utf8').trim() === NOT_FOUND) return undefined;
    const said = scrubHelperOutput(stderr.toString('utf8'));
    throw new KeyError(
      `the credential helper ${program} failed with exit code ${code ?? 'none (killed)'}${said ? `: ${said}` : ''}`,
    );
  }
  let answer: unknown;
  try {
    answer = parseJson(stdout);
  } catch {
    throw new KeyError(
      `the credential helper ${program} answered with something other than JSON (not shown)`,
    );
  }
  const o = typeof answer === 'object' && answer !== null && !Array.isArray(answer) ? answer : undefined;
  const get = (k: string): unknown =>
    o && Object.hasOwn(o, k) ? (o as Record<string, unknown>)[k] : undefined;
  const username = get('Username');
  const secret = get('Secret');
  if (typeof username !== 'string' || typeof secret !== 'string') {
    throw new KeyError(
      `the credential helper ${program} answered without the string fields "Username" and "Secret" (expected {"ServerURL","Username","Secret"})`,
    );
  }
  if (secret === '') return undefined;
  if (username === '<token>') return { username: undefined, password: undefined, identityToken: secret };
  return { username, password: secret, identityToken: undefined };
}
