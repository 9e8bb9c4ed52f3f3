/**
 * A PostgreSQL cluster for one bench run, started the way the server's tests start theirs
 * (packages/server/test/helpers/postgres.ts; the bench does not import test files): Debian's
 * binaries (not on PATH), run as the unprivileged `postgres` user (initdb and postgres refuse
 * root, and the bench runs as root here) in a temporary directory that user owns, on a free
 * loopback port, password authentication (scram-sha-256). Never the system's cluster on 5432.
 *
 * Unlike the tests' cluster, this one keeps PostgreSQL's durable defaults (fsync on,
 * synchronous_commit on): a deployment's database syncs its WAL at every commit, and the bench
 * measures what a deployment does.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function binDir() {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (existsSync(join(root, v, 'bin', 'initdb'))) return join(root, v, 'bin');
  return undefined;
}

/** Why the bench cannot start PostgreSQL here, or undefined when it can. */
export function postgresUnavailable() {
  if (!binDir()) return 'PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb)';
  if (process.getuid?.() !== 0) return 'the bench starts PostgreSQL as the postgres user, which needs root';
  try {
    execFileSync('id', ['postgres'], { stdio: 'ignore' });
  } catch {
    return 'there is no postgres user';
  }
  return undefined;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts the cluster with one database per name in `databases`, owned by the superuser `user`.
 * Resolves with `{ host, port, user, password, version, url(db), psql(db, sql), stop() }`;
 * `url(db)` has no password in it (pass `password` in PGPASSWORD).
 */
export async function startPostgres(databases, { user = 'bench' } = {}) {
  const why = postgresUnavailable();
  if (why) throw new Error(`cannot start PostgreSQL: ${why}`);
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'tufa-bench-pg-'));
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  chownSync(dir, uid, gid);
  // URL-safe, so it can go into notary-server's db_url as it is.
  const password = randomBytes(18).toString('hex');
  const pwfile = join(dir, 'pwfile');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  chownSync(pwfile, uid, gid);
  const data = join(dir, 'data');
  const as = (cmd, args) =>
    execFileSync('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { stdio: 'pipe', cwd: dir });
  const port = await freePort();
  let started = false;
  const stop = () => {
    try {
      if (started) as('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
    } finally {
      started = false;
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    as('initdb', ['-D', data, '-U', user, `--pwfile=${pwfile}`, '-A', 'scram-sha-256', '--no-sync']);
    as('pg_ctl', [
      '-D',
      data,
      '-l',
      join(dir, 'log'),
      '-w',
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`,
      'start',
    ]);
    started = true;
    const env = { ...process.env, PGPASSWORD: password };
    const common = ['-h', '127.0.0.1', '-p', String(port), '-U', user];
    for (const db of databases) execFileSync(join(bin, 'createdb'), [...common, db], { env, stdio: 'pipe' });
    const psql = (db, sql) =>
      execFileSync(
        join(bin, 'psql'),
        [...common, '-d', db, '-v', 'ON_ERROR_STOP=1', '-q', '-At', '-c', sql],
        {
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      ).toString();
    const version = psql(databases[0] ?? 'postgres', 'SHOW server_version').trim();
    return {
      host: '127.0.0.1',
      port,
      user,
      password,
      version,
      url: (db) => `postgres://${user}@127.0.0.1:${port}/${db}`,
      psql,
      stop,
    };
  } catch (e) {
    stop();
    throw e;
  }
}
