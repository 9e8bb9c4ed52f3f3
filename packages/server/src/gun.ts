/**
 * Globally unique names (GUNs): the repository a GUN's metadata belongs to, as notary named
 * them — an image repository with its registry host, `registry.example.com/team/app`. A GUN
 * becomes a directory path and a URL path prefix, so it is checked before anything else sees it
 * (DESIGN rule 9): docker's repository grammar, lower case, no segment that a file name or a
 * route could misread.
 */
import { UnsafeNameError } from '@tufa/core';

/** The longest GUN accepted (docker's limit on a repository name with its host). */
export const MAX_GUN_LENGTH = 255;

/** A path component of a docker repository name: lower-case letters and digits, `._-` inside. */
const COMPONENT = /^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$/;
/** The first segment may be a registry host with a port. */
const HOST_WITH_PORT = /^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?:[0-9]{1,5}$/;
/**
 * Segments that would share a directory with a GUN's own files (`metadata/`, `targets/`) or
 * name the server's routes (`_tufa`, which the grammar refuses anyway).
 */
const RESERVED = new Set(['metadata', 'targets', 'keys']);

/** GUNs accepted already: every request names one, and the same few are asked for again and again. */
const accepted = new Set<string>();
const MAX_ACCEPTED = 10_000;

/**
 * Returns `gun` when it is a GUN this server accepts.
 * @throws {UnsafeNameError} anything else: empty, too long, a segment outside the grammar
 *   (upper case, `..`, a leading dot, percent signs, control characters), or a reserved segment.
 */
export function checkGun(gun: string): string {
  if (accepted.has(gun)) return gun;
  if (typeof gun !== 'string' || gun.length === 0 || gun.length > MAX_GUN_LENGTH) {
    throw new UnsafeNameError(
      `expected a repository name (GUN) of 1 to ${MAX_GUN_LENGTH} characters, found ${typeof gun === 'string' ? `${gun.length} characters` : typeof gun}`,
    );
  }
  const segments = gun.split('/');
  segments.forEach((s, i) => {
    const ok = COMPONENT.test(s) || (i === 0 && segments.length > 1 && HOST_WITH_PORT.test(s));
    if (!ok || s.includes('..')) {
      throw new UnsafeNameError(
        `repository name ${JSON.stringify(gun)}: segment ${JSON.stringify(s)} is not a docker repository component (lower-case letters, digits, and . _ - between them)`,
      );
    }
    if (RESERVED.has(s)) {
      throw new UnsafeNameError(
        `repository name ${JSON.stringify(gun)}: the segment ${JSON.stringify(s)} is reserved (it names the server's files and routes)`,
      );
    }
  });
  if (accepted.size >= MAX_ACCEPTED) accepted.clear();
  accepted.add(gun);
  return gun;
}
