/**
 * A PostgreSQL server for one test file: Debian's binaries (not on PATH), run as the unprivileged
 * `postgres` user (initdb and postgres refuse root, and CI runs as root) in a temporary directory
 * that user owns, on a free loopback port, with a password (scram-sha-256) the tests pass in
 * PGPASSWORD. Never the system's cluster. Skipped locally when it cannot run; under CI=true a
 * missing PostgreSQL fails the test file.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPostgres {
  /** `postgres://tufa@127.0.0.1:PORT/DB`, without the password. */
  url: string;
  password: string;
  /** Stops PostgreSQL as a crash would (immediate mode) and starts it again. */
  restart(): void;
  stop(): void;
}

function binDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (existsSync(join(root, v, 'bin', 'initdb'))) return join(root, v, 'bin');
  return undefined;
}

/** Why PostgreSQL cannot run here, or undefined when it can. */
export function postgresUnavailable(): string | undefined {
  if (!binDir()) return 'PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb)';
  if (process.getuid?.() !== 0) return 'the tests start PostgreSQL as the postgres user, which needs root';
  try {
    execFileSync('id', ['postgres'], { stdio: 'ignore' });
  } catch {
    return 'there is no postgres user';
  }
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startPostgres(database: string): Promise<TestPostgres> {
  const bin = binDir() as string;
  const dir = mkdtempSync(join(tmpdir(), 'tufa-pg-'));
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  chownSync(dir, uid, gid);
  const password = `pw-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  const pwfile = join(dir, 'pwfile');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  chownSync(pwfile, uid, gid);
  const data = join(dir, 'data');
  const as = (cmd: string, args: string[]) =>
    execFileSync('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { stdio: 'pipe', cwd: dir });
  as('initdb', ['-D', data, '-U', 'tufa', `--pwfile=${pwfile}`, '-A', 'scram-sha-256', '--no-sync']);
  const port = await freePort();
  as('pg_ctl', [
    '-D',
    data,
    '-l',
    join(dir, 'log'),
    '-w',
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
    'start',
  ]);
  execFileSync(join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'tufa', database], {
    env: { ...process.env, PGPASSWORD: password },
    stdio: 'pipe',
  });
  return {
    url: `postgres://tufa@127.0.0.1:${port}/${database}`,
    password,
    restart() {
      as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      as('pg_ctl', [
        '-D',
        data,
        '-l',
        join(dir, 'log'),
        '-w',
        '-o',
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
        'start',
      ]);
    },
    stop() {
      try {
        as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
