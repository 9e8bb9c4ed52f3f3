/**
 * Docker's `config.json` and podman/skopeo's `auth.json`, read strictly for the fields that hold
 * registry credentials (DESIGN rules 2 and 4): strict JSON (a duplicate key is refused: two
 * readers must not log in as two users), own properties only, every field we read of the type
 * Docker writes. Fields we do not read (psFormat, proxies, plugins, …) are Docker's business and
 * left alone. Errors name the file and the field, never a value: these files hold passwords.
 */
import { readFile } from 'node:fs/promises';
import { parseJson, StorageError, UsageError } from '@tufa/core';

/** One `auths` entry as Docker writes it. */
export interface AuthEntry {
  /** From `auth` (base64 of `user:password`) or the `username` field. */
  username: string | undefined;
  password: string | undefined;
  /** `identitytoken`: an OAuth2 refresh token (ACR, Docker Desktop). */
  identityToken: string | undefined;
}

/** The credential-relevant part of a Docker config file or an auth.json. */
export interface AuthFile {
  path: string;
  /** Key as written → entry, in file order. */
  auths: ReadonlyMap<string, AuthEntry>;
  /** `credsStore`: the helper for every registry without its own. */
  credsStore: string | undefined;
  /** `credHelpers`: registry key → helper name. */
  credHelpers: ReadonlyMap<string, string>;
}

/** What `docker-credential-<name>` may be called: no path separators, nothing a shell reads. */
const HELPER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const own = (o: Record<string, unknown>, k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined);
const typeName = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

function bad(path: string, field: string, message: string): UsageError {
  return new UsageError(`${path}: ${field}: ${message}`);
}

/** `auths["key"]` as an error names it (JSON-escaped: a key is third-party text). */
const field = (parent: string, key: string): string => `${parent}[${JSON.stringify(key)}]`;

function checkHelperName(path: string, where: string, name: unknown): string {
  if (typeof name !== 'string') throw bad(path, where, `expected a string, found ${typeName(name)}`);
  if (!HELPER_NAME.test(name)) {
    throw bad(
      path,
      where,
      `expected a credential helper name (letters, digits, ".", "_", "-"; it runs docker-credential-NAME), found ${JSON.stringify(name)}`,
    );
  }
  return name;
}

function optionalString(
  path: string,
  where: string,
  o: Record<string, unknown>,
  k: string,
): string | undefined {
  const v = own(o, k);
  if (v === undefined || v === null) return undefined;
  // Never echo the value: it may be a password or token.
  if (typeof v !== 'string') throw bad(path, `${where}.${k}`, `expected a string, found ${typeName(v)}`);
  return v === '' ? undefined : v;
}

function parseAuthEntry(path: string, where: string, v: unknown): AuthEntry {
  if (!isObject(v)) throw bad(path, where, `expected an object, found ${typeName(v)}`);
  let username = optionalString(path, where, v, 'username');
  let password = optionalString(path, where, v, 'password');
  const auth = optionalString(path, where, v, 'auth');
  if (auth !== undefined) {
    // Docker writes standard base64 of "user:password" (a password may hold ':').
    const decoded =
      /^[A-Za-z0-9+/]*={0,2}$/.test(auth) && auth.length % 4 === 0 ? Buffer.from(auth, 'base64') : undefined;
    const text = decoded?.toString('utf8');
    const sep = text?.indexOf(':') ?? -1;
    if (text === undefined || sep <= 0 || !Buffer.from(text, 'utf8').equals(decoded as Buffer)) {
      throw bad(path, `${where}.auth`, 'expected base64 of "user:password" (the value is not shown)');
    }
    username = text.slice(0, sep);
    password = text.slice(sep + 1);
  }
  return {
    username,
    password,
    identityToken: optionalString(path, where, v, 'identitytoken'),
  };
}

/** Parses the text of a Docker config or auth.json found at `path`. */
export function parseAuthFile(path: string, bytes: Uint8Array): AuthFile {
  let doc: unknown;
  try {
    doc = parseJson(bytes);
  } catch (e) {
    throw new UsageError(`${path}: not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isObject(doc)) throw new UsageError(`${path}: expected a JSON object, found ${typeName(doc)}`);
  const auths = new Map<string, AuthEntry>();
  const rawAuths = own(doc, 'auths');
  if (rawAuths !== undefined && rawAuths !== null) {
    if (!isObject(rawAuths)) throw bad(path, 'auths', `expected an object, found ${typeName(rawAuths)}`);
    for (const [key, value] of Object.entries(rawAuths)) {
      auths.set(key, parseAuthEntry(path, field('auths', key), value));
    }
  }
  const rawStore = own(doc, 'credsStore');
  const credsStore =
    rawStore === undefined || rawStore === null || rawStore === ''
      ? undefined
      : checkHelperName(path, 'credsStore', rawStore);
  const credHelpers = new Map<string, string>();
  const rawHelpers = own(doc, 'credHelpers');
  if (rawHelpers !== undefined && rawHelpers !== null) {
    if (!isObject(rawHelpers))
      throw bad(path, 'credHelpers', `expected an object, found ${typeName(rawHelpers)}`);
    for (const [key, value] of Object.entries(rawHelpers)) {
      credHelpers.set(key, checkHelperName(path, field('credHelpers', key), value));
    }
  }
  return { path, auths, credsStore, credHelpers };
}

/** Reads and parses `path`; `undefined` when there is no such file. */
export async function readAuthFile(path: string): Promise<AuthFile | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new StorageError(`cannot read ${path} (${typeof code === 'string' ? code : 'unknown error'})`, {
      cause: e,
    });
  }
  return parseAuthFile(path, bytes);
}

/**
 * A key of `auths` or `credHelpers` reduced to the registry it names, as Docker does
 * (`ConvertToHostname`): `https://host/v1/`, `http://host`, `host/path` → `host`.
 */
export function authKeyHost(key: string): string {
  const stripped = key.replace(/^https?:\/\//i, '');
  const slash = stripped.indexOf('/');
  return (slash >= 0 ? stripped.slice(0, slash) : stripped).toLowerCase();
}
