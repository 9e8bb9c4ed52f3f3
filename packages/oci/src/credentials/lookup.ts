/**
 * Where registry credentials come from, first match wins (ADR 0010):
 *
 * 1. `TUFA_REGISTRY_USERNAME` and `TUFA_REGISTRY_PASSWORD` (CI): both or neither;
 * 2. the Docker config, `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`):
 *    `credHelpers[registry]`, then `credsStore`, then `auths[registry]` — a helper that has
 *    nothing for the registry lets the search go on;
 * 3. podman/skopeo's `auth.json`: `$REGISTRY_AUTH_FILE`, or else
 *    `$XDG_RUNTIME_DIR/containers/auth.json`; its `auths` keys may name a namespace or
 *    repository (`quay.io/team`), the most specific matching key wins.
 *
 * Docker Hub is `https://index.docker.io/v1/` in the Docker config (its helpers are asked for
 * that URL), and `docker.io` in auth.json; keys are compared as Docker compares them
 * (`authKeyHost`: scheme and path dropped).
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '@tufa/core';
import { DOCKER_HUB } from '../reference.js';
import { type AuthEntry, type AuthFile, authKeyHost, readAuthFile } from './auth-file.js';
import { runCredentialHelper } from './helper.js';

export const USERNAME_ENV = 'TUFA_REGISTRY_USERNAME';
export const PASSWORD_ENV = 'TUFA_REGISTRY_PASSWORD';
/** The key Docker stores Docker Hub credentials under, and the URL its helpers are asked for. */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';
const HUB_HOSTS: readonly string[] = ['index.docker.io', 'docker.io', 'registry-1.docker.io'];

export type RegistryCredentials =
  | { username: string; password: string; source: string }
  | { identityToken: string; source: string };

export interface CredentialLookupOptions {
  /** Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** The home directory for `~/.docker/config.json`. Default `os.homedir()`. */
  homeDir?: string;
  /** Milliseconds a credential helper may take. Default 60 000. */
  helperTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface CredentialLookup {
  credentials: RegistryCredentials | undefined;
  /** Every place looked at, in order (for an error that says where no credentials were found). */
  searched: string[];
}

function fromEntry(entry: AuthEntry, source: string): RegistryCredentials | undefined {
  if (entry.identityToken !== undefined) return { identityToken: entry.identityToken, source };
  if (entry.username !== undefined && entry.password !== undefined) {
    return { username: entry.username, password: entry.password, source };
  }
  return undefined;
}

/** The hosts a key of the registry may be written as. */
function hostsOf(registry: string): readonly string[] {
  return registry === DOCKER_HUB ? HUB_HOSTS : [registry.toLowerCase()];
}

/** The one value under `exact`, or under every key that names the same host; two different ones are refused. */
function pick<T>(
  file: AuthFile,
  map: ReadonlyMap<string, T>,
  mapName: string,
  exact: string,
  hosts: readonly string[],
  same: (a: T, b: T) => boolean,
): [string, T] | undefined {
  const direct = map.get(exact);
  if (direct !== undefined) return [exact, direct];
  const matches = [...map].filter(([k]) => hosts.includes(authKeyHost(k)));
  const first = matches[0];
  if (first === undefined) return undefined;
  for (const [k, v] of matches.slice(1)) {
    if (!same(first[1], v)) {
      throw new UsageError(
        `${file.path}: ${mapName}: ${JSON.stringify(first[0])} and ${JSON.stringify(k)} name the same registry with different values (keep one)`,
      );
    }
  }
  return first;
}

const sameEntry = (a: AuthEntry, b: AuthEntry): boolean =>
  a.username === b.username && a.password === b.password && a.identityToken === b.identityToken;

async function fromHelper(
  name: string,
  serverUrl: string,
  source: string,
  options: CredentialLookupOptions,
): Promise<RegistryCredentials | undefined> {
  const got = await runCredentialHelper(name, serverUrl, {
    ...(options.env !== undefined ? { env: options.env } : {}),
    ...(options.helperTimeoutMs !== undefined ? { timeoutMs: options.helperTimeoutMs } : {}),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  });
  if (got === undefined) return undefined;
  if (got.identityToken !== undefined) return { identityToken: got.identityToken, source };
  return { username: got.username ?? '', password: got.password ?? '', source };
}

async function fromDockerConfig(
  file: AuthFile,
  registry: string,
  options: CredentialLookupOptions,
  searched: string[],
): Promise<RegistryCredentials | undefined> {
  const serverKey = registry === DOCKER_HUB ? DOCKER_HUB_AUTH_KEY : registry;
  const hosts = hostsOf(registry);
  const helper = pick(file, file.credHelpers, 'credHelpers', serverKey, hosts, (a, b) => a === b);
  if (helper !== undefined) {
    const source = `docker-credential-${helper[1]} (credHelpers in ${file.path})`;
    searched.push(source);
    const found = await fromHelper(helper[1], serverKey, source, options);
    if (found !== undefined) return found;
  }
  if (file.credsStore !== undefined) {
    const source = `docker-credential-${file.credsStore} (credsStore in ${file.path})`;
    searched.push(source);
    const found = await fromHelper(file.credsStore, serverKey, source, options);
    if (found !== undefined) return found;
  }
  searched.push(`auths in ${file.path}`);
  const entry = pick(file, file.auths, 'auths', serverKey, hosts, sameEntry);
  return entry && fromEntry(entry[1], `${file.path} auths[${JSON.stringify(entry[0])}]`);
}

function fromAuthJson(file: AuthFile, registry: string, repository: string): RegistryCredentials | undefined {
  // Most specific first: registry/a/b/c, registry/a/b, registry/a, then the registry itself.
  const parts = repository.split('/');
  const byKey = new Map<string, [string, AuthEntry]>();
  for (const [k, v] of file.auths) {
    const normal = k.replace(/^https?:\/\//i, '').replace(/\/+$/, '');
    const slash = normal.indexOf('/');
    const host = (slash >= 0 ? normal.slice(0, slash) : normal).toLowerCase();
    const path = slash >= 0 ? normal.slice(slash) : '';
    for (const h of hostsOf(registry)) {
      if (host !== h) continue;
      const key = `${path}`;
      const seen = byKey.get(key);
      if (seen !== undefined && !sameEntry(seen[1], v)) {
        throw new UsageError(
          `${file.path}: auths: ${JSON.stringify(seen[0])} and ${JSON.stringify(k)} name the same registry with different values (keep one)`,
        );
      }
      byKey.set(key, [k, v]);
    }
  }
  for (let n = parts.length; n >= 0; n--) {
    const key = n === 0 ? '' : `/${parts.slice(0, n).join('/')}`;
    const hit = byKey.get(key);
    if (hit !== undefined) return fromEntry(hit[1], `${file.path} auths[${JSON.stringify(hit[0])}]`);
  }
  return undefined;
}

/**
 * The credentials for `registry` (as in a reference: `docker.io`, `host:port`) and
 * `repository`, from the sources above, or none.
 */
export async function findRegistryCredentials(
  registry: string,
  repository: string,
  options: CredentialLookupOptions = {},
): Promise<CredentialLookup> {
  const env = options.env ?? process.env;
  const searched: string[] = [];
  const user = env[USERNAME_ENV];
  const pass = env[PASSWORD_ENV];
  searched.push(`${USERNAME_ENV}/${PASSWORD_ENV}`);
  if ((user ?? '') !== '' || (pass ?? '') !== '') {
    if (!user || !pass) {
      throw new UsageError(
        `expected both ${USERNAME_ENV} and ${PASSWORD_ENV} to be set, found only ${user ? USERNAME_ENV : PASSWORD_ENV}`,
      );
    }
    return {
      credentials: { username: user, password: pass, source: `${USERNAME_ENV}/${PASSWORD_ENV}` },
      searched,
    };
  }
  const dockerConfig = env['DOCKER_CONFIG']
    ? join(env['DOCKER_CONFIG'], 'config.json')
    : join(options.homeDir ?? homedir(), '.docker', 'config.json');
  const docker = await readAuthFile(dockerConfig);
  if (docker === undefined) searched.push(`${dockerConfig} (no such file)`);
  else {
    const found = await fromDockerConfig(docker, registry, options, searched);
    if (found !== undefined) return { credentials: found, searched };
  }
  const authJson = env['REGISTRY_AUTH_FILE']
    ? env['REGISTRY_AUTH_FILE']
    : env['XDG_RUNTIME_DIR']
      ? join(env['XDG_RUNTIME_DIR'], 'containers', 'auth.json')
      : undefined;
  if (authJson !== undefined) {
    const file = await readAuthFile(authJson);
    searched.push(file === undefined ? `${authJson} (no such file)` : `auths in ${authJson}`);
    const found = file && fromAuthJson(file, registry, repository);
    if (found !== undefined) return { credentials: found, searched };
  }
  return { credentials: undefined, searched };
}
