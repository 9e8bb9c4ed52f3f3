/**
 * A `Fetcher` over HTTP(S) with node:http, node:net and node:tls only (no dependency).
 *
 * - The URL is used verbatim: the request path is sliced from the string, never parsed by
 *   `new URL` (which would turn `a/%2e%2e/b` into `b` and `\` into `/`). `..%2Fx` reaches the
 *   server as sent. Only a redirect's relative `Location` is resolved, against the current URL.
 * - The body streams chunk by chunk with back-pressure; the socket is destroyed as soon as the
 *   signal aborts, more than `maxLength` bytes arrive, or no byte arrives for `idleTimeoutMs`.
 *   The core enforces the limit and the deadline again on the bytes it reads (DESIGN rule 11).
 * - Header values (tokens) never appear in error messages; user headers are dropped when a
 *   redirect leaves the origin, and a redirect from https to http is refused.
 * - Proxies come from the environment, as curl reads them: `https_proxy`/`HTTPS_PROXY` for
 *   https URLs (a CONNECT tunnel), `http_proxy`/`HTTP_PROXY` for http URLs (absolute-form
 *   requests), `no_proxy`/`NO_PROXY` to bypass. Only `http://` proxies are supported.
 * - One connection per request (`Connection: close`): no pooled socket can go stale between
 *   requests, and nothing keeps the process alive afterwards.
 * - Besides the `Fetcher` GET, `request()` sends GET, HEAD or POST with per-request headers and
 *   returns the answer's status and headers (a registry client reads `Docker-Content-Digest`,
 *   `Link` and challenges; ADR 0010), with the same limits and origin rules.
 */
import { X509Certificate } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Fetcher, FetchRequest } from '../client/fetcher.js';
import {
  DownloadLimitError,
  FetchError,
  httpStatusError,
  TimeoutError,
  TufError,
  UsageError,
} from '../errors.js';

/** The package version, sent as `User-Agent: tufa/<version>` (a test keeps it equal to package.json). */
export const TUFA_VERSION = '0.1.0';
/** The `User-Agent` sent by default: `tufa/` and the version. */
export const DEFAULT_USER_AGENT = `tufa/${TUFA_VERSION}`;

/**
 * Options of `HttpFetcher`: headers, TLS trust, timeouts, redirects, retries and proxy settings.
 */
export interface HttpFetcherOptions {
  /**
   * Extra request headers, e.g. `{ Authorization: 'Bearer …' }` for a private server. Their
   * values never appear in error messages, and they are not sent after a redirect to another
   * origin (scheme, host or port).
   */
  headers?: Readonly<Record<string, string>>;
  /** Extra CA certificates (PEM), trusted in addition to Node's bundled roots (`tls.rootCertificates`). */
  ca?: string | readonly string[];
  /** Milliseconds to establish a connection (TCP, proxy tunnel and TLS handshake). Default 30 000. */
  connectTimeoutMs?: number;
  /** Milliseconds without a byte (while waiting for the answer or for body bytes) before giving up. Default 30 000. */
  idleTimeoutMs?: number;
  /** Redirects to follow at most. Default 5. */
  maxRedirects?: number;
  /** Extra attempts after a connection error or a 5xx answer, never after a 4xx. Default 0. */
  retries?: number;
  /** Delay before the first retry, doubled for each further one. Default 250 ms. */
  retryDelayMs?: number;
  /** Where to read proxy settings from. Default `process.env`, read when a request starts. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Default `tufa/<version>`. */
  userAgent?: string;
}

/** An http(s) URL split without normalisation. */
interface HttpUrl {
  /** The URL as given, without its fragment. */
  href: string;
  protocol: 'http:' | 'https:';
  /** Without brackets for IPv6. */
  hostname: string;
  port: number;
  /** The Host header: hostname and, unless default, port. */
  host: string;
  /** `scheme://host[:port]`, for same-origin checks. */
  origin: string;
  /** The request target in origin form, verbatim from the string. */
  pathAndQuery: string;
}

interface Proxy {
  hostname: string;
  port: number;
  /** `Basic …` when the proxy URL carries credentials. */
  authorization: string | undefined;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Connection errors worth a retry; TLS verification errors and the like are not. */
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
]);
/** Headers the fetcher owns: a caller setting them would break the framing of the exchange. */
const RESERVED_HEADERS = new Set([
  'host',
  'connection',
  'content-length',
  'transfer-encoding',
  'proxy-authorization',
]);
/** Body bytes buffered before the socket is paused. */
const HIGH_WATER = 1 << 20;

const noop = (): void => {};

/** Errors after which a retry may succeed. */
const transient = new WeakSet<Error>();
function markTransient<E extends Error>(e: E): E {
  transient.add(e);
  return e;
}

function nodeCode(e: unknown): string | undefined {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

function describe(e: unknown): string {
  const code = nodeCode(e);
  const message = e instanceof Error ? e.message : String(e);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

/** Header pairs, each name and value checked; values never appear in the error (they may be tokens). */
function checkHeaders(given: Readonly<Record<string, string>> | undefined): [string, string][] {
  const headers: [string, string][] = [];
  for (const [name, value] of Object.entries(given ?? {})) {
    try {
      http.validateHeaderName(name);
      http.validateHeaderValue(name, value);
    } catch {
      // Name the header, never its value (it may be a token).
      throw new UsageError(
        `invalid HTTP header ${JSON.stringify(name)} (bad name, or a value with invalid characters)`,
      );
    }
    if (RESERVED_HEADERS.has(name.toLowerCase())) {
      throw new UsageError(
        `the HTTP header ${JSON.stringify(name)} is set by the fetcher and cannot be overridden`,
      );
    }
    headers.push([name, value]);
  }
  return headers;
}

function checkCount(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!Number.isSafeInteger(v) || v < 0)
    throw new UsageError(`${name} must be a non-negative integer, found ${v}`);
  return v;
}

/**
 * Splits an absolute http(s) URL. The path and query are kept exactly as written; only the
 * authority goes through the WHATWG parser (for IDNA, IPv6 and port checks).
 */
function parseHttpUrl(url: string): HttpUrl {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^#]*)/.exec(url);
  if (!m) throw new UsageError(`expected an absolute http(s) URL, found ${JSON.stringify(url)}`);
  const scheme = (m[1] ?? '').toLowerCase();
  const authority = m[2] ?? '';
  const rest = m[3] ?? '';
  if (scheme !== 'http' && scheme !== 'https') {
    throw new UsageError(`unsupported URL scheme ${JSON.stringify(scheme)} (expected http or https)`);
  }
  if (authority.includes('@')) {
    // Never echo the URL: it holds credentials.
    throw new UsageError('credentials in the URL are not supported (pass an Authorization header instead)');
  }
  if (authority === '' || /[^\x21-\x7e]|\\/.test(authority)) {
    throw new UsageError(`invalid host in URL ${JSON.stringify(url)}`);
  }
  if (/[^A-Za-z0-9\-._~:/?@!$&'()*+,;=%]/.test(rest)) {
    // RFC 3986 allows nothing else in a path or query; sending it raw is not "verbatim".
    throw new UsageError(`URL ${JSON.stringify(url)} has characters that must be percent-encoded`);
  }
  let parsed: URL;
  try {
    parsed = new URL(`${scheme}://${authority}/`);
  } catch {
    throw new UsageError(`invalid host in URL ${JSON.stringify(url)}`);
  }
  const protocol = scheme === 'https' ? 'https:' : 'http:';
  const port = parsed.port === '' ? (protocol === 'https:' ? 443 : 80) : Number(parsed.port);
  const hostname = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  const pathAndQuery = rest === '' ? '/' : rest.startsWith('/') ? rest : `/${rest}`;
  return {
    href: url.slice(0, m[0].length),
    protocol,
    hostname,
    port,
    host: parsed.host,
    origin: `${protocol}//${parsed.host}`,
    pathAndQuery,
  };
}

/** The target of a redirect: an absolute Location verbatim, a relative one resolved against `current`. */
function resolveRedirect(current: HttpUrl, location: string, status: number): HttpUrl {
  const bad = (why: string) => new FetchError(`${current.href}: HTTP ${status} redirect ${why}`, undefined);
  if (/[^\x20-\x7e]/.test(location)) throw bad('to a Location with invalid characters');
  const absolute = /^[A-Za-z][A-Za-z0-9+.-]*:/.test(location);
  let next: string;
  if (absolute) {
    next = location;
  } else {
    try {
      next = new URL(location, current.href).href;
    } catch {
      throw bad(`to an invalid Location ${JSON.stringify(location)}`);
    }
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(next)?.[1]?.toLowerCase();
  if (scheme !== 'http' && scheme !== 'https')
    throw bad(`to ${JSON.stringify(next)} refused (only http and https)`);
  if (current.protocol === 'https:' && scheme !== 'https') {
    throw bad(`from https to ${JSON.stringify(next)} refused (a redirect must not downgrade to http)`);
  }
  try {
    return parseHttpUrl(next);
  } catch (e) {
    throw bad(`to an invalid Location (${e instanceof Error ? e.message : String(e)})`);
  }
}

function envValue(env: Readonly<Record<string, string | undefined>>, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = env[n]?.trim();
    if (v) return v;
  }
  return undefined;
}

/**
 * Whether `no_proxy` exempts a host: entries are separated by commas or spaces; `*` matches
 * everything; `example.com`, `.example.com` and `*.example.com` match example.com and every
 * subdomain; IP addresses match exactly (no CIDR ranges); `host:port` matches that port only.
 */
export function matchesNoProxy(hostname: string, port: number, noProxy: string): boolean {
  const host = hostname
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
  for (const raw of noProxy.split(/[\s,]+/)) {
    const entry = raw.toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return true;
    let entryHost = entry;
    let entryPort: number | undefined;
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    if (bracketed) {
      entryHost = bracketed[1] ?? '';
      if (bracketed[2] !== undefined) entryPort = Number(bracketed[2]);
    } else {
      const hostPort = /^([^:]+):(\d+)$/.exec(entry);
      if (hostPort) {
        entryHost = hostPort[1] ?? '';
        entryPort = Number(hostPort[2]);
      }
    }
    if (entryPort !== undefined && entryPort !== port) continue;
    entryHost = entryHost.replace(/^\*?\.+/, '').replace(/\.$/, '');
    if (entryHost === '') continue;
    if (host === entryHost || (net.isIP(host) === 0 && host.endsWith(`.${entryHost}`))) return true;
  }
  return false;
}

function parseProxy(value: string, variable: string): Proxy {
  const withScheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(value) ? value : `http://${value}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    // The value may hold a password: name the variable, not its value.
    throw new UsageError(`the proxy URL in ${variable} is not a valid URL`);
  }
  if (u.protocol !== 'http:') {
    throw new UsageError(
      `the proxy in ${variable} uses ${u.protocol}// (only http:// proxies are supported)`,
    );
  }
  let authorization: string | undefined;
  if (u.username !== '' || u.password !== '') {
    let user: string;
    let pass: string;
    try {
      user = decodeURIComponent(u.username);
      pass = decodeURIComponent(u.password);
    } catch {
      throw new UsageError(`the proxy credentials in ${variable} are not valid percent-encoding`);
    }
    authorization = `Basic ${Buffer.from(`${user}:${pass}`, 'utf8').toString('base64')}`;
  }
  const hostname = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  return { hostname, port: u.port === '' ? 80 : Number(u.port), authorization };
}

/** The proxy for `url` under `env` (`undefined`: connect directly), as `host:port`, without credentials. */
export function proxyForUrl(
  url: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string | undefined {
  const p = selectProxy(parseHttpUrl(url), env);
  return p && `${p.hostname.includes(':') ? `[${p.hostname}]` : p.hostname}:${p.port}`;
}

function selectProxy(target: HttpUrl, env: Readonly<Record<string, string | undefined>>): Proxy | undefined {
  // Like curl, prefer the lower-case names. Under CGI (REQUEST_METHOD set) HTTP_PROXY may come
  // from a client's `Proxy:` header ("httpoxy"), so only http_proxy counts there.
  const names =
    target.protocol === 'https:'
      ? ['https_proxy', 'HTTPS_PROXY']
      : env['REQUEST_METHOD'] !== undefined
        ? ['http_proxy']
        : ['http_proxy', 'HTTP_PROXY'];
  let variable: string | undefined;
  let value: string | undefined;
  for (const n of names) {
    value = envValue(env, n);
    if (value) {
      variable = n;
      break;
    }
  }
  if (!value || !variable) return undefined;
  const noProxy = envValue(env, 'no_proxy', 'NO_PROXY');
  if (noProxy && matchesNoProxy(target.hostname, target.port, noProxy)) return undefined;
  return parseProxy(value, variable);
}

/** A host for an authority: IPv6 literals in brackets. */
function authorityHost(hostname: string): string {
  return hostname.includes(':') ? `[${hostname}]` : hostname;
}

interface Destroyable {
  destroy(): void;
}

/**
 * Runs `start`, failing with TimeoutError after `timeoutMs` or with FetchError when `signal`
 * aborts; either way every resource passed to `track` is destroyed.
 */
function guarded<T>(
  signal: AbortSignal,
  timeoutMs: number,
  onTimeout: () => Error,
  onAbort: () => Error,
  start: (track: (d: Destroyable) => void) => Promise<T>,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const tracked: Destroyable[] = [];
    let settled = false;
    const cleanup = () => {
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', abort);
    };
    const fail = (e: unknown) => {
      if (settled) return;
      cleanup();
      for (const d of tracked) d.destroy();
      reject(e);
    };
    const abort = () => fail(onAbort());
    const timer = setTimeout(() => fail(onTimeout()), timeoutMs);
    if (signal.aborted) {
      abort();
      return;
    }
    signal.addEventListener('abort', abort, { once: true });
    const track = (d: Destroyable) => {
      if (settled) d.destroy();
      else tracked.push(d);
    };
    start(track).then((v) => {
      if (settled) return;
      cleanup();
      resolve(v);
    }, fail);
  });
}

function tcpConnect(host: string, port: number, track: (s: net.Socket) => void): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.on('error', noop); // errors are reported through the request from here on
    track(socket);
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}

/** Asks an http proxy for a tunnel to `target` (CONNECT host:port). */
function tunnel(raw: net.Socket, proxy: Proxy, target: HttpUrl, userAgent: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const authority = `${authorityHost(target.hostname)}:${target.port}`;
    const headers: Record<string, string> = { Host: authority, 'User-Agent': userAgent };
    if (proxy.authorization) headers['Proxy-Authorization'] = proxy.authorization;
    const req = http.request({
      createConnection: () => raw,
      method: 'CONNECT',
      path: authority,
      setHost: false,
      headers,
    });
    req.on('error', reject);
    req.on('error', noop);
    req.on('connect', (res: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) {
        socket.destroy();
        // No status on the error: a proxy's 403 says nothing about whether the file exists.
        reject(
          new FetchError(
            `proxy ${authorityHost(proxy.hostname)}:${proxy.port} refused to tunnel to ${authority} (HTTP ${status})`,
          ),
        );
        return;
      }
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    req.end();
  });
}

function tlsConnect(
  raw: net.Socket,
  target: HttpUrl,
  secureContext: tls.SecureContext | undefined,
  track: (s: net.Socket) => void,
): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const options: tls.ConnectionOptions = {
      socket: raw,
      host: target.hostname,
      ALPNProtocols: ['http/1.1'],
    };
    // RFC 6066: SNI carries DNS names only.
    if (net.isIP(target.hostname) === 0) options.servername = target.hostname;
    if (secureContext) options.secureContext = secureContext;
    const socket = tls.connect(options);
    socket.on('error', noop);
    track(socket);
    socket.once('error', reject);
    socket.once('secureConnect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

/** Buffers a response body between the socket and the consumer, pausing the socket when full. */
class BodyReader {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly res: http.IncomingMessage,
    private readonly idleTimeoutMs: number,
    private readonly onIdle: () => Error,
  ) {
    res.on('data', (chunk: Buffer) => {
      this.queue.push(chunk);
      this.queued += chunk.length;
      if (this.queued >= HIGH_WATER) res.pause();
      this.notify();
    });
    res.on('end', () => {
      this.ended = true;
      this.notify();
    });
    res.on('error', (e) => this.fail(e));
    res.on('close', () => {
      if (!this.ended) this.fail(new Error('the connection closed before the body was complete'));
    });
  }

  fail(e: Error): void {
    this.failure ??= e;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** The next chunk, or undefined at the end of the body. */
  async next(): Promise<Buffer | undefined> {
    for (;;) {
      if (this.failure) throw this.failure;
      const chunk = this.queue.shift();
      if (chunk) {
        this.queued -= chunk.length;
        if (this.queue.length === 0 && this.res.isPaused()) this.res.resume();
        return chunk;
      }
      if (this.ended) return undefined;
      // Waiting for the network: the idle clock runs only now, not while the consumer is busy.
      const timer = setTimeout(() => this.fail(this.onIdle()), this.idleTimeoutMs);
      try {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
      } finally {
        clearTimeout(timer);
      }
    }
  }
}

/** What `HttpFetcher.probe` reports about the final answer to a GET. */
export interface HttpProbe {
  /** The URL that answered, after redirects (as sent). */
  url: string;
  status: number;
  /** Whether a redirect went to another origin on the way (user headers were not sent from there). */
  crossOriginRedirect: boolean;
  /** Every `WWW-Authenticate` header of the answer, in order (RFC 9110 §11.6.1). */
  wwwAuthenticate: string[];
}

/** What `HttpFetcher.request` sends besides the URL. */
export interface HttpRequest {
  /** Default GET. PUT is for uploads that replace what a URL names (an OCI registry's blobs and manifests). */
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT';
  /**
   * Headers for this request (e.g. `Authorization`), over the configured ones. Like those, they
   * go to the origin of the URL only: a redirect to another origin drops them for the rest of
   * the chain. Their values never appear in errors.
   */
  headers?: Readonly<Record<string, string>>;
  /** The `Accept` header, sent on every hop (it is not a secret). Default `*\/*`. */
  accept?: string;
  /** A POST or PUT body and its media type. A request with a body does not follow redirects. */
  body?: { contentType: string; bytes: Uint8Array };
  signal: AbortSignal;
}

/** The answer to `HttpFetcher.request`: status and headers; the body is read on demand. */
export interface HttpResponse {
  /** The URL that answered, after redirects (as sent). */
  url: string;
  status: number;
  /** Whether a redirect went to another origin on the way (request headers were not sent from there). */
  crossOriginRedirect: boolean;
  /** Every header of the answer by lower-case name, each value in the order received. */
  headers: ReadonlyMap<string, readonly string[]>;
  /**
   * Reads the whole body, at most `maxLength` bytes counted as they arrive (DownloadLimitError
   * past it, the connection cut), then closes the connection.
   */
  read(maxLength: number): Promise<Uint8Array>;
  /** Closes the connection without reading (further) body. Safe to call twice. */
  close(): void;
}

/** What `exchange` sends besides the target. */
interface Outgoing {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT';
  headers: readonly (readonly [string, string])[];
  accept: string;
  body: { contentType: string; bytes: Uint8Array } | undefined;
}

const PLAIN_GET: Outgoing = { method: 'GET', headers: [], accept: '*/*', body: undefined };

/** One request and its answer, on its own connection. */
interface Exchange {
  target: HttpUrl;
  res: http.IncomingMessage;
  close(): void;
}

/**
 * The HTTP(S) `Fetcher` for Node: streams bodies with connect and idle timeouts, follows a bounded
 * number of redirects (dropping headers across origins), and maps 404/410/403 to NotFoundError and
 * other failures to FetchError. The core still bounds and verifies everything it returns.
 */
export class HttpFetcher implements Fetcher {
  private readonly headers: readonly (readonly [string, string])[];
  private readonly secureContext: tls.SecureContext | undefined;
  private readonly connectTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly maxRedirects: number;
  private readonly retries: number;
  private readonly retryDelayMs: number;
  private readonly env: Readonly<Record<string, string | undefined>> | undefined;
  private readonly userAgent: string;

  /**
   * @throws {@link errors!UsageError | UsageError} an option is invalid (a CA certificate that
   *   cannot be parsed, a timeout or retry count out of range, …).
   */
  constructor(options: HttpFetcherOptions = {}) {
    this.connectTimeoutMs = checkCount('connectTimeoutMs', options.connectTimeoutMs, 30_000);
    this.idleTimeoutMs = checkCount('idleTimeoutMs', options.idleTimeoutMs, 30_000);
    this.maxRedirects = checkCount('maxRedirects', options.maxRedirects, 5);
    this.retries = checkCount('retries', options.retries, 0);
    this.retryDelayMs = checkCount('retryDelayMs', options.retryDelayMs, 250);
    this.env = options.env;
    this.userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
    this.headers = checkHeaders(options.headers);
    if (options.ca !== undefined) {
      const extra = typeof options.ca === 'string' ? [options.ca] : [...options.ca];
      // tls.createSecureContext silently skips what it cannot parse: check every PEM block.
      for (const [i, pem] of extra.entries()) {
        const blocks = pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
        if (blocks.length === 0) throw new UsageError(`ca[${i}] holds no PEM certificate`);
        for (const b of blocks) {
          try {
            new X509Certificate(b);
          } catch (e) {
            throw new UsageError(`ca[${i}] holds a certificate that cannot be parsed (${describe(e)})`);
          }
        }
      }
      try {
        this.secureContext = tls.createSecureContext({ ca: [...tls.rootCertificates, ...extra] });
      } catch (e) {
        throw new UsageError(`cannot use the CA certificates given in "ca" (${describe(e)})`);
      }
    }
  }

  async *fetch(url: string, request: FetchRequest): AsyncGenerator<Uint8Array> {
    const { signal, maxLength } = request;
    const { exchange } = await this.follow(url, signal);
    const target = exchange.target;
    const status = exchange.res.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      exchange.close();
      throw httpStatusError(`${target.href}: HTTP ${status}`, status);
    }
    yield* this.body(exchange, maxLength, signal);
  }

  /**
   * Sends one request (GET, HEAD, POST or PUT) through the same layer as `fetch` (proxy, CA,
   * redirects, configured headers, deadlines) and returns the final answer, whatever its
   * status, with its headers; the caller reads the body with a limit, or closes it.
   * @throws {@link errors!UsageError | UsageError} an unsupported method, a body on GET or HEAD, or
   *   an invalid header value.
   * @throws {@link errors!FetchError | FetchError} the transport failed.
   * @throws {@link errors!TimeoutError | TimeoutError} no answer in time.
   */
  async request(url: string, request: HttpRequest): Promise<HttpResponse> {
    const method = request.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD' && method !== 'POST' && method !== 'PUT') {
      throw new UsageError(
        `unsupported HTTP method ${JSON.stringify(method)} (expected GET, HEAD, POST or PUT)`,
      );
    }
    if (request.body !== undefined && method !== 'POST' && method !== 'PUT')
      throw new UsageError(`a ${method} request has no body`);
    const accept = request.accept ?? '*/*';
    const contentType = request.body?.contentType ?? '';
    for (const [name, value] of [
      ['Accept', accept],
      ['Content-Type', contentType],
    ] as const) {
      try {
        http.validateHeaderValue(name, value);
      } catch {
        throw new UsageError(`invalid value for the HTTP header ${name}`);
      }
    }
    const out: Outgoing = { method, headers: checkHeaders(request.headers), accept, body: request.body };
    const { signal } = request;
    const { exchange, crossedOrigin } = await this.follow(url, signal, out);
    const headers = new Map<string, readonly string[]>();
    for (const [name, values] of Object.entries(exchange.res.headersDistinct)) {
      if (values !== undefined) headers.set(name.toLowerCase(), [...values]);
    }
    let closed = false;
    return {
      url: exchange.target.href,
      status: exchange.res.statusCode ?? 0,
      crossOriginRedirect: crossedOrigin,
      headers,
      read: async (maxLength: number) => {
        if (closed) throw new UsageError('the body of this answer was already read or closed');
        closed = true;
        const chunks: Uint8Array[] = [];
        for await (const c of this.body(exchange, maxLength, signal)) chunks.push(c);
        return new Uint8Array(Buffer.concat(chunks));
      },
      close: () => {
        closed = true;
        exchange.close();
      },
    };
  }

  /** Streams an answer's body, at most `maxLength` bytes as received; closes the exchange at the end. */
  private async *body(
    exchange: Exchange,
    maxLength: number,
    signal: AbortSignal,
  ): AsyncGenerator<Uint8Array> {
    const href = exchange.target.href;
    let onAbort: (() => void) | undefined;
    try {
      const declared = exchange.res.headers['content-length'];
      if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > maxLength) {
        throw new DownloadLimitError(
          `${href}: expected at most ${maxLength} bytes, the server announced ${declared}`,
        );
      }
      const reader = new BodyReader(
        exchange.res,
        this.idleTimeoutMs,
        () => new TimeoutError(`${href}: no data for ${this.idleTimeoutMs} ms`),
      );
      const ex = exchange;
      onAbort = () => {
        reader.fail(new FetchError(`${href}: aborted`));
        ex.close();
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      let received = 0;
      for (;;) {
        let chunk: Buffer | undefined;
        try {
          chunk = await reader.next();
        } catch (e) {
          if (e instanceof TufError) throw e;
          throw new FetchError(`${href}: the body was cut short (${describe(e)})`, undefined, { cause: e });
        }
        if (chunk === undefined) return;
        received += chunk.length;
        if (received > maxLength) {
          throw new DownloadLimitError(`${href}: expected at most ${maxLength} bytes, received more`);
        }
        yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      }
    } finally {
      if (onAbort) signal.removeEventListener('abort', onAbort);
      exchange.close();
    }
  }

  /**
   * Sends a GET as `fetch` does (proxy, CA, redirects, user headers, deadlines) and returns the
   * final answer's status and authentication challenges without reading its body: what a token
   * flow needs from a 401 (`HttpFetcher.fetch` reports the status only).
   */
  async probe(url: string, signal: AbortSignal): Promise<HttpProbe> {
    const { exchange, crossedOrigin } = await this.follow(url, signal);
    try {
      return {
        url: exchange.target.href,
        status: exchange.res.statusCode ?? 0,
        crossOriginRedirect: crossedOrigin,
        wwwAuthenticate: [...(exchange.res.headersDistinct['www-authenticate'] ?? [])],
      };
    } finally {
      exchange.close();
    }
  }

  /**
   * Sends the request and follows redirects; returns the first answer that is not a redirect,
   * open, whatever its status. `crossedOrigin`: a redirect went to another origin on the way.
   */
  private async follow(
    url: string,
    signal: AbortSignal,
    out: Outgoing = PLAIN_GET,
  ): Promise<{ exchange: Exchange; crossedOrigin: boolean }> {
    let target = parseHttpUrl(url);
    let crossedOrigin = false;
    let redirects = 0;
    for (;;) {
      // User headers (credentials) are for the origin they were configured for (as browsers
      // and curl do), and are not sent again once a redirect has left it, even to a later hop
      // back: the other origin chose where that hop goes.
      const exchange = await this.requestWithRetries(target, !crossedOrigin, signal, out);
      const status = exchange.res.statusCode ?? 0;
      // A body is not sent again to wherever a redirect points: the caller sees the redirect.
      if (!REDIRECT_STATUSES.has(status) || out.body !== undefined) return { exchange, crossedOrigin };
      const location = exchange.res.headers.location;
      exchange.close();
      if (location === undefined)
        throw new FetchError(`${target.href}: HTTP ${status} without a Location header`, status);
      if (redirects >= this.maxRedirects) {
        throw new FetchError(`${url}: too many redirects (more than ${this.maxRedirects})`);
      }
      redirects++;
      const next = resolveRedirect(target, location, status);
      if (next.origin !== target.origin) crossedOrigin = true;
      target = next;
    }
  }

  /** One exchange, retried after connection errors and 5xx answers (not after 4xx). */
  private async requestWithRetries(
    target: HttpUrl,
    sendUserHeaders: boolean,
    signal: AbortSignal,
    out: Outgoing,
  ): Promise<Exchange> {
    for (let attempt = 0; ; attempt++) {
      let ex: Exchange;
      try {
        ex = await this.exchange(target, sendUserHeaders, signal, out);
      } catch (e) {
        if (attempt >= this.retries || signal.aborted || !(e instanceof Error) || !transient.has(e)) throw e;
        await this.pause(attempt, signal, target);
        continue;
      }
      if ((ex.res.statusCode ?? 0) >= 500 && attempt < this.retries) {
        ex.close();
        await this.pause(attempt, signal, target);
        continue;
      }
      return ex;
    }
  }

  private pause(attempt: number, signal: AbortSignal, target: HttpUrl): Promise<void> {
    const ms = Math.min(this.retryDelayMs * 2 ** attempt, 30_000);
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(timer);
        reject(new FetchError(`${target.href}: aborted`));
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private async exchange(
    target: HttpUrl,
    sendUserHeaders: boolean,
    signal: AbortSignal,
    out: Outgoing,
  ): Promise<Exchange> {
    const proxy = selectProxy(target, this.env ?? process.env);
    const via = proxy ? ` via proxy ${authorityHost(proxy.hostname)}:${proxy.port}` : '';
    const sockets: net.Socket[] = [];
    const destroyAll = () => {
      for (const s of sockets) s.destroy();
    };
    const socket = await guarded(
      signal,
      this.connectTimeoutMs,
      () =>
        markTransient(
          new TimeoutError(`${target.href}: no connection within ${this.connectTimeoutMs} ms${via}`),
        ),
      () => new FetchError(`${target.href}: aborted`),
      async (track) => {
        const trackSocket = (s: net.Socket) => {
          sockets.push(s);
          track(s);
        };
        const [host, port] = proxy ? [proxy.hostname, proxy.port] : [target.hostname, target.port];
        let s: net.Socket;
        try {
          s = await tcpConnect(host, port, trackSocket);
        } catch (e) {
          const err = new FetchError(
            `${target.href}: cannot connect to ${authorityHost(host)}:${port}${proxy ? ' (the proxy)' : ''} (${describe(e)})`,
            undefined,
            { cause: e },
          );
          throw TRANSIENT_CODES.has(nodeCode(e) ?? '') ? markTransient(err) : err;
        }
        if (target.protocol === 'https:') {
          if (proxy) {
            try {
              s = await tunnel(s, proxy, target, this.userAgent);
            } catch (e) {
              if (e instanceof TufError) throw e;
              throw markTransient(
                new FetchError(`${target.href}: proxy tunnel failed${via} (${describe(e)})`),
              );
            }
          }
          try {
            s = await tlsConnect(s, target, this.secureContext, trackSocket);
          } catch (e) {
            const err = new FetchError(
              `${target.href}: TLS connection failed${via} (${describe(e)})`,
              undefined,
              {
                cause: e,
              },
            );
            throw TRANSIENT_CODES.has(nodeCode(e) ?? '') ? markTransient(err) : err;
          }
        }
        return s;
      },
    );

    const headers: Record<string, string> = Object.create(null);
    headers['Host'] = target.host;
    headers['User-Agent'] = this.userAgent;
    headers['Accept'] = out.accept;
    headers['Connection'] = 'close';
    if (out.body !== undefined) {
      headers['Content-Type'] = out.body.contentType;
      headers['Content-Length'] = String(out.body.bytes.length);
    }
    let path = target.pathAndQuery;
    if (proxy && target.protocol === 'http:') {
      // Absolute form for a forwarding proxy, still verbatim.
      path = `http://${target.host}${target.pathAndQuery}`;
      if (proxy.authorization) headers['Proxy-Authorization'] = proxy.authorization;
    }
    if (sendUserHeaders) {
      // Configured headers first, then this request's own over them.
      for (const [name, value] of [...this.headers, ...out.headers]) {
        for (const k of Object.keys(headers)) if (k.toLowerCase() === name.toLowerCase()) delete headers[k];
        headers[name] = value;
      }
    }

    return new Promise<Exchange>((resolve, reject) => {
      let req: http.ClientRequest | undefined;
      const close = () => {
        req?.destroy();
        destroyAll();
      };
      const fail = (e: Error) => {
        cleanup();
        close();
        reject(e);
      };
      const timer = setTimeout(
        () =>
          fail(
            markTransient(
              new TimeoutError(`${target.href}: no answer within ${this.idleTimeoutMs} ms${via}`),
            ),
          ),
        this.idleTimeoutMs,
      );
      const onAbort = () => fail(new FetchError(`${target.href}: aborted`));
      const cleanup = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      try {
        req = http.request({
          createConnection: () => socket,
          method: out.method,
          path,
          setHost: false,
          headers,
        });
      } catch (e) {
        cleanup();
        destroyAll();
        reject(new FetchError(`${target.href}: cannot send the request (${describe(e)})`));
        return;
      }
      const onError = (e: Error) => {
        // E.g. "socket hang up": the server closed the connection without answering.
        fail(
          markTransient(
            new FetchError(`${target.href}: no answer${via} (${describe(e)})`, undefined, { cause: e }),
          ),
        );
      };
      const r = req;
      signal.addEventListener('abort', onAbort, { once: true });
      r.on('error', onError);
      r.on('response', (res) => {
        cleanup();
        res.on('error', noop); // the body reader reports errors; none may go unhandled before it exists
        r.off('error', onError);
        r.on('error', noop); // later errors surface through the body
        resolve({ target, res, close });
      });
      if (out.body !== undefined) r.end(out.body.bytes);
      else r.end();
    });
  }
}
