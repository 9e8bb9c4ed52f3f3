/**
 * `$TUFA_HOME` (default ~/.tufa): `keys/NAME.json` (encrypted key files), `repos/GUN/config.json`
 * (which keys sign which role of a repository, and where it is published), `trust/…` (the
 * verified client cache per server and GUN), `trust/notary/…` (the Notary role versions last
 * verified per notary-server and GUN).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { CorruptStateError } from '@tufa/core/errors';
import { ensureDir, writeFileAtomic } from '@tufa/core/node';
import { CliError } from './cli-error.js';
import { EXIT } from './exit-codes.js';
import { asFileProblem, exists, isSystemError, readOrExplain } from './files.js';
import { parseRepoConfig, type RepoConfig, repoConfigToBytes } from './repo-config.js';

export function tufaHome(): string {
  return resolve(process.env.TUFA_HOME || join(homedir(), '.tufa'));
}

export function keysDir(): string {
  return join(tufaHome(), 'keys');
}

const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export function checkKeyName(name: string): string {
  if (!KEY_NAME.test(name) || name.includes('..')) {
    throw new CliError(`not a key name: ${JSON.stringify(name)} (letters, digits, . _ -)`, EXIT.USAGE);
  }
  return name;
}

export function keyPath(name: string): string {
  return join(keysDir(), `${checkKeyName(name)}.json`);
}

/** A GUN as one directory name under repos/ and trust/. */
function gunDir(gun: string): string {
  return encodeURIComponent(gun).replace(/\./g, '%2E');
}

export type { RepoConfig } from './repo-config.js';

export function repoConfigPath(gun: string): string {
  return join(tufaHome(), 'repos', gunDir(gun), 'config.json');
}

/** The configuration of `gun`, validated (see repo-config.ts); CorruptStateError, with a Hint, if it is not as tufa writes it. */
export async function readRepoConfig(gun: string): Promise<RepoConfig> {
  const file = repoConfigPath(gun);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (e) {
    if (!isSystemError(e) || e.code !== 'ENOENT') return asFileProblem(e, file, 'read the configuration');
    throw new CliError(
      `no repository ${gun} is set up on this machine`,
      EXIT.NOT_FOUND,
      `tufa init ${gun} --publish-root DIR …`,
    );
  }
  try {
    return parseRepoConfig(bytes, file, gun);
  } catch (e) {
    if (e instanceof CorruptStateError) {
      throw Object.assign(e, {
        hint: `correct ${file}, or remove it and run: tufa attach ${gun} --publish-root DIR --targets-key KEY --snapshot-key KEY --timestamp-key KEY`,
      });
    }
    throw e;
  }
}

export async function writeRepoConfig(c: RepoConfig): Promise<void> {
  const p = repoConfigPath(c.gun);
  await ensureDir(join(p, '..'), 0o700);
  await writeFileAtomic(p, repoConfigToBytes(c), { mode: 0o600 });
}

/**
 * Every repository set up on this machine (`$TUFA_HOME/repos/*`), read strictly as
 * readRepoConfig does; none when there is no repos directory yet.
 */
export async function allRepoConfigs(): Promise<RepoConfig[]> {
  const repos = join(tufaHome(), 'repos');
  const dirs = await readdir(repos).catch((e) =>
    isSystemError(e) && e.code === 'ENOENT'
      ? ([] as string[])
      : asFileProblem(e, repos, 'list the repositories in'),
  );
  const out: RepoConfig[] = [];
  for (const dir of dirs.sort()) {
    const file = join(repos, dir, 'config.json');
    if (exists(file))
      out.push(
        parseRepoConfig(await readOrExplain(file, 'read the configuration'), file, decodeURIComponent(dir)),
      );
  }
  return out;
}

/** The client cache for one server and GUN. */
export function trustDir(server: string, gun: string): string {
  const id = createHash('sha256').update(server).digest('hex').slice(0, 16);
  return join(tufaHome(), 'trust', id, gunDir(gun));
}

/**
 * The root files of this machine's client cache for `gun`, one per server it was verified from
 * (each the newest root the update workflow accepted there).
 */
export async function trustedRootFiles(gun: string): Promise<string[]> {
  const trust = join(tufaHome(), 'trust');
  const servers = await readdir(trust).catch((e) =>
    isSystemError(e) && e.code === 'ENOENT'
      ? ([] as string[])
      : asFileProblem(e, trust, 'read the client cache'),
  );
  const out: string[] = [];
  for (const server of servers.sort()) {
    const file = join(trust, server, gunDir(gun), 'metadata', 'root.json');
    if (exists(file)) out.push(file);
  }
  return out;
}

/**
 * A notary-server URL as one identity: scheme, host (lower case, default port dropped) and path
 * without trailing slashes, so `https://Notary.example.com:443/` and `https://notary.example.com`
 * share one record.
 */
export function notaryServerId(server: string): string {
  let u: URL;
  try {
    u = new URL(server);
  } catch {
    throw new CliError(
      `not a URL: ${JSON.stringify(server)} (expected e.g. https://notary.docker.io)`,
      EXIT.USAGE,
    );
  }
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

/** The Notary role versions last verified from `server` for `gun` (see `tufa notary`). */
export function notaryRecordsPath(server: string, gun: string): string {
  const id = createHash('sha256').update(notaryServerId(server)).digest('hex').slice(0, 16);
  return join(tufaHome(), 'trust', 'notary', id, gunDir(gun), 'versions.json');
}

/** The directory a GUN is published in under a publish root. */
export function publishedDir(publishRoot: string, gun: string): string {
  return join(resolve(publishRoot), ...gun.split('/'));
}
