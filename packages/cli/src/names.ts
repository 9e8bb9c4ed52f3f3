/**
 * GUNs (globally unique names: the image repository a trust collection protects) and image
 * references, parsed like Docker does: `host:5000/team/app:1.0` splits at the last `:` after the
 * last `/`; `@sha256:` names a digest. Docker Hub short names become the GUNs Docker Content
 * Trust gave them (`app` → `docker.io/library/app`, `user/app` → `docker.io/user/app`), so a
 * repository migrated from Notary and the image reference a user types name the same GUN.
 */
import { showTagName } from '@tufa/core';
import { usage } from './cli-error.js';

const GUN_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

/** Docker Hub, as GUNs name it (Docker Content Trust's spelling), and its other spelling. */
export const DOCKER_HUB_GUN = 'docker.io';
const DOCKER_HUB_ALIAS = 'index.docker.io';

/**
 * Whether the first segment of a name is a registry: Docker's rule (it holds a `.` or a `:`, is
 * `localhost`, or has an upper-case letter, which a repository path cannot).
 */
function isRegistry(segment: string): boolean {
  return /[.:]/.test(segment) || segment === 'localhost' || /[A-Z]/.test(segment);
}

/**
 * A GUN as given, checked, and with Docker Hub named as Docker Content Trust named it: `app` →
 * `docker.io/library/app`, `user/app` → `docker.io/user/app`, `index.docker.io/app` →
 * `docker.io/library/app`. Names on any other registry are kept as given.
 */
export function checkGun(gun: string): string {
  const segments = gun.split('/');
  if (gun.length > 255 || segments.some((s) => !GUN_SEGMENT.test(s) || s === '.' || s === '..')) {
    throw usage(
      `not a repository name: ${JSON.stringify(gun)} (expected something like registry.example.com/team/app)`,
    );
  }
  let [first, ...rest] = segments as [string, ...string[]];
  if (rest.length === 0 || !isRegistry(first)) {
    rest = [first, ...rest];
    first = DOCKER_HUB_GUN;
  }
  if (first === DOCKER_HUB_ALIAS) first = DOCKER_HUB_GUN;
  if (first === DOCKER_HUB_GUN && rest.length === 1) rest = ['library', ...rest];
  const full = [first, ...rest].join('/');
  if (full.length > 255) {
    throw usage(`not a repository name: ${JSON.stringify(gun)} (${full} is longer than 255 characters)`);
  }
  return full;
}

/** A GUN as a file-name fragment (generated key names): `registry-example-com-team-app`. */
export function slug(gun: string): string {
  return gun.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

export interface ImageReference {
  gun: string;
  tag: string | undefined;
  digest: string | undefined;
}

/** Splits `GUN[:TAG][@sha256:HEX]`. */
export function parseImageReference(ref: string): ImageReference {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    checkDigest(digest);
  }
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  let tag: string | undefined;
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  return { gun: checkGun(rest), tag: tag === undefined ? undefined : checkTag(tag), digest };
}

/**
 * A tag as the command line takes it, for every command (looking up included): 1 to 255
 * characters without white space. Signing applies core's stricter `checkTagName` as well.
 */
export function checkTag(tag: string): string {
  if (tag.length === 0 || tag.length > 255 || /[\s\0]/.test(tag)) {
    throw usage(`not a tag: ${showTagName(tag)} (expected 1 to 255 characters without white space)`);
  }
  return tag;
}

/** `sha256:<64 hex>` → the hex. */
export function checkDigest(digest: string): string {
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!m?.[1]) {
    throw usage(`not a digest: ${JSON.stringify(digest)} (expected sha256: and 64 lower-case hex digits)`);
  }
  return m[1];
}

/** GUN + TAG from either `GUN TAG` or `GUN:TAG` (and an optional `@sha256:` digest). */
export function gunAndTag(first: string, second: string | undefined): ImageReference & { tag: string } {
  if (second !== undefined) {
    const r = parseImageReference(first);
    if (r.tag !== undefined || r.digest !== undefined) {
      throw usage(`give either GUN TAG or GUN:TAG, not both (${first} ${second})`);
    }
    return { gun: r.gun, tag: checkTag(second), digest: undefined };
  }
  const r = parseImageReference(first);
  if (r.tag === undefined) {
    if (r.digest !== undefined) {
      throw usage(
        `${first} names a digest but no tag: tufa verifies what a tag is signed as`,
        `tufa verify … ${r.gun}:TAG --digest ${r.digest}`,
      );
    }
    throw usage(`no tag in ${JSON.stringify(first)}`, `tufa … ${first}:TAG  (or: ${first} TAG)`);
  }
  return { ...r, tag: r.tag };
}
