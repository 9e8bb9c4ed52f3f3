/**
 * One vocabulary for where repositories live, on every command (issues 11, 13 and 14):
 *
 * - `--publish-to <DIR | oci://REGISTRY/REPO | https://TRUST-SERVER>`: where a repository is
 *   written (`init`, `attach`); `--publish-root DIR` is its older spelling;
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

function httpUrl(value: string, flag: string): URL {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw usage(`${flag} ${JSON.stringify(value)}: not a URL (expected ${SERVER})`);
  }
  if (u.search !== '' || u.hash !== '' || u.username !== '' || u.password !== '') {
    throw usage(
      `${flag} ${JSON.stringify(`${u.protocol}//${u.host}${u.pathname}`)}…: expected a URL without credentials, query or fragment`,
    );
  }
  return u;
}

/**
 * Where a repository is written. A directory is made on publish if missing; a trust server is
 * refused for now (see `refuseTrustServer`).
 */
export function parsePublishTo(value: string, flag = '--publish-to'): Location {
  const scheme = schemeOf(value);
  if (scheme === undefined) {
    if (value.length === 0) throw usage(`${flag} is empty (expected ${PUBLISH_TO})`);
    return { kind: 'dir', dir: resolve(value) };
  }
  if (scheme === 'oci') return ociLocation(value, flag, 'oci://REGISTRY/REPOSITORY');
  if (scheme === 'https' || scheme === 'http') {
    httpUrl(value, flag);
    return refuseTrustServer(value, flag);
  }
  throw usage(`${flag} ${JSON.stringify(value)}: unsupported location (expected ${PUBLISH_TO})`);
}

/**
 * Publishing to a trust server (issue 15) is not built yet: the one place that says so, which
 * the trust-server work replaces with its `RepositoryStorage`.
 */
export function refuseTrustServer(url: string, flag = '--publish-to'): never {
  throw usage(
    `${flag} ${JSON.stringify(url)}: publishing to a trust server is not supported yet by this command`,
    `${flag} DIR (then serve it: tufa serve DIR), or ${flag} oci://REGISTRY/REPOSITORY`,
  );
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
  // Kept as given (trailing `/` aside): the trust cache is keyed by it.
  if (scheme === 'https') {
    httpUrl(value, flag);
    return { kind: 'http', url: value.replace(/\/+$/, '') };
  }
  if (scheme === 'http') {
    const u = httpUrl(value, flag);
    if (!isLoopbackUrl(u)) {
      throw usage(
        `${flag} ${JSON.stringify(value)}: plain http is allowed for loopback servers only (expected https://)`,
        `${flag} https://${u.host}${u.pathname}`,
      );
    }
    return { kind: 'http', url: value.replace(/\/+$/, '') };
  }
  throw usage(`${flag} ${JSON.stringify(value)}: unsupported location (expected ${SERVER})`);
}

/** How a location is named in messages and in the trust cache: URLs as given, directories absolute. */
export function locationId(l: Location): string {
  return l.kind === 'dir' ? l.dir : l.kind === 'oci' ? l.location : l.url;
}
