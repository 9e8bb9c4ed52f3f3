/**
 * Node adapters for the Notary reader: a notary-server over HTTP(S) with Docker's bearer-token
 * flow, and a client trust directory (`~/.notary`, `~/.docker/trust`) on disk.
 */
import { join, resolve } from 'node:path';
import { isLoopbackUrl, mayReceiveCredentials, normalizeRealmHost } from '../auth/credential-policy.js';
import { download, type Fetcher, type FetchRequest } from '../client/fetcher.js';
import { CredentialsRefusedError, FetchError, FormatError, UsageError } from '../errors.js';
import { FileFetcher, fileBaseUrl } from '../node/file-fetcher.js';
import { HttpFetcher, type HttpFetcherOptions, type HttpProbe, proxyForUrl } from '../node/http-fetcher.js';
import { checkNotaryGun, FetcherNotarySource, type NotarySource, notaryServerBaseUrl } from './source.js';

/** A parsed `WWW-Authenticate: Bearer realm=…,service=…,scope=…` challenge. */
export interface BearerChallenge {
  realm: string;
  service: string | undefined;
  scope: string | undefined;
}

/** Parses a Bearer challenge (RFC 6750 §3 auth-params); `undefined` for other schemes. */
export function parseBearerChallenge(header: string): BearerChallenge | undefined {
  const m = /^\s*Bearer\s+(.*)$/i.exec(header);
  if (!m?.[1]) return undefined;
  const params = new Map<string, string>();
  const re = /([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*(?:,|$)/g;
  for (const p of m[1].matchAll(re)) {
    const name = (p[1] ?? '').toLowerCase();
    const value = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
    if (!params.has(name)) params.set(name, value);
  }
  const realm = params.get('realm');
  if (!realm) return undefined;
  return { realm, service: params.get('service'), scope: params.get('scope') };
}

export interface DockerTokenOptions {
  /** Basic credentials for the token service (Docker Hub: the user name and a personal access token). */
  username?: string;
  password?: string;
  /** Scope to ask for when the challenge names none. Default `repository:GUN:pull`. */
  defaultScope?: string;
  /**
   * Hosts, besides the server's own and Docker Hub's pairs, whose token realm may receive the
   * credentials (see `mayReceiveCredentials`), e.g. `['auth.example.com']`.
   */
  tokenRealmHosts?: readonly string[];
}

/** The origin of an absolute URL, or undefined (the fetcher then reports the bad URL itself). */
function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/**
 * A `Fetcher` for a notary-server behind Docker's token authentication (Docker Hub's
 * notary.docker.io): requests go out with the static `headers`; on a 401 whose
 * `WWW-Authenticate` is a Bearer challenge, a token is fetched from the realm and the request is
 * sent again with `Authorization: Bearer TOKEN`. The token is kept for later requests to the
 * origin that asked for it, and for no other. Token values never appear in errors.
 *
 * The user name and password go to the realm only when the credential policy allows it (DESIGN
 * rule 12: `mayReceiveCredentials`); otherwise nothing is sent and `CredentialsRefusedError`
 * says why. Without credentials the token request is anonymous and carries no secret, so any
 * https (or loopback) realm may answer it: a server can send the client to any https URL with a
 * redirect just as well, and the token it returns goes only back to the server that asked.
 */
export class DockerTokenFetcher implements Fetcher {
  readonly #options: HttpFetcherOptions;
  readonly #plain: HttpFetcher;
  /** Origin → a fetcher that sends the token that origin's challenge led to. */
  readonly #authorized = new Map<string, HttpFetcher>();
  /** Origins whose challenge was answered once already: a second 401 is final. */
  readonly #tried = new Set<string>();
  readonly #realmHosts: readonly string[];

  constructor(
    options: HttpFetcherOptions = {},
    private readonly token: DockerTokenOptions = {},
  ) {
    this.#options = options;
    this.#plain = new HttpFetcher(options);
    for (const h of token.tokenRealmHosts ?? []) {
      if (normalizeRealmHost(h) === undefined) {
        throw new UsageError(
          `not a token realm host: ${JSON.stringify(h)} (expected a host name or IP address, without scheme, port or path)`,
        );
      }
    }
    this.#realmHosts = [...(token.tokenRealmHosts ?? [])];
  }

  async *fetch(url: string, request: FetchRequest): AsyncGenerator<Uint8Array> {
    const origin = originOf(url);
    const fetcher = (origin !== undefined && this.#authorized.get(origin)) || this.#plain;
    let started = false;
    try {
      for await (const chunk of fetcher.fetch(url, request)) {
        started = true;
        yield chunk;
      }
      return;
    } catch (e) {
      if (started || !(e instanceof FetchError) || e.status !== 401 || origin === undefined) throw e;
      if (this.#tried.has(origin)) throw e;
    }
    this.#tried.add(origin);
    // The challenge goes through the same HTTP layer (proxy, CA, redirects, deadlines).
    const probe = await this.#plain.probe(url, request.signal);
    const challenge = probe.wwwAuthenticate
      .map(parseBearerChallenge)
      .find((c): c is BearerChallenge => c !== undefined);
    if (probe.status !== 401 || challenge === undefined) {
      throw new FetchError(
        `${url}: HTTP 401 without a Bearer challenge (give --header "Authorization: …")`,
        401,
      );
    }
    const token = await this.#token(challenge, url, probe, request.signal);
    const authorized = new HttpFetcher({
      ...this.#options,
      headers: { ...(this.#options.headers ?? {}), Authorization: `Bearer ${token}` },
    });
    this.#authorized.set(origin, authorized);
    yield* authorized.fetch(url, request);
  }

  /** Whether a request to `u` goes through a proxy (an unusable proxy setting counts as one). */
  #viaProxy(u: URL): boolean {
    try {
      return proxyForUrl(u.href, this.#options.env ?? process.env) !== undefined;
    } catch {
      return true;
    }
  }

  async #token(c: BearerChallenge, url: string, probe: HttpProbe, signal: AbortSignal): Promise<string> {
    const headers: Record<string, string> = {};
    if (this.token.username !== undefined) {
      const d = mayReceiveCredentials({
        server: url,
        challengeUrl: probe.url,
        crossOriginRedirect: probe.crossOriginRedirect,
        realm: c.realm,
        allowedRealmHosts: this.#realmHosts,
        viaProxy: (u) => this.#viaProxy(u),
      });
      if (!d.allowed) {
        // Fail closed: neither an anonymous request nor the credentials go to this realm.
        throw new CredentialsRefusedError(
          `refusing to send the credentials for ${d.serverHost ?? 'the server'} to the token realm ${
            d.realmHost === undefined ? 'it names' : `on ${d.realmHost}`
          }: ${d.reason}`,
          d.refusal,
          d.serverHost,
          d.realmHost,
        );
      }
      const basic = Buffer.from(`${this.token.username}:${this.token.password ?? ''}`).toString('base64');
      headers['Authorization'] = `Basic ${basic}`;
    }
    let realm: URL;
    try {
      realm = new URL(c.realm);
    } catch {
      throw new FetchError(`${new URL(probe.url).origin}: the token realm in the challenge is not a URL`);
    }
    if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && isLoopbackUrl(realm))) {
      throw new FetchError(`refusing to ask ${realm.origin} for a token over plain HTTP`);
    }
    if (c.service !== undefined) realm.searchParams.set('service', c.service);
    const scope = c.scope ?? this.token.defaultScope;
    if (scope !== undefined) realm.searchParams.set('scope', scope);
    // Only the token request's own header: the static headers are for the server, not the realm.
    const fetcher = new HttpFetcher({ ...this.#options, headers });
    if (signal.aborted) throw new FetchError(`${realm.origin}: aborted`);
    const bytes = await download(fetcher, realm.href, { maxLength: 1 << 20, timeoutMs: 60_000 });
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      throw new FormatError(`${realm.origin}: the token answer is not JSON`);
    }
    const o = body as { token?: unknown; access_token?: unknown };
    const token = typeof o.token === 'string' ? o.token : o.access_token;
    if (typeof token !== 'string' || token.length === 0 || /[\r\n]/.test(token)) {
      throw new FormatError(`${realm.origin}: the token answer holds no token`);
    }
    return token;
  }
}

export interface NotaryServerSourceOptions {
  /** Static request headers, e.g. `{ Authorization: 'Bearer …' }`. */
  headers?: Readonly<Record<string, string>>;
  /** Extra CA certificates (PEM). */
  ca?: string | readonly string[];
  /** Credentials for Docker's token service, used on a 401 Bearer challenge. */
  username?: string;
  password?: string;
  /** Hosts whose token realm may receive the credentials besides the server's own (`DockerTokenOptions`). */
  tokenRealmHosts?: readonly string[];
  timeoutMs?: number;
  /** Where to read proxy settings from. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** A notary-server (`https://notary.docker.io`, or your own) as a `NotarySource`. */
export function notaryServerSource(
  server: string,
  gun: string,
  options: NotaryServerSourceOptions = {},
): NotarySource {
  const base = notaryServerBaseUrl(server, gun);
  const http: HttpFetcherOptions = {
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.ca !== undefined ? { ca: options.ca } : {}),
    ...(options.env !== undefined ? { env: options.env } : {}),
  };
  const fetcher = new DockerTokenFetcher(http, {
    ...(options.username !== undefined ? { username: options.username } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
    ...(options.tokenRealmHosts !== undefined ? { tokenRealmHosts: options.tokenRealmHosts } : {}),
    defaultScope: `repository:${gun}:pull`,
  });
  return new FetcherNotarySource(fetcher, base, {
    versionedRoots: true,
    hashedNames: true,
    description: server.replace(/\/+$/, ''),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  });
}

/** The metadata directory of `gun` in a Notary/Docker trust directory: `DIR/tuf/GUN/metadata`. */
export function notaryTrustDirMetadata(trustDir: string, gun: string): string {
  return join(resolve(trustDir), 'tuf', ...checkNotaryGun(gun).split('/'), 'metadata');
}

/** A client trust directory (`~/.docker/trust`, `~/.notary`) as a `NotarySource`. */
export function notaryTrustDirSource(trustDir: string, gun: string): NotarySource {
  if (trustDir.length === 0) throw new UsageError('no trust directory given');
  const dir = notaryTrustDirMetadata(trustDir, gun);
  return new FetcherNotarySource(new FileFetcher(), fileBaseUrl(dir), {
    versionedRoots: false,
    hashedNames: false,
    description: dir,
  });
}
