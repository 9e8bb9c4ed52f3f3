/**
 * Docker's token flow, one implementation for every client that meets a `Bearer` challenge (a
 * notary-server, an OCI registry): ask the challenge's realm for a token, sending the user's
 * credentials only when the credential policy allows it (DESIGN rule 12).
 *
 * Two ways to ask, as the distribution project's token specification describes them:
 * - `GET realm?service=…&scope=…` with `Authorization: Basic` (user name and password) or none
 *   (anonymous), answered with `{"token": …}` or `{"access_token": …}`;
 * - `POST realm` with an OAuth2 refresh token (`grant_type=refresh_token`), the identity token
 *   `docker login` stores for Azure Container Registry and Docker Desktop, answered with
 *   `{"access_token": …}`.
 */
import { isLoopbackUrl, mayReceiveCredentials, normalizeRealmHost } from '../auth/credential-policy.js';
import {
  CredentialsRefusedError,
  FetchError,
  FormatError,
  TimeoutError,
  TufError,
  UsageError,
} from '../errors.js';
import { HttpFetcher, type HttpFetcherOptions, proxyForUrl } from './http-fetcher.js';

/** A parsed `WWW-Authenticate: Bearer realm=…,service=…,scope=…` challenge. */
export interface BearerChallenge {
  realm: string;
  service: string | undefined;
  scope: string | undefined;
}

/** A `WWW-Authenticate` header split into its scheme and auth-params (RFC 9110 §11.6.1). */
export interface AuthChallenge {
  /** Lower case, e.g. `bearer`, `basic`. */
  scheme: string;
  /** Parameter names in lower case; the first of a repeated name counts. */
  params: ReadonlyMap<string, string>;
}

/**
 * Parses one `WWW-Authenticate` header holding one challenge: `Scheme name=value, name="quoted"`.
 * `undefined` when it is not of that form.
 */
export function parseAuthChallenge(header: string): AuthChallenge | undefined {
  const m = /^\s*([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)(?:\s+(.*))?$/s.exec(header);
  if (!m?.[1]) return undefined;
  const params = new Map<string, string>();
  const re = /([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*(?:,|$)/g;
  for (const p of (m[2] ?? '').matchAll(re)) {
    const name = (p[1] ?? '').toLowerCase();
    const value = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
    if (!params.has(name)) params.set(name, value);
  }
  return { scheme: m[1].toLowerCase(), params };
}

/** Parses a Bearer challenge (RFC 6750 §3 auth-params); `undefined` for other schemes or no realm. */
export function parseBearerChallenge(header: string): BearerChallenge | undefined {
  const c = parseAuthChallenge(header);
  if (c?.scheme !== 'bearer') return undefined;
  const realm = c.params.get('realm');
  if (!realm) return undefined;
  return { realm, service: c.params.get('service'), scope: c.params.get('scope') };
}

/** What a token realm may be sent: a user name and password, or an identity (refresh) token. */
export type TokenCredentials = { username: string; password: string } | { identityToken: string };

/**
 * A Docker token exchange to perform: the `WWW-Authenticate: Bearer` challenge, where it came from,
 * and the credentials that may go to the realm only if the credential policy allows it (DESIGN rule
 * 12).
 */
export interface BearerTokenRequest {
  /** The URL whose answer carried the challenge, as the user's request named it (its origin is the server). */
  server: string;
  /** The URL that answered with the challenge, after redirects. */
  challengeUrl: string;
  /** Whether a redirect on the way to the challenge went to another origin. */
  crossOriginRedirect: boolean;
  challenge: BearerChallenge;
  /** Scopes to ask for, e.g. `repository:team/app:pull`; none: the challenge's own `scope`. */
  scopes?: readonly string[];
  /** Absent: an anonymous request, which carries no secret. */
  credentials?: TokenCredentials;
  /** Hosts the user allows as token realms besides the server's own (`mayReceiveCredentials`). */
  allowedRealmHosts?: readonly string[];
  /** The OAuth2 `client_id` of a refresh-token exchange. Default `tufa`. */
  clientId?: string;
  /** Transport options (CA, proxies, timeouts). Configured `headers` are for the server: never sent here. */
  http?: HttpFetcherOptions;
  signal: AbortSignal;
  /** Bytes of the token answer to read at most. Default 1 MiB. */
  maxLength?: number;
  /** Milliseconds for the whole exchange. Default 60 000. */
  timeoutMs?: number;
}

/** A token from a registry's token realm, for the `Authorization: Bearer` header. */
export interface BearerToken {
  /** The token itself: a secret, never logged. */
  token: string;
  /** Seconds the token is valid, when the realm said (`expires_in`). */
  expiresIn: number | undefined;
}

/**
 * Checks user-given realm hosts; the error names the bad entry.
 * @throws {@link errors!UsageError | UsageError} an entry is not a host name.
 */
export function checkRealmHosts(hosts: readonly string[] | undefined): string[] {
  for (const h of hosts ?? []) {
    if (normalizeRealmHost(h) === undefined) {
      throw new UsageError(
        `not a token realm host: ${JSON.stringify(h)} (expected a host name or IP address, without scheme, port or path)`,
      );
    }
  }
  return [...(hosts ?? [])];
}

/** Whether a request to `u` goes through a proxy under `env` (an unusable proxy setting counts as one). */
function viaProxy(u: URL, env: Readonly<Record<string, string | undefined>> | undefined): boolean {
  try {
    return proxyForUrl(u.href, env ?? process.env) !== undefined;
  } catch {
    return true;
  }
}

/**
 * Asks the challenge's realm for a token. With credentials, throws `CredentialsRefusedError`
 * (before sending anything) unless the credential policy allows this realm; the caller decides
 * whether to try again anonymously. Token values never appear in errors.
 * @throws {@link errors!CredentialsRefusedError | CredentialsRefusedError} credentials were given
 *   and the policy refuses this realm (nothing was sent).
 * @throws {@link errors!FetchError | FetchError} the realm is not a URL, is plain HTTP, or answered
 *   with an error or no token.
 * @throws {@link errors!TimeoutError | TimeoutError} no token arrived in time.
 */
export async function requestBearerToken(req: BearerTokenRequest): Promise<BearerToken> {
  const { challenge: c } = req;
  const env = req.http?.env;
  if (req.credentials !== undefined) {
    const d = mayReceiveCredentials({
      server: req.server,
      challengeUrl: req.challengeUrl,
      crossOriginRedirect: req.crossOriginRedirect,
      realm: c.realm,
      allowedRealmHosts: checkRealmHosts(req.allowedRealmHosts),
      viaProxy: (u) => viaProxy(u, env),
    });
    if (!d.allowed) {
      throw new CredentialsRefusedError(
        `refusing to send the credentials for ${d.serverHost ?? 'the server'} to the token realm ${
          d.realmHost === undefined ? 'it names' : `on ${d.realmHost}`
        }: ${d.reason}`,
        d.refusal,
        d.serverHost,
        d.realmHost,
      );
    }
  }
  let realm: URL;
  try {
    realm = new URL(c.realm);
  } catch {
    throw new FetchError(`${originOf(req.challengeUrl)}: the token realm in the challenge is not a URL`);
  }
  if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && isLoopbackUrl(realm))) {
    throw new FetchError(`refusing to ask ${realm.origin} for a token over plain HTTP`);
  }
  if (realm.username !== '' || realm.password !== '') {
    throw new FetchError(
      `${originOf(req.challengeUrl)}: the token realm in the challenge carries user information`,
    );
  }
  const scopes = req.scopes ?? (c.scope !== undefined ? [c.scope] : []);
  // Only the token request's own headers: configured headers are for the server, not the realm.
  const { headers: _serverHeaders, ...transport } = req.http ?? {};
  const fetcher = new HttpFetcher(transport);
  const timeoutMs = req.timeoutMs ?? 60_000;
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = AbortSignal.any([req.signal, deadline]);
  try {
    return await exchangeToken(fetcher, realm, c, scopes, req, signal);
  } catch (e) {
    if (deadline.aborted && !req.signal.aborted) {
      throw new TimeoutError(`${realm.origin}: no token within ${timeoutMs} ms`);
    }
    if (e instanceof TufError) throw e;
    throw new FetchError(`${realm.origin}: the token request failed`, undefined, { cause: e });
  }
}

async function exchangeToken(
  fetcher: HttpFetcher,
  realm: URL,
  c: BearerChallenge,
  scopes: readonly string[],
  req: BearerTokenRequest,
  signal: AbortSignal,
): Promise<BearerToken> {
  const maxLength = req.maxLength ?? 1 << 20;
  let response: Awaited<ReturnType<HttpFetcher['request']>>;
  const creds = req.credentials;
  if (creds !== undefined && 'identityToken' in creds) {
    // OAuth2 refresh-token grant (RFC 6749 §6); scopes space-separated (§3.3).
    const form = new URLSearchParams();
    form.set('grant_type', 'refresh_token');
    form.set('refresh_token', creds.identityToken);
    if (c.service !== undefined) form.set('service', c.service);
    if (scopes.length > 0) form.set('scope', scopes.join(' '));
    form.set('client_id', req.clientId ?? 'tufa');
    response = await fetcher.request(realm.href, {
      method: 'POST',
      body: {
        contentType: 'application/x-www-form-urlencoded',
        bytes: new TextEncoder().encode(form.toString()),
      },
      accept: 'application/json',
      signal,
    });
  } else {
    if (c.service !== undefined) realm.searchParams.set('service', c.service);
    for (const s of scopes) realm.searchParams.append('scope', s);
    const headers: Record<string, string> = {};
    if (creds !== undefined) {
      headers['Authorization'] =
        `Basic ${Buffer.from(`${creds.username}:${creds.password}`, 'utf8').toString('base64')}`;
    }
    response = await fetcher.request(realm.href, { headers, accept: 'application/json', signal });
  }
  if (response.status < 200 || response.status >= 300) {
    response.close();
    const why = response.status === 401 || response.status === 403 ? ' (the credentials were refused)' : '';
    throw new FetchError(
      `${realm.origin}: the token request failed with HTTP ${response.status}${why}`,
      response.status,
    );
  }
  const bytes = await response.read(maxLength);
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new FormatError(`${realm.origin}: the token answer is not JSON`);
  }
  const o = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const own = (k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined);
  const tokenValue =
    typeof own('token') === 'string' && own('token') !== '' ? own('token') : own('access_token');
  if (typeof tokenValue !== 'string' || tokenValue.length === 0 || /[^\x21-\x7e]/.test(tokenValue)) {
    throw new FormatError(`${realm.origin}: the token answer holds no usable token`);
  }
  const expires = own('expires_in');
  return {
    token: tokenValue,
    expiresIn:
      typeof expires === 'number' && Number.isSafeInteger(expires) && expires > 0 ? expires : undefined,
  };
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'the server';
  }
}
