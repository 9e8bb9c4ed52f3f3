/**
 * Image references as Docker and the distribution project read them:
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] path            (at most 255 characters, domain included)
 *   domain     := host [ ":" port ]              host: DNS name, IPv4, or [IPv6]
 *   path       := component ( "/" component )*   component: [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
 *
 * The repository-name and tag grammars are the OCI distribution specification's ("Pulling
 * manifests"); the domain rule is Docker's: the first component is a registry only when it
 * holds a `.` or a `:`, is `localhost`, or has an upper-case letter (which a repository name
 * cannot). Otherwise the reference is on Docker Hub: `app` → `docker.io/library/app`,
 * `user/app` → `docker.io/user/app`, served by `registry-1.docker.io`. The GUN (the TUF
 * repository a tag is signed in) stays `docker.io/library/app`, as Docker Content Trust named
 * it, so migrated Notary GUNs match.
 *
 * Pure string logic: no I/O.
 */
import { UsageError } from '@tufa/core';
import { checkDigest, digestProblem } from './digest.js';

/** Docker Hub's name in references and GUNs, and the host that serves its API. */
export const DOCKER_HUB = 'docker.io';
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

export interface ImageReference {
  /** The registry as the name holds it: `docker.io`, `localhost:5000`, `[::1]:5000`, `ghcr.io`. */
  registry: string;
  /** The repository path on the registry: `library/app`, `team/app`. */
  repository: string;
  /** `registry/repository`: the GUN, e.g. `docker.io/library/app`. */
  name: string;
  tag: string | undefined;
  digest: string | undefined;
  /** Where the registry API is served: `registry-1.docker.io` for Docker Hub, else `registry`. */
  apiHost: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DNS_HOST =
  /^(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])(?:\.(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]))*$/;
const MAX_NAME = 255;

function invalid(text: string, why: string): UsageError {
  return new UsageError(`invalid image reference ${JSON.stringify(text)}: ${why}`);
}

/** Whether `tag` is a tag the distribution specification allows. */
export function isTag(tag: string): boolean {
  return TAG.test(tag);
}

/** Whether `repository` (without registry) is a repository name the distribution specification allows. */
export function isRepositoryName(repository: string): boolean {
  return repository.length > 0 && repository.split('/').every((c) => COMPONENT.test(c));
}

/** Why `domain` (`host[:port]`) is not a registry, or undefined. */
function domainProblem(domain: string): string | undefined {
  let host = domain;
  let port: string | undefined;
  const v6 = /^\[([0-9A-Fa-f:.]+)\](?::([0-9]+))?$/.exec(domain);
  if (v6) {
    // The WHATWG parser is a full IPv6 address check (compressed forms, embedded IPv4).
    try {
      new URL(`http://[${v6[1]}]/`);
    } catch {
      return `expected an IPv6 address in brackets, found ${JSON.stringify(domain)}`;
    }
    port = v6[2];
  } else {
    const i = domain.lastIndexOf(':');
    if (i >= 0) {
      host = domain.slice(0, i);
      port = domain.slice(i + 1);
    }
    if (!DNS_HOST.test(host)) {
      return `expected a registry host name, IPv4 address or [IPv6 address], found ${JSON.stringify(host)}`;
    }
  }
  if (port !== undefined && (!/^[0-9]{1,5}$/.test(port) || Number(port) > 65535)) {
    return `expected a port number from 0 to 65535 after the registry host, found ${JSON.stringify(port)}`;
  }
  return undefined;
}

/** Docker's rule for whether the first component of a name is a registry. */
function looksLikeDomain(first: string): boolean {
  return first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase();
}

/**
 * Parses `registry/repo:tag`, `registry/repo@sha256:…`, `registry/repo:tag@sha256:…` and
 * Docker Hub short names. Throws UsageError saying what was expected and what was found.
 */
export function parseImageReference(text: string): ImageReference {
  if (text.length === 0) throw invalid(text, 'expected a name such as registry.example.com/team/app:1.0');
  if (/[^\x21-\x7e]/.test(text)) throw invalid(text, 'expected printable ASCII without spaces');
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const problem = digestProblem(digest);
    if (problem !== undefined) throw invalid(text, `after "@": ${problem}`);
  }
  let tag: string | undefined;
  // A tag follows the last ':' after the last '/' (a ':' before it is the registry's port).
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/') && !rest.slice(colon).includes(']')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) {
      throw invalid(
        text,
        `expected a tag of at most 128 characters from A-Z a-z 0-9 _ . - (not starting with . or -), found ${JSON.stringify(tag)}`,
      );
    }
  }
  if (rest.length === 0) throw invalid(text, 'expected a repository name before the tag or digest');
  const slash = rest.indexOf('/');
  let registry: string;
  let repository: string;
  if (slash >= 0 && looksLikeDomain(rest.slice(0, slash))) {
    registry = rest.slice(0, slash);
    repository = rest.slice(slash + 1);
    const problem = domainProblem(registry);
    if (problem !== undefined) throw invalid(text, problem);
  } else {
    registry = DOCKER_HUB;
    repository = rest;
  }
  // Docker Hub's other spelling; its official images live under library/.
  if (registry === 'index.docker.io') registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  for (const component of repository.split('/')) {
    if (!COMPONENT.test(component)) {
      throw invalid(
        text,
        `expected repository path components of lower-case letters and digits, separated by ".", "_", "__" or "-", found ${JSON.stringify(component)}`,
      );
    }
  }
  const name = `${registry}/${repository}`;
  if (name.length > MAX_NAME) {
    throw invalid(text, `expected a name of at most ${MAX_NAME} characters, found ${name.length}`);
  }
  return {
    registry,
    repository,
    name,
    tag,
    digest,
    apiHost: registry === DOCKER_HUB ? DOCKER_HUB_API_HOST : registry,
  };
}

/** The reference written out in full: `registry/repo[:tag][@digest]`. */
export function formatImageReference(ref: ImageReference): string {
  return `${ref.name}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** The pinned reference `registry/repo@digest`, for `docker pull`, crane, skopeo or Kubernetes. */
export function pinnedReference(ref: ImageReference, digest: string): string {
  return `${ref.name}@${checkDigest(digest)}`;
}
