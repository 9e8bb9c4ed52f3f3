/**
 * `$TUFA_HOME/config.json`: settings for every command on this machine, e.g.
 *
 *   { "tokenRealmHosts": ["auth.example.com"] }
 *
 * Read strictly, when a command needs it: duplicate keys, unknown fields (a misspelt setting
 * would otherwise be ignored in silence) and wrong types are refused with an error naming the
 * file and the field. Fields are looked up as own properties only, never through the prototype
 * (`__proto__`, `constructor`). A missing file means the defaults.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { normalizeRealmHost, parseJson, StorageError, UsageError } from '@tufa/core';
import { tufaHome } from './home.js';

export interface Settings {
  /** Hosts whose token realm may receive registry credentials, besides the server's own. */
  tokenRealmHosts: readonly string[];
}

const DEFAULTS: Settings = { tokenRealmHosts: [] };
const FIELDS = ['tokenRealmHosts'] as const;

export function settingsPath(): string {
  return join(tufaHome(), 'config.json');
}

function found(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

function invalid(path: string, field: string | undefined, message: string): UsageError {
  const e = new UsageError(`${path}${field === undefined ? '' : `: ${field}`}: ${message}`);
  return Object.assign(e, { hint: `fix or remove ${path} (see "$TUFA_HOME" in docs/cli.md)` });
}

function realmHosts(path: string, value: unknown): string[] {
  if (!Array.isArray(value)) {
    throw invalid(path, 'tokenRealmHosts', `expected an array of host names, found ${found(value)}`);
  }
  return value.map((h: unknown, i) => {
    if (typeof h !== 'string' || normalizeRealmHost(h) === undefined) {
      throw invalid(
        path,
        `tokenRealmHosts[${i}]`,
        `expected a host name or IP address without scheme, port or path (e.g. auth.example.com), found ${found(h)}`,
      );
    }
    return h;
  });
}

/** The settings of `$TUFA_HOME/config.json`, or the defaults when there is no such file. */
export async function readSettings(): Promise<Settings> {
  const path = settingsPath();
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return DEFAULTS;
    throw new StorageError(`cannot read ${path} (${code ?? String(e)})`, { cause: e });
  }
  let value: unknown;
  try {
    value = parseJson(bytes);
  } catch (e) {
    throw invalid(path, undefined, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(path, undefined, `expected a JSON object, found ${found(value)}`);
  }
  const known = new Set<string>(FIELDS);
  for (const key of Object.keys(value)) {
    if (!known.has(key)) {
      throw invalid(path, JSON.stringify(key), `unknown setting (expected one of: ${FIELDS.join(', ')})`);
    }
  }
  return {
    tokenRealmHosts: Object.hasOwn(value, 'tokenRealmHosts')
      ? realmHosts(path, (value as Record<string, unknown>)['tokenRealmHosts'])
      : [],
  };
}
