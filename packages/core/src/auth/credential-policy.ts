/**
 * Which token realm may receive the user's registry credentials (DESIGN rule 12).
 *
 * Docker's token flow (the "Bearer" challenge of RFC 6750 §3 as registries and notary-server
 * use it) lets a server name, in a 401 answer, the URL where the client should log in. Sent
 * blindly, the user's password goes wherever that answer says — and when the answer arrived
 * over plain http, anyone on the path writes it. Credentials go to a realm only when:
 *
 *  (a) the challenge arrived over https, or over plain http from a loopback host;
 *  (b) the realm is https, or plain http on a loopback host;
 *  (c) the realm's host is the server's host, a token service Docker Hub is known to use for
 *      that server ({@link BUILT_IN_REALM_HOSTS}), or a host the user allowed explicitly;
 *  and no redirect on the way to the challenge left the origin the user named.
 *
 * Pure URL logic: no I/O and no `node:` imports, so any registry or Notary client (and any JS
 * runtime) uses this one rule. The caller parses the realm once and fetches exactly the URL it
 * checked here.
 *
 * Loopback, precisely: the host name `localhost` (exactly; not `localhost.`, not
 * `*.localhost`), IPv4 127.0.0.0/8 in any spelling the WHATWG URL parser reduces to it
 * (`127.1`, `0x7f.0.0.1`), and IPv6 `::1`. IPv4-mapped IPv6 (`::ffff:127.0.0.1`) and
 * `0.0.0.0` are not loopback. Plain http through a proxy is never loopback: the proxy reads it.
 *
 * "Host" means the host name: a port is not part of it. TLS authenticates a name, not a port, so
 * a realm on another port of the server's host is that server's operator (Harbor and the
 * registry's own token server do this).
 */

/** Server host → hosts of its token service, as Docker Hub runs them. */
export const BUILT_IN_REALM_HOSTS: ReadonlyMap<string, readonly string[]> = new Map([
  ['notary.docker.io', ['auth.docker.io']],
  ['registry-1.docker.io', ['auth.docker.io']],
  ['index.docker.io', ['auth.docker.io']],
]);

export interface CredentialPolicyInput {
  /** The server the user named (only its origin counts), e.g. `https://notary.docker.io`. */
  server: string;
  /** The URL the 401 answer with the challenge came from (after any redirects). */
  challengeUrl: string;
  /** Whether a redirect on the way to the challenge went to another origin (even if it came back). */
  crossOriginRedirect: boolean;
  /** The `realm` the challenge names. */
  realm: string;
  /** Host names the user allows as token realms for any server (see {@link normalizeRealmHost}). */
  allowedRealmHosts?: Iterable<string>;
  /**
   * Whether a request to `url` would go through a proxy. Plain http to a loopback host through a
   * proxy is not loopback. Default: never.
   */
  viaProxy?: (url: URL) => boolean;
}

/** Why credentials were refused; stable strings callers may switch on. */
export type CredentialRefusal =
  /** The server, challenge or realm URL is not an absolute http(s) URL tufa sends verbatim. */
  | 'invalid-url'
  /** A URL carries `user:password@`. */
  | 'userinfo'
  /** A redirect went to another origin before the challenge, or it came from another origin. */
  | 'cross-origin-redirect'
  /** The challenge came over plain http from a host that is not loopback. */
  | 'insecure-challenge'
  /** The realm is plain http on a host that is not loopback. */
  | 'insecure-realm'
  /** The realm's host is not the server's, not a built-in pair, not allowed by the user. */
  | 'realm-host';

/** Why a realm may receive credentials. */
export type CredentialGrant = 'same-host' | 'built-in' | 'user-allowed';

export type CredentialDecision =
  | { allowed: true; grant: CredentialGrant; serverHost: string; realmHost: string }
  | {
      allowed: false;
      refusal: CredentialRefusal;
      /** What was expected and what was found; names hosts only, never a whole URL. */
      reason: string;
      /** Host names as parsed (undefined when that URL did not parse). */
      serverHost: string | undefined;
      realmHost: string | undefined;
    };

/** Printable ASCII without `\`: what an http(s) URL may hold before the WHATWG parser rewrites it. */
const VERBATIM_URL = /^[\x21-\x5b\x5d-\x7e]+$/;

function parseHttpUrl(s: string): URL | undefined {
  // Whitespace, control characters and `\` are removed or rewritten by the WHATWG parser, so
  // another parser (or a fetcher that sends the string verbatim) could see another host.
  if (!VERBATIM_URL.test(s)) return undefined;
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return undefined;
  }
  return u.protocol === 'https:' || u.protocol === 'http:' ? u : undefined;
}

/** A host name compared case-insensitively and without one trailing dot (`example.com.`). */
function hostKey(u: URL): string {
  return u.hostname.replace(/\.$/, '');
}

/** Loopback as defined above. Takes a parsed URL: its host is already in WHATWG canonical form. */
export function isLoopbackUrl(u: URL): boolean {
  const h = u.hostname;
  if (h === 'localhost' || h === '[::1]') return true;
  // The WHATWG parser has reduced every IPv4 spelling to four decimal octets.
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * A user-given realm host (`auth.example.com`, `127.0.0.1`, `[::1]`) in the form the policy
 * compares: lower case, no trailing dot. `undefined` for anything else (a scheme, a port, a
 * path, user info, a wildcard, an empty string).
 */
export function normalizeRealmHost(entry: string): string | undefined {
  // A DNS name (no empty label) or IPv4 address, or an IPv6 address in brackets; nothing else
  // (no `:port`: the parser would drop a default port silently).
  if (entry.length > 254 || !/^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?|\[[0-9A-Fa-f:.]+\])$/.test(entry)) {
    return undefined;
  }
  let u: URL;
  try {
    u = new URL(`https://${entry}/`);
  } catch {
    return undefined;
  }
  const key = hostKey(u);
  return key === '' ? undefined : key;
}

/** Decides whether the realm of a Bearer challenge may receive the user's credentials. */
export function mayReceiveCredentials(input: CredentialPolicyInput): CredentialDecision {
  const server = parseHttpUrl(input.server);
  const challenge = parseHttpUrl(input.challengeUrl);
  const realm = parseHttpUrl(input.realm);
  const serverHost = server?.hostname;
  const realmHost = realm?.hostname;
  const refuse = (refusal: CredentialRefusal, reason: string): CredentialDecision => ({
    allowed: false,
    refusal,
    reason,
    serverHost,
    realmHost,
  });
  if (!server) return refuse('invalid-url', 'the server is not an absolute http(s) URL');
  if (!challenge) return refuse('invalid-url', 'the challenge URL is not an absolute http(s) URL');
  if (!realm) return refuse('invalid-url', 'the token realm is not an absolute http(s) URL');
  for (const [what, u] of [
    ['server', server],
    ['challenge', challenge],
    ['token realm', realm],
  ] as const) {
    if (u.username !== '' || u.password !== '')
      return refuse('userinfo', `the ${what} URL carries user information (user@ or user:password@)`);
  }
  const viaProxy = input.viaProxy ?? (() => false);
  const directLoopback = (u: URL) => isLoopbackUrl(u) && !viaProxy(u);

  // Never after a redirect to another origin: that origin chose what we see next.
  if (input.crossOriginRedirect) {
    return refuse(
      'cross-origin-redirect',
      `expected the challenge from ${server.origin} itself, found a redirect to another origin before it`,
    );
  }
  if (challenge.origin !== server.origin) {
    return refuse(
      'cross-origin-redirect',
      `expected the challenge from ${server.origin}, found it from ${challenge.origin}`,
    );
  }
  // (a) Over plain http anyone on the path writes the challenge, and with it the realm.
  if (challenge.protocol !== 'https:' && !directLoopback(challenge)) {
    return refuse(
      'insecure-challenge',
      `expected the challenge over https (or http from a loopback address, without a proxy), found plain http from ${challenge.host}`,
    );
  }
  // (b) The credentials themselves must not cross the network in clear text.
  if (realm.protocol !== 'https:' && !directLoopback(realm)) {
    return refuse(
      'insecure-realm',
      `expected an https realm (or http on a loopback address, without a proxy), found plain http on ${realm.host}`,
    );
  }
  // (c) Only the server's own host, its known token service, or a host the user named.
  const s = hostKey(server);
  const r = hostKey(realm);
  const allowed = (grant: CredentialGrant): CredentialDecision => ({
    allowed: true,
    grant,
    serverHost: server.hostname,
    realmHost: realm.hostname,
  });
  if (r === s) return allowed('same-host');
  if (BUILT_IN_REALM_HOSTS.get(s)?.includes(r)) return allowed('built-in');
  for (const entry of input.allowedRealmHosts ?? []) {
    if (normalizeRealmHost(entry) === r) return allowed('user-allowed');
  }
  const pair = BUILT_IN_REALM_HOSTS.get(s);
  return refuse(
    'realm-host',
    `expected the realm on ${server.hostname}${pair ? `, ${pair.join(', ')}` : ''} or a host allowed explicitly, found ${realm.hostname}`,
  );
}
