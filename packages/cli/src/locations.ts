/**
 * One vocabulary for where repositories live, on every command (issues 11, 13 and 14):
 *
 * - `--publish-to <DIR | oci://REGISTRY/REPO | https://TRUST-SERVER>`: where a repository is
 *   written (`init`, `attach`, `publish --to`, `notary migrate`); `--publish-root DIR` is its
 *   older spelling;
 * - `--server <https://… | http://LOOPBACK… | oci://REGISTRY/REPO | DIR>`: where metadata is read
 *   (`verify`, `lookup`, `list`, `inspect`, `resolve`).
 *
 * Parsed here once, before anything is read or written, so that a mistyped location (`ftp://x`,
 * a URL that does not parse) is a usage error naming what was given rather than "timestamp.json
 * is missing" later on.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { isLoopbackUrl } from '@tufa/core';
import { CliError, usage } from './cli-error.js';
import { EXIT } from './exit-codes.js';

/** A directory, a TUF-in-OCI repository, or an HTTP(S) server. */
export type Location =
  | { kind: 'dir'; dir: string }
  | { kind: 'oci'; location: string }
  | { kind: 'http'; url: string };

const PUBLISH_TO = 'DIR, oci://REGISTRY/REPOSITORY or https://TRUST-SERVER';
const SERVER = 'https://SERVER, http://127.0.0.1:PORT (loopback only), oci://REGISTRY/REPOSITORY or DIR';

/** `scheme://…`: a URL (of a scheme tufa may not know), never a directory name. */
function schemeOf(value: string): string | undefined {
  return /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(value)?.[1]?.toLowerCase();
}

function ociLocation(value: string, flag: string, expected: string): Location {
  const rest = value.slice('oci://'.length).replace(/\/+$/, '');
  // The reference grammar itself is checked where the location is used (parseOciLocation),
  // which names the part that is wrong; here only its shape.
  if (!rest.includes('/') || /[@\s]/.test(rest)) {
    throw usage(
      `${flag} ${JSON.stringify(value)}: expected oci://REGISTRY/REPOSITORY (e.g. oci://registry.example.com/team/app)`,
      `${flag} ${expected}`,
    );
  }
  return { kind: 'oci', location: `oci://${rest}` };
}

function httpUrl(value: string, flag: string, expected: string): URL {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw usage(`${flag} ${JSON.stringify(value)}: not a URL (expected ${expected})`);
  }
  if (u.search !== '' || u.hash !== '' || u.username !== '' || u.password !== '') {
    throw usage(
      `${flag} ${JSON.stringify(`${u.protocol}//${u.host}${u.pathname}`)}…: expected a URL without credentials, query or fragment`,
    );
  }
  return u;
}

/**
 * Where a repository is written: a directory (made on publish if missing), a registry, or a
 * trust server — `https://` anywhere, `http://` only on loopback, as for `--server`.
 */
export function parsePublishTo(value: string, flag = '--publish-to'): Location {
  const scheme = schemeOf(value);
  if (scheme === undefined) {
    if (value.length === 0) throw usage(`${flag} is empty (expected ${PUBLISH_TO})`);
    return { kind: 'dir', dir: resolve(value) };
  }
  if (scheme === 'oci') return ociLocation(value, flag, 'oci://REGISTRY/REPOSITORY');
  if (scheme === 'https' || scheme === 'http') return serverUrl(value, flag, PUBLISH_TO);
  throw usage(`${flag} ${JSON.stringify(value)}: unsupported location (expected ${PUBLISH_TO})`);
}

/**
 * An HTTP(S) server: `https://` anywhere; `http://` only on loopback (anything else could be
 * changed on the way, and credentials could be read). Kept as given, trailing `/` aside: the
 * trust cache is keyed by it.
 */
function serverUrl(value: string, flag: string, expected: string): Location {
  const u = httpUrl(value, flag, expected);
  if (u.protocol === 'http:' && !isLoopbackUrl(u)) {
    throw usage(
      `${flag} ${JSON.stringify(value)}: plain http is allowed for loopback servers only (expected https://)`,
      `${flag} https://${u.host}${u.pathname}`,
    );
  }
  return { kind: 'http', url: value.replace(/\/+$/, '') };
}

/**
 * Where metadata is read. `https://` anywhere; `http://` only on loopback (anything else could be
 * changed on the way, and credentials could be read); a directory that exists.
 */
export function parseServer(value: string, flag = '--server'): Location {
  const scheme = schemeOf(value);
  if (scheme === undefined) {
    if (value.length === 0) throw usage(`${flag} is empty (expected ${SERVER})`);
    const dir = resolve(value);
    if (!existsSync(dir)) {
      throw new CliError(
        `${flag} ${value}: no such directory (${dir})`,
        EXIT.NOT_FOUND,
        `${flag} https://SERVER, or the publish root the repository was published under`,
      );
    }
    if (!statSync(dir).isDirectory()) throw usage(`${flag} ${value}: not a directory (${dir})`);
    return { kind: 'dir', dir };
  }
  if (scheme === 'oci') return ociLocation(value, flag, 'oci://REGISTRY/REPOSITORY');
  if (scheme === 'https' || scheme === 'http') return serverUrl(value, flag, SERVER);
  throw usage(`${flag} ${JSON.stringify(value)}: unsupported location (expected ${SERVER})`);
}

/** How a location is named in messages and in the trust cache: URLs as given, directories absolute. */
export function locationId(l: Location): string {
  return l.kind === 'dir' ? l.dir : l.kind === 'oci' ? l.location : l.url;
}
