/**
 * The PostgreSQL store (ADR 0021): every GUN's files, online key files and the change feed in one
 * database, shared by stateless server replicas. A publish is serialised per GUN by the database,
 * not by a process: `lock()` opens a transaction holding a transaction-scoped advisory lock on
 * the GUN, the publish's writes go into that transaction, and releasing the lock commits them
 * together. Exactly one replica refreshes timestamps at a time (a session advisory lock).
 * Migrations are numbered and applied once, under an advisory lock.
 *
 * The connection comes from `TUFA_SERVER_DATABASE_URL` or the usual `PG*` variables
 * (`PGPASSWORD`, or a password file): never argv.
 */
import {
  ConflictError,
  Metadata,
  type RepositoryStorage,
  StateError,
  StorageError,
  UnsafeNameError,
} from '@tufa/core';
import pg from 'pg';
import type { GzipForm } from './content-coding.js';
import { checkGun } from './gun.js';
import { MetadataCache, type MetadataFile, metadataFile, versionedName } from './metadata-cache.js';
import type { OnlineKeyFile, OnlineRole } from './online-keys.js';
import type { ChangeRecord, ServerStore, StoreCacheOptions } from './store.js';

/** The migrations, in order; each runs once, in a transaction. Never edit one that shipped. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE tufa_files (
     gun text NOT NULL, path text NOT NULL, bytes bytea NOT NULL,
     PRIMARY KEY (gun, path));
   CREATE TABLE tufa_online_keys (
     gun text NOT NULL, role text NOT NULL, key_file bytea NOT NULL,
     PRIMARY KEY (gun, role));
   CREATE TABLE tufa_changes (
     id bigserial PRIMARY KEY, gun text NOT NULL, time timestamptz NOT NULL,
     kind text NOT NULL, versions jsonb NOT NULL);`,
  // 2: online-key rotation keeps several generations of a role's key.
  `ALTER TABLE tufa_online_keys ADD COLUMN generation integer NOT NULL DEFAULT 1;
   ALTER TABLE tufa_online_keys DROP CONSTRAINT tufa_online_keys_pkey;
   ALTER TABLE tufa_online_keys ADD PRIMARY KEY (gun, role, generation);`,
];

/** Advisory lock keys (the first of a two-int key): migrations, the refresher, GUN publishes. */
const LOCK_MIGRATE = 7_301;
const LOCK_REFRESHER = 7_302;
const LOCK_GUN = 7_303;

/** Appends `change` to the change feed through `q` (the pool, or a publish's transaction). */
async function insertChange(
  q: pg.Pool | pg.PoolClient,
  change: Omit<ChangeRecord, 'id'>,
): Promise<ChangeRecord> {
  const r = await q.query<{ id: string }>(
    'INSERT INTO tufa_changes (gun, time, kind, versions) VALUES ($1, $2, $3, $4) RETURNING id',
    [change.gun, change.time, change.kind, JSON.stringify(change.versions)],
  );
  return { id: Number(r.rows[0]?.id), ...change };
}

function pathOk(path: string): string {
  const segments = path.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..' || s.startsWith('.') || /[\\\0]/.test(s))) {
    throw new UnsafeNameError(`repository path ${JSON.stringify(path)} is not a repository file`);
  }
  return path;
}

function dbError(what: string, e: unknown): StorageError {
  return new StorageError(
    `the database could not ${what} (${(e as { code?: string }).code ?? (e as Error).message})`,
    {
      cause: e,
    },
  );
}

/**
 * Whether the GUN's current root says consistent snapshots. Only then is a name `N.ROLE.json` a
 * version no publish rewrites: without them every version of a role is written to ROLE.json,
 * and a delegated role named "2024.releases" (or "5.root") has a file that merely looks
 * versioned. An unreadable root keeps nothing either.
 */
async function consistentSnapshots(storage: RepositoryStorage): Promise<boolean> {
  try {
    const root = await storage.read('metadata/root.json');
    return root !== undefined && Metadata.fromBytes(root, 'root').signed.consistentSnapshot;
  } catch {
    return false;
  }
}

/** One GUN in the database, as the core's RepositoryStorage. */
class PostgresRepositoryStorage implements RepositoryStorage {
  /** The transaction of the publish holding the lock, if any. */
  private tx: pg.PoolClient | undefined;
  /** Whether the transaction wrote `timestamp.json`, the file a publish writes last. */
  private wroteTimestamp = false;
  /** Whether recording the publish's change failed: then nothing of it commits. */
  private failed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly gun: string,
  ) {}

  async read(path: string): Promise<Uint8Array | undefined> {
    const q = this.tx ?? this.pool;
    const r = await q
      .query<{ bytes: Buffer }>('SELECT bytes FROM tufa_files WHERE gun = $1 AND path = $2', [
        this.gun,
        pathOk(path),
      ])
      .catch((e) => {
        throw dbError('read', e);
      });
    const b = r.rows[0]?.bytes;
    return b ? new Uint8Array(b) : undefined;
  }

  async write(path: string, bytes: Uint8Array): Promise<void> {
    if (!this.tx) throw new ConflictError('a write outside the publish lock');
    await this.tx
      .query(
        `INSERT INTO tufa_files (gun, path, bytes) VALUES ($1, $2, $3)
         ON CONFLICT (gun, path) DO UPDATE SET bytes = EXCLUDED.bytes`,
        [this.gun, pathOk(path), Buffer.from(bytes)],
      )
      .catch((e) => {
        throw dbError('write', e);
      });
    if (path === 'metadata/timestamp.json') this.wroteTimestamp = true;
  }

  async writeStream(path: string, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const parts: Buffer[] = [];
    for await (const c of chunks) parts.push(Buffer.from(c));
    await this.write(path, Buffer.concat(parts));
  }

  /** Records `change` in the publish's transaction; a failure rolls the whole publish back. */
  async recordChange(change: Omit<ChangeRecord, 'id'>): Promise<ChangeRecord> {
    // Not a ConflictError: that is retried, and this is a caller's mistake, not a race.
    if (!this.tx) throw new StateError('a change recorded outside the publish lock');
    try {
      return await insertChange(this.tx, change);
    } catch (e) {
      this.failed = true;
      throw dbError('record the change', e);
    }
  }

  async remove(path: string): Promise<void> {
    if (!this.tx) throw new ConflictError('a removal outside the publish lock');
    await this.tx.query('DELETE FROM tufa_files WHERE gun = $1 AND path = $2', [this.gun, pathOk(path)]);
  }

  /**
   * Opens the publish transaction and waits for the GUN's advisory lock (held until commit:
   * publishes of one GUN on any replica run one after the other). Releasing commits, so a
   * publish's files become visible together — timestamp.json with the rest — and only if
   * timestamp.json was written: a publish that failed before it (the core releases the lock
   * whatever happened) is rolled back, never left as versioned files no timestamp references,
   * which replicas would keep as committed (ADR 0027) and the next publish would rewrite.
   */
  async lock(): Promise<() => Promise<void>> {
    const client = await this.pool.connect().catch((e) => {
      throw dbError('connect', e);
    });
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_GUN, this.gun]);
    } catch (e) {
      client.release(true);
      throw dbError('lock the repository', e);
    }
    this.tx = client;
    this.wroteTimestamp = false;
    this.failed = false;
    return async () => {
      this.tx = undefined;
      try {
        await client.query(this.wroteTimestamp && !this.failed ? 'COMMIT' : 'ROLLBACK');
        client.release();
      } catch (e) {
        client.release(true);
        throw dbError('commit the publish', e);
      }
    };
  }
}

/** Options of `PostgresStore.open`. */
export interface PostgresStoreOptions extends StoreCacheOptions {
  /** A `postgres://` URL without a password (the password comes from the environment). */
  connectionString?: string;
  /** Connections per replica (default 10). */
  maxConnections?: number;
}

/** The PostgreSQL store: many GUNs, many replicas, one database. */
export class PostgresStore implements ServerStore {
  /**
   * Versioned files read from the database (ADR 0027). A publish is one transaction, so a file
   * another transaction can read is committed, and no publish rewrites a committed version:
   * every replica may keep it. Entry points are read from the database on every GET: a replica
   * must never answer an older `timestamp.json` than the database holds, or a client moving
   * between replicas would see its versions go back.
   */
  private readonly cache: MetadataCache;

  private constructor(
    private readonly pool: pg.Pool,
    cacheBytes?: number,
  ) {
    this.cache = new MetadataCache(cacheBytes);
  }

  /** Connects and applies the migrations this version has and the database lacks. */
  static async open(options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const pool = new pg.Pool({
      ...(options.connectionString ? { connectionString: options.connectionString } : {}),
      max: options.maxConnections ?? 10,
    });
    // A connection that breaks while idle (a database restart) is dropped, not fatal.
    pool.on('error', () => {});
    const store = new PostgresStore(pool, options.metadataCacheBytes);
    try {
      await store.migrate();
    } catch (e) {
      await pool.end();
      throw e instanceof StorageError ? e : dbError('be prepared', e);
    }
    return store;
  }

  private async migrate(): Promise<void> {
    const c = await this.pool.connect();
    try {
      await c.query('SELECT pg_advisory_lock($1, 0)', [LOCK_MIGRATE]);
      await c.query(
        'CREATE TABLE IF NOT EXISTS tufa_migrations (version integer PRIMARY KEY, applied timestamptz NOT NULL)',
      );
      const done = await c.query<{ version: number }>('SELECT version FROM tufa_migrations');
      const have = new Set(done.rows.map((r) => r.version));
      for (const [i, sql] of MIGRATIONS.entries()) {
        const version = i + 1;
        if (have.has(version)) continue;
        await c.query('BEGIN');
        try {
          await c.query(sql);
          await c.query('INSERT INTO tufa_migrations (version, applied) VALUES ($1, now())', [version]);
          await c.query('COMMIT');
        } catch (e) {
          await c.query('ROLLBACK');
          throw e;
        }
      }
      const newest = Math.max(0, ...done.rows.map((r) => r.version));
      if (newest > MIGRATIONS.length) {
        throw new StorageError(
          `the database has schema version ${newest}; this server knows up to ${MIGRATIONS.length}`,
        );
      }
    } finally {
      await c.query('SELECT pg_advisory_unlock($1, 0)', [LOCK_MIGRATE]).catch(() => {});
      c.release();
    }
  }

  storage(gun: string): RepositoryStorage {
    return new PostgresRepositoryStorage(this.pool, checkGun(gun));
  }

  /** The database serialises publishes (see `lock`); nothing to queue in the process. */
  async withGun<T>(_gun: string, fn: () => Promise<T>): Promise<T> {
    return fn();
  }

  async readMetadata(gun: string, file: string): Promise<MetadataFile | undefined> {
    if (file === '' || file.startsWith('.') || /[/\\\0]/.test(file)) return undefined;
    const versioned = versionedName(file) !== undefined;
    const hit = versioned ? this.cache.get(gun, file) : undefined;
    if (hit) return hit.file;
    const storage = this.storage(gun);
    const bytes = await storage.read(`metadata/${file}`);
    if (!bytes) return undefined;
    const served = metadataFile(bytes, versioned && (await consistentSnapshots(storage)));
    if (served.immutable) this.cache.set(gun, file, served);
    return served;
  }

  gzip(gun: string, file: string, served: MetadataFile): Promise<GzipForm> {
    return this.cache.gzip(gun, file, served);
  }

  async listGuns(): Promise<string[]> {
    const r = await this.pool.query<{ gun: string }>(
      "SELECT gun FROM tufa_files WHERE path = 'metadata/timestamp.json' ORDER BY gun",
    );
    return r.rows.map((x) => x.gun);
  }

  async readOnlineKeys(gun: string, role: OnlineRole): Promise<OnlineKeyFile[]> {
    const r = await this.pool.query<{ generation: number; key_file: Buffer }>(
      'SELECT generation, key_file FROM tufa_online_keys WHERE gun = $1 AND role = $2 ORDER BY generation',
      [checkGun(gun), role],
    );
    return r.rows.map((x) => ({ generation: x.generation, bytes: new Uint8Array(x.key_file) }));
  }

  /** The next generation under the GUN's lock, so two replicas rotating at once get two. */
  async addOnlineKey(gun: string, role: OnlineRole, bytes: Uint8Array): Promise<number> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_GUN, checkGun(gun)]);
      const r = await c.query<{ generation: number }>(
        `INSERT INTO tufa_online_keys (gun, role, generation, key_file)
           SELECT $1, $2, COALESCE(MAX(generation), 0) + 1, $3 FROM tufa_online_keys WHERE gun = $1 AND role = $2
           RETURNING generation`,
        [gun, role, Buffer.from(bytes)],
      );
      await c.query('COMMIT');
      return r.rows[0]?.generation as number;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw dbError('store an online key', e);
    } finally {
      c.release();
    }
  }

  async removeOnlineKey(gun: string, role: OnlineRole, generation: number): Promise<void> {
    await this.pool
      .query('DELETE FROM tufa_online_keys WHERE gun = $1 AND role = $2 AND generation = $3', [
        checkGun(gun),
        role,
        generation,
      ])
      .catch((e: unknown) => {
        throw dbError('remove an online key', e);
      });
  }

  /** The keys in one transaction; a replica that lost the race keeps the winner's. */
  async createOnlineKeys(gun: string, files: Partial<Record<OnlineRole, Uint8Array>>): Promise<void> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_GUN, checkGun(gun)]);
      for (const [role, bytes] of Object.entries(files)) {
        const have = await c.query('SELECT 1 FROM tufa_online_keys WHERE gun = $1 AND role = $2', [
          gun,
          role,
        ]);
        if (have.rowCount !== 0) continue;
        await c.query('INSERT INTO tufa_online_keys (gun, role, key_file) VALUES ($1, $2, $3)', [
          gun,
          role,
          Buffer.from(bytes),
        ]);
      }
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw dbError('store online keys', e);
    } finally {
      c.release();
    }
  }

  async asRefresher<T>(fn: () => Promise<T>): Promise<T | undefined> {
    const c = await this.pool.connect();
    try {
      const got = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, 0) AS ok', [
        LOCK_REFRESHER,
      ]);
      if (!got.rows[0]?.ok) return undefined;
      try {
        return await fn();
      } finally {
        await c.query('SELECT pg_advisory_unlock($1, 0)', [LOCK_REFRESHER]);
      }
    } finally {
      c.release();
    }
  }

  async recordChange(change: Omit<ChangeRecord, 'id'>, within?: RepositoryStorage): Promise<ChangeRecord> {
    // In the publish's transaction when there is one: the files and their change commit together
    // (one commit, one WAL flush), or neither does.
    if (within instanceof PostgresRepositoryStorage) return within.recordChange(change);
    return insertChange(this.pool, change);
  }

  async changes(since: number, limit: number): Promise<ChangeRecord[]> {
    const r = await this.pool.query<{
      id: string;
      gun: string;
      time: Date;
      kind: string;
      versions: ChangeRecord['versions'];
    }>('SELECT id, gun, time, kind, versions FROM tufa_changes WHERE id > $1 ORDER BY id LIMIT $2', [
      since,
      limit,
    ]);
    return r.rows.map((x) => ({
      id: Number(x.id),
      gun: x.gun,
      time: x.time.toISOString(),
      kind: x.kind as ChangeRecord['kind'],
      versions: x.versions,
    }));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
