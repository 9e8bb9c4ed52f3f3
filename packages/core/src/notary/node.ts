/**
 * Node adapters for the Notary reader: a notary-server over HTTP(S) with Docker's bearer-token
 * flow, and a client trust directory (`~/.notary`, `~/.docker/trust`) on disk.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { join, resolve } from 'node:path';
import { rootCertificates } from 'node:tls';
import { download, type Fetcher, type FetchRequest } from '../client/fetcher.js';
import { FetchError, FormatError, UsageError } from '../errors.js';
import { FileFetcher, fileBaseUrl } from '../node/file-fetcher.js';
import { HttpFetcher, type HttpFetcherOptions } from '../node/http-fetcher.js';
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
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '127.0.0.1' || host === '[::1]' || host === '::1';
}

/**
 * A `Fetcher` for a notary-server behind Docker's token authentication (Docker Hub's
 * notary.docker.io): requests go out with the static `headers`; on a 401 whose
 * `WWW-Authenticate` is a Bearer challenge, a token is fetched from the realm (with Basic
 * credentials when given) and the request is sent again with `Authorization: Bearer TOKEN`.
 * The token is kept for later requests. Credentials go only to an https realm (or a loopback
 * one, for tests); token values never appear in errors.
 */
export class DockerTokenFetcher implements Fetcher {
  #inner: HttpFetcher;
  #tried = false;
  readonly #options: HttpFetcherOptions;

  constructor(
    options: HttpFetcherOptions = {},
    private readonly token: DockerTokenOptions = {},
  ) {
    this.#options = options;
    this.#inner = new HttpFetcher(options);
  }

  async *fetch(url: string, request: FetchRequest): AsyncGenerator<Uint8Array> {
    let started = false;
    try {
      for await (const chunk of this.#inner.fetch(url, request)) {
        started = true;
        yield chunk;
      }
      return;
    } catch (e) {
      if (started || !(e instanceof FetchError) || e.status !== 401 || this.#tried) throw e;
    }
    this.#tried = true;
    const challenge = await this.#challenge(url, request.signal);
    if (challenge === undefined) {
      throw new FetchError(
        `${url}: HTTP 401 without a Bearer challenge (give --header "Authorization: …")`,
        401,
      );
    }
    const token = await this.#token(challenge, request.signal);
    this.#inner = new HttpFetcher({
      ...this.#options,
      headers: { ...(this.#options.headers ?? {}), Authorization: `Bearer ${token}` },
    });
    yield* this.#inner.fetch(url, request);
  }

  /** Asks `url` again, only for the headers of the 401 (HttpFetcher reports the status only). */
  #challenge(url: string, signal: AbortSignal): Promise<BearerChallenge | undefined> {
    return new Promise((resolvePromise, reject) => {
      const u = new URL(url);
      const mod = u.protocol === 'https:' ? https : http;
      const ca = this.#options.ca;
      const req = mod.request(
        url,
        {
          method: 'GET',
          signal,
          headers: { 'User-Agent': this.#options.userAgent ?? 'tufa', ...(this.#options.headers ?? {}) },
          ...(u.protocol === 'https:' && ca !== undefined
            ? // Extra CAs are added to the bundled roots, as HttpFetcher does.
              { ca: [...rootCertificates, ...(typeof ca === 'string' ? [ca] : ca)] }
            : {}),
        },
        (res) => {
          const h = res.headers['www-authenticate'];
          res.destroy();
          const value = Array.isArray(h) ? h.find((v) => /^\s*bearer/i.test(v)) : h;
          resolvePromise(value === undefined ? undefined : parseBearerChallenge(value));
        },
      );
      req.setTimeout(this.#options.idleTimeoutMs ?? 30_000, () => req.destroy(new Error('timed out')));
      req.on('error', (e) =>
        reject(new FetchError(`${u.origin}: cannot read the authentication challenge (${e.message})`)),
      );
      req.end();
    });
  }

  async #token(c: BearerChallenge, signal: AbortSignal): Promise<string> {
    let realm: URL;
    try {
      realm = new URL(c.realm);
    } catch {
      throw new FetchError(`the token realm is not a URL: ${JSON.stringify(c.realm)}`);
    }
    if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && isLoopback(realm.hostname))) {
      throw new FetchError(`refusing to ask ${realm.origin} for a token over plain HTTP`);
    }
    if (c.service !== undefined) realm.searchParams.set('service', c.service);
    const scope = c.scope ?? this.token.defaultScope;
    if (scope !== undefined) realm.searchParams.set('scope', scope);
    const headers: Record<string, string> = {};
    if (this.token.username !== undefined) {
      const basic = Buffer.from(`${this.token.username}:${this.token.password ?? ''}`).toString('base64');
      headers['Authorization'] = `Basic ${basic}`;
    }
    const fetcher = new HttpFetcher({
      ...this.#options,
      headers,
    });
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
  timeoutMs?: number;
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
  };
  const fetcher = new DockerTokenFetcher(http, {
    ...(options.username !== undefined ? { username: options.username } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
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
