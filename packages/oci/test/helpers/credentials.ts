/**
 * Credential fixtures: a throwaway home with a Docker config and an auth.json, and a
 * `docker-credential-test` helper on PATH that records what it was asked and answers what the
 * test told it to (shared by the credential tests and the registry tests).
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';

export interface HelperAnswer {
  /** Printed on stdout. */
  stdout: string;
  /** Printed on stderr. */
  stderr?: string;
  exitCode?: number;
}

export interface CredentialFixture {
  dir: string;
  /** `$DOCKER_CONFIG` (holds config.json). */
  dockerConfigDir: string;
  /** An environment with only what the lookup reads: PATH (the helper first), DOCKER_CONFIG. */
  env: Record<string, string>;
  writeDockerConfig(config: unknown): string;
  writeRaw(path: string, text: string): string;
  /** Makes `docker-credential-NAME` answer `answer`. */
  helper(name: string, answer: HelperAnswer): void;
  /** What each helper run received: its arguments and stdin, in order. */
  helperCalls(name: string): { args: string[]; stdin: string }[];
  cleanup(): void;
}

export const basicAuth = (user: string, password: string): string =>
  Buffer.from(`${user}:${password}`, 'utf8').toString('base64');

export function credentialFixture(): CredentialFixture {
  const dir = mkdtempSync(join(tmpdir(), 'tufa-oci-creds-'));
  const bin = join(dir, 'bin');
  const dockerConfigDir = join(dir, 'docker');
  mkdirSync(bin);
  mkdirSync(dockerConfigDir);
  const env = { PATH: `${bin}:${process.env['PATH'] ?? '/usr/bin:/bin'}`, DOCKER_CONFIG: dockerConfigDir };
  return {
    dir,
    dockerConfigDir,
    env,
    writeDockerConfig(config) {
      const p = join(dockerConfigDir, 'config.json');
      writeFileSync(p, typeof config === 'string' ? config : JSON.stringify(config));
      return p;
    },
    writeRaw(path, text) {
      const p = join(dir, path);
      mkdirSync(join(p, '..'), { recursive: true });
      writeFileSync(p, text);
      return p;
    },
    helper(name, answer) {
      const log = join(dir, `helper-${name}.log`);
      writeFileSync(join(dir, `helper-${name}.out`), answer.stdout);
      writeFileSync(join(dir, `helper-${name}.err`), answer.stderr ?? '');
      const script = join(bin, `docker-credential-${name}`);
      // Records one JSON line per call: the arguments and what came on stdin.
      writeFileSync(
        script,
        `#!/usr/bin/env node
const fs = require('node:fs');
const stdin = fs.readFileSync(0, 'utf8');
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify({ args: process.argv.slice(2), stdin }) + '\\n');
process.stdout.write(fs.readFileSync(${JSON.stringify(join(dir, `helper-${name}.out`))}));
process.stderr.write(fs.readFileSync(${JSON.stringify(join(dir, `helper-${name}.err`))}));
process.exitCode = ${answer.exitCode ?? 0};
`,
      );
      chmodSync(script, 0o755);
    },
    helperCalls(name) {
      let text = '';
      try {
        text = readFileSync(join(dir, `helper-${name}.log`), 'utf8');
      } catch {
        return [];
      }
      return text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as { args: string[]; stdin: string });
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Registers hooks that give each test a fresh credential fixture, removed after it; `use`
 * receives it: `let fx: CredentialFixture; useCredentialFixture((f) => { fx = f; });`
 */
export function useCredentialFixture(use: (fixture: CredentialFixture) => void): void {
  let fixture: CredentialFixture | undefined;
  beforeEach(() => {
    fixture = credentialFixture();
    use(fixture);
  });
  afterEach(() => fixture?.cleanup());
}
