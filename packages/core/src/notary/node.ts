/**
 * Node adapters for the Notary reader: a notary-server over HTTP(S) with Docker's bearer-token
 * flow, and a client trust directory (`~/.notary`, `~/.docker/trust`) on disk.
 */
import { join, resolve } from 'node:path';
import type { Fetcher, FetchRequest } from '../client/fetcher.js';
import { FetchError, UsageError } from '../errors.js';
import {
  type BearerChallenge,
  checkRealmHosts,
  parseBearerChallenge,
  requestBearerToken,
} from '../node/bearer-token.js';
import { FileFetcher, fileBaseUrl } from '../node/file-fetcher.js';
import { HttpFetcher, type HttpFetcherOptions, type HttpProbe } from '../node/http-fetcher.js';
import { checkNotaryGun, FetcherNotarySource, type NotarySource, notaryServerBaseUrl } from './source.js';

// Where they were first defined; the token flow itself now lives in node/bearer-token.ts.
export { type BearerChallenge, parseBearerChallenge } from '../node/bearer-token.js';

/**
 * How to obtain a Docker registry token for notary-server: credentials (sent only where the
 * credential policy allows, DESIGN rule 12) and the scope to ask for.
 */
export interface DockerTokenOptions {
  /** Basic credentials for the token service (Docker Hub: the user name and a personal access token). */
  username?: string;
  /** The password or token for `username`: a secret, never logged or put in an error. */
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
    this.#realmHosts = checkRealmHosts(token.tokenRealmHosts);
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

  async #token(c: BearerChallenge, url: string, probe: HttpProbe, signal: AbortSignal): Promise<string> {
    // Fail closed: with credentials and a realm the policy refuses, nothing is sent at all.
    const scope = c.scope ?? this.token.defaultScope;
    const { token } = await requestBearerToken({
      server: url,
      challengeUrl: probe.url,
      crossOriginRedirect: probe.crossOriginRedirect,
      challenge: c,
      ...(scope !== undefined ? { scopes: [scope] } : {}),
      ...(this.token.username !== undefined
        ? { credentials: { username: this.token.username, password: this.token.password ?? '' } }
        : {}),
      allowedRealmHosts: this.#realmHosts,
      http: this.#options,
      signal,
    });
    return token;
  }
}

/**
 * Options of the notary-server source: headers, TLS trust, timeouts and the Docker token exchange.
 */
export interface NotaryServerSourceOptions {
  /** Static request headers, e.g. `{ Authorization: 'Bearer …' }`. */
  headers?: Readonly<Record<string, string>>;
  /** Extra CA certificates (PEM). */
  ca?: string | readonly string[];
  /** Credentials for Docker's token service, used on a 401 Bearer challenge. */
  username?: string;
  /** The password or token for `username`: a secret, never logged or put in an error. */
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

/**
 * A client trust directory (`~/.docker/trust`, `~/.notary`) as a `NotarySource`.
 * @throws {@link errors!UsageError | UsageError} no trust directory is given.
 * @throws {@link errors!UnsafeNameError | UnsafeNameError} `gun` is not a plain repository name.
 */
export function notaryTrustDirSource(trustDir: string, gun: string): NotarySource {
  if (trustDir.length === 0) throw new UsageError('no trust directory given');
  const dir = notaryTrustDirMetadata(trustDir, gun);
  return new FetcherNotarySource(new FileFetcher(), fileBaseUrl(dir), {
    versionedRoots: false,
    hashedNames: false,
    description: dir,
  });
}
