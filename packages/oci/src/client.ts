/**
 * A client for OCI distribution registries: what a tag names now (media type, digest, size),
 * the manifest bytes behind it, the platforms of an index, and the tags of a repository.
 *
 * Trust rules (ADR 0010):
 * - `getManifest` always GETs and hashes the bytes received; a `Docker-Content-Digest` header is
 *   only a SHOULD in the distribution specification and is never trusted alone: one that
 *   disagrees with the bytes is refused, and a digest reference's bytes must hash to it.
 * - `resolve` may take the digest from a HEAD answer's header (for comparing with a signed
 *   digest), and GETs and hashes when the header is missing.
 * - Sizes are bounded on the bytes read (manifests: 4 MiB by default, the distribution
 *   specification's suggestion), every operation has a deadline and takes an AbortSignal.
 * - Plain HTTP only for loopback registries and the ones the caller lists as insecure (Docker's
 *   rule), and only after HTTPS failed to connect; credentials never go over plain HTTP off
 *   loopback (core's credential policy).
 */
import {
  FetchError,
  FormatError,
  isCertificateError,
  isLoopbackUrl,
  LengthOrHashError,
  NotFoundError,
  parseJson,
  TimeoutError,
  TufError,
  UsageError,
} from '@tufa/core';
import { checkRealmHosts, HttpFetcher, type HttpFetcherOptions, type HttpResponse } from '@tufa/core/node';
import { type Authorization, answerChallenge, type ScopeAction, unauthorized } from './auth.js';
import {
  type CredentialLookup,
  type CredentialLookupOptions,
  findRegistryCredentials,
  type RegistryCredentials,
} from './credentials/lookup.js';
import { computeDigest, digestAlgorithm, digestProblem } from './digest.js';
import {
  type Descriptor,
  isManifestMediaType,
  MANIFEST_ACCEPT,
  type ManifestMediaType,
  type PlatformManifest,
  parseManifest,
} from './manifest.js';
import { type ImageReference, isTag, parseImageReference } from './reference.js';

/** The distribution specification's suggested limit for a manifest a registry accepts. */
export const DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_TAG_PAGE_BYTES = 4 * 1024 * 1024;
const MAX_ERROR_BYTES = 64 * 1024;

/** Supplies credentials for a registry; `undefined`: anonymous. */
export type CredentialProvider = (registry: string, repository: string) => Promise<CredentialLookup>;

export interface RegistryClientOptions {
  /**
   * `auto` (default): Docker's sources in Docker's order (`findRegistryCredentials`); `none`:
   * always anonymous; or a function of your own.
   */
  credentials?: 'auto' | 'none' | CredentialProvider;
  /** For `auto`: the environment and home directory to read (defaults: the process's). */
  env?: Readonly<Record<string, string | undefined>>;
  homeDir?: string;
  /** Registries (`host` or `host:port`) that may be reached over plain HTTP when HTTPS fails. Loopback always may. */
  insecureRegistries?: readonly string[];
  /** Extra CA certificates (PEM), trusted besides Node's bundled roots. */
  ca?: string | readonly string[];
  /** Hosts allowed as token realms besides the registry's own (`mayReceiveCredentials`). */
  tokenRealmHosts?: readonly string[];
  /** What tokens are asked for. Default `['pull']`. */
  actions?: readonly ScopeAction[];
  /** Bytes a manifest may have. Default 4 MiB. */
  maxManifestBytes?: number;
  /**
   * Times a request is sent again after a connection error or a 5xx answer (HttpFetcher's
   * `retries`). Default 0. The distribution registry on a filesystem answers 500 to a read that
   * races a write of the same tag, which TUF-in-OCI publishers meet under contention.
   */
  retries?: number;
  /** Milliseconds before the first retry (doubling after each). Default 250. */
  retryDelayMs?: number;
  /** Milliseconds for one operation (all its requests, tag pages included). Default 120 000. */
  timeoutMs?: number;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  userAgent?: string;
  /** Told when something was done that the user should know (credentials withheld, plain HTTP). */
  onNotice?: (message: string) => void;
}

export interface OperationOptions {
  signal?: AbortSignal;
}

export interface ManifestResult {
  /** Media type, digest and length of the bytes received. */
  descriptor: Descriptor;
  /** The manifest exactly as received. */
  bytes: Uint8Array;
  /** For an index: the platform manifests it lists. */
  manifests: PlatformManifest[] | undefined;
}

export interface ListTagsOptions extends OperationOptions {
  /** Tags per page (`n`); default: the registry's choice. */
  pageSize?: number;
  /** Pages to follow at most. Default 10 000. */
  maxPages?: number;
}

/** What one request to the registry sends besides its target. */
interface RegistryRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT';
  accept: string;
  body?: { contentType: string; bytes: Uint8Array };
}

/** The most bytes of a blob tufa reads when the caller gives no limit: blobs are TUF metadata here. */
export const DEFAULT_MAX_BLOB_BYTES = 16 * 1024 * 1024;

/** Single-valued header, or undefined; a repeated one is refused (two values, two meanings). */
function header(r: HttpResponse, name: string): string | undefined {
  const v = r.headers.get(name);
  if (v === undefined || v.length === 0) return undefined;
  if (v.length > 1) throw new FormatError(`${r.url}: the registry sent ${v.length} ${name} headers`);
  return v[0];
}

function toReference(ref: ImageReference | string): ImageReference {
  return typeof ref === 'string' ? parseImageReference(ref) : ref;
}

/** `next` target of an RFC 8288 `Link` header (`<url>; rel="next"`), or undefined. */
export function nextLink(values: readonly string[]): string | undefined {
  for (const value of values) {
    for (const m of value.matchAll(/<([^>]*)>\s*((?:;\s*[A-Za-z]+\s*=\s*(?:"[^"]*"|[^;,\s]*)\s*)*)/g)) {
      const params = m[2] ?? '';
      const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^;,\s]*))/i.exec(params);
      const rels = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/);
      if (rels.includes('next')) return m[1];
    }
  }
  return undefined;
}

export class RegistryClient {
  readonly #http: HttpFetcher;
  readonly #transport: HttpFetcherOptions;
  readonly #insecure: readonly string[];
  readonly #realmHosts: readonly string[];
  readonly #actions: readonly ScopeAction[];
  readonly #maxManifestBytes: number;
  readonly #timeoutMs: number;
  readonly #credentials: CredentialProvider;
  readonly #notice: (message: string) => void;
  /** apiHost → the origin that answered (https, or http for an insecure registry). */
  readonly #origins = new Map<string, string>();
  /** `origin repository` → what the last challenge earned. */
  readonly #auth = new Map<string, Authorization>();
  /** `registry repository` → the credential lookup (run once: a helper may prompt). */
  readonly #lookups = new Map<string, Promise<CredentialLookup>>();

  constructor(options: RegistryClientOptions = {}) {
    this.#transport = {
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
      ...(options.env !== undefined ? { env: options.env } : {}),
      ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
      ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
      ...(options.retries !== undefined ? { retries: options.retries } : {}),
      ...(options.retryDelayMs !== undefined ? { retryDelayMs: options.retryDelayMs } : {}),
      ...(options.userAgent !== undefined ? { userAgent: options.userAgent } : {}),
    };
    this.#http = new HttpFetcher(this.#transport);
    this.#insecure = (options.insecureRegistries ?? []).map((h) => h.toLowerCase());
    this.#realmHosts = checkRealmHosts(options.tokenRealmHosts);
    this.#actions = options.actions ?? ['pull'];
    if (this.#actions.length === 0 || this.#actions.some((a) => a !== 'pull' && a !== 'push')) {
      throw new UsageError('actions: expected "pull" and/or "push"');
    }
    this.#maxManifestBytes = options.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
    this.#timeoutMs = options.timeoutMs ?? 120_000;
    for (const [k, v] of [
      ['maxManifestBytes', this.#maxManifestBytes],
      ['timeoutMs', this.#timeoutMs],
    ] as const) {
      if (!Number.isSafeInteger(v) || v <= 0)
        throw new UsageError(`${k} must be a positive integer, found ${v}`);
    }
    const lookupOptions: CredentialLookupOptions = {
      ...(options.env !== undefined ? { env: options.env } : {}),
      ...(options.homeDir !== undefined ? { homeDir: options.homeDir } : {}),
    };
    const c = options.credentials ?? 'auto';
    this.#credentials =
      c === 'auto'
        ? (registry, repository) => findRegistryCredentials(registry, repository, lookupOptions)
        : c === 'none'
          ? async () => ({ credentials: undefined, searched: ['none (credentials: "none")'] })
          : c;
    this.#notice = options.onNotice ?? (() => {});
  }

  /**
   * GETs the manifest `ref` names (by digest when it has one, else by tag) and describes the
   * bytes received: media type, digest (sha256, or the reference's algorithm) and length.
   */
  async getManifest(ref: ImageReference | string, options: OperationOptions = {}): Promise<ManifestResult> {
    const r = toReference(ref);
    return this.#operation(options, (signal) => this.#getManifest(r, signal));
  }

  /**
   * What `ref` names now. Uses HEAD and the `Docker-Content-Digest` header when the registry
   * sends it (for comparing with a signed digest); otherwise GETs and hashes.
   */
  async resolve(ref: ImageReference | string, options: OperationOptions = {}): Promise<Descriptor> {
    const r = toReference(ref);
    return this.#operation(options, async (signal) => {
      const answer = await this.#send(
        r,
        this.#manifestPath(r),
        { method: 'HEAD', accept: MANIFEST_ACCEPT },
        signal,
      );
      answer.close();
      if (answer.status >= 200 && answer.status < 300) {
        const digest = header(answer, 'docker-content-digest');
        const type = header(answer, 'content-type')?.split(';')[0]?.trim();
        const length = header(answer, 'content-length');
        if (
          digest !== undefined &&
          digestProblem(digest) === undefined &&
          digestAlgorithm(digest) === (r.digest === undefined ? 'sha256' : digestAlgorithm(r.digest)) &&
          type !== undefined &&
          isManifestMediaType(type) &&
          length !== undefined &&
          /^[0-9]{1,15}$/.test(length)
        ) {
          if (r.digest !== undefined && digest !== r.digest) {
            throw new LengthOrHashError(
              `${r.name}@${r.digest}: the registry answered with the digest ${digest} for it`,
            );
          }
          const size = Number(length);
          if (size > this.#maxManifestBytes) {
            throw new FormatError(
              `${r.name}: the manifest is ${size} bytes, more than the limit of ${this.#maxManifestBytes}`,
            );
          }
          return { mediaType: type, digest, size };
        }
      } else {
        await this.#failure(answer, r, false);
      }
      return (await this.#getManifest(r, signal)).descriptor;
    });
  }

  /** Every tag of the repository `ref` names (its tag and digest are ignored), following `Link` pages. */
  async listTags(ref: ImageReference | string, options: ListTagsOptions = {}): Promise<string[]> {
    const r = toReference(ref);
    const { pageSize, maxPages = 10_000 } = options;
    if (pageSize !== undefined && (!Number.isSafeInteger(pageSize) || pageSize <= 0)) {
      throw new UsageError(`pageSize must be a positive integer, found ${pageSize}`);
    }
    return this.#operation(options, async (signal) => {
      const tags: string[] = [];
      let next: string | undefined =
        `/v2/${r.repository}/tags/list${pageSize !== undefined ? `?n=${pageSize}` : ''}`;
      const seen = new Set<string>();
      while (next !== undefined) {
        if (seen.has(next)) throw new FetchError(`${r.name}: the tag list pages loop (${next} again)`);
        if (seen.size >= maxPages) throw new FetchError(`${r.name}: more than ${maxPages} pages of tags`);
        seen.add(next);
        const answer = await this.#send(r, next, { method: 'GET', accept: 'application/json' }, signal);
        if (answer.status < 200 || answer.status >= 300) await this.#failure(answer, r, true);
        const bytes = await answer.read(MAX_TAG_PAGE_BYTES);
        tags.push(...parseTagPage(bytes, r));
        const link = nextLink(answer.headers.get('link') ?? []);
        next = link === undefined ? undefined : this.#sameOrigin(link, answer.url, r);
      }
      return tags;
    });
  }

  /**
   * GETs the blob `digest` of `ref`'s repository: at most `maxLength` bytes counted as they
   * arrive, and only bytes that hash to `digest` (a registry, or the storage a redirect points
   * to, that sends others is refused with LengthOrHashError).
   */
  async getBlob(
    ref: ImageReference | string,
    digest: string,
    maxLength: number = DEFAULT_MAX_BLOB_BYTES,
    options: OperationOptions = {},
  ): Promise<Uint8Array> {
    const r = toReference(ref);
    const problem = digestProblem(digest);
    if (problem !== undefined) throw new UsageError(`invalid blob digest: ${problem}`);
    return this.#operation(options, async (signal) => {
      const answer = await this.#send(
        r,
        `/v2/${r.repository}/blobs/${digest}`,
        { method: 'GET', accept: '*/*' },
        signal,
      );
      if (answer.status < 200 || answer.status >= 300) await this.#failure(answer, r, false, digest);
      const bytes = await answer.read(maxLength);
      const actual = computeDigest(bytes, digestAlgorithm(digest));
      if (actual !== digest) {
        throw new LengthOrHashError(
          `${r.name}@${digest}: the registry sent a blob of ${bytes.length} bytes whose digest is ${actual}`,
        );
      }
      return bytes;
    });
  }

  /** Whether `ref`'s repository holds the blob `digest` (HEAD). */
  async hasBlob(
    ref: ImageReference | string,
    digest: string,
    options: OperationOptions = {},
  ): Promise<boolean> {
    const r = toReference(ref);
    const problem = digestProblem(digest);
    if (problem !== undefined) throw new UsageError(`invalid blob digest: ${problem}`);
    return this.#operation(options, async (signal) => {
      const answer = await this.#send(
        r,
        `/v2/${r.repository}/blobs/${digest}`,
        { method: 'HEAD', accept: '*/*' },
        signal,
      );
      answer.close();
      if (answer.status === 404) return false;
      if (answer.status >= 200 && answer.status < 300) return true;
      return this.#failure(answer, r, false, digest);
    });
  }

  /**
   * Uploads `bytes` as a blob of `ref`'s repository unless it is there already (HEAD first),
   * with the distribution specification's POST-then-PUT monolithic upload. Returns its digest.
   * Needs a client made with `actions: ['pull', 'push']` on registries with token auth.
   */
  async pushBlob(
    ref: ImageReference | string,
    bytes: Uint8Array,
    options: OperationOptions = {},
  ): Promise<string> {
    const r = toReference(ref);
    const digest = computeDigest(bytes);
    if (await this.hasBlob(r, digest, options)) return digest;
    return this.#operation(options, async (signal) => {
      const start = await this.#send(
        r,
        `/v2/${r.repository}/blobs/uploads/`,
        {
          method: 'POST',
          accept: '*/*',
          body: { contentType: 'application/octet-stream', bytes: new Uint8Array() },
        },
        signal,
      );
      if (start.status !== 202) await this.#failure(start, r, false, 'blob upload');
      start.close();
      const location = header(start, 'location');
      if (location === undefined) throw new FormatError(`${r.name}: the blob upload answer has no Location`);
      const target = this.#sameOrigin(location, start.url, r, 'blob upload');
      const url = new URL(target);
      url.searchParams.set('digest', digest);
      const done = await this.#send(
        r,
        url.href,
        { method: 'PUT', accept: '*/*', body: { contentType: 'application/octet-stream', bytes } },
        signal,
      );
      done.close();
      if (done.status !== 201) await this.#failure(done, r, false, 'blob upload');
      return digest;
    });
  }

  /**
   * PUTs manifest `bytes` of `mediaType` under `ref`'s tag (or digest). The registry's
   * `Docker-Content-Digest`, when sent, must be the digest of the bytes sent. Returns the digest.
   */
  async putManifest(
    ref: ImageReference | string,
    bytes: Uint8Array,
    mediaType: ManifestMediaType,
    options: OperationOptions = {},
  ): Promise<string> {
    const r = toReference(ref);
    const digest = computeDigest(bytes);
    return this.#operation(options, async (signal) => {
      const answer = await this.#send(
        r,
        this.#manifestPath(r),
        { method: 'PUT', accept: '*/*', body: { contentType: mediaType, bytes } },
        signal,
      );
      answer.close();
      if (answer.status !== 201) await this.#failure(answer, r, false);
      const claimed = header(answer, 'docker-content-digest');
      if (claimed !== undefined && claimed !== digest) {
        throw new LengthOrHashError(
          `${r.name}: the registry stored the manifest as ${claimed}, the bytes sent hash to ${digest}`,
        );
      }
      return digest;
    });
  }

  /** The credentials the client would use for `ref`'s registry (for a CLI that reports the source). */
  async credentialsFor(ref: ImageReference | string): Promise<RegistryCredentials | undefined> {
    const r = toReference(ref);
    return (await this.#lookup(r)).credentials;
  }

  #manifestPath(r: ImageReference): string {
    const target = r.digest ?? r.tag;
    if (target === undefined) {
      throw new UsageError(
        `${r.name}: the reference names neither a tag nor a digest (add :TAG or @sha256:…)`,
      );
    }
    return `/v2/${r.repository}/manifests/${target}`;
  }

  async #getManifest(r: ImageReference, signal: AbortSignal): Promise<ManifestResult> {
    const answer = await this.#send(
      r,
      this.#manifestPath(r),
      { method: 'GET', accept: MANIFEST_ACCEPT },
      signal,
    );
    if (answer.status < 200 || answer.status >= 300) await this.#failure(answer, r, false);
    const served = header(answer, 'content-type')?.split(';')[0]?.trim() ?? '';
    const claimed = header(answer, 'docker-content-digest');
    if (!isManifestMediaType(served)) {
      answer.close();
      throw new FormatError(
        `${r.name}: the registry served a manifest of type ${JSON.stringify(served)}, expected one of ${MANIFEST_ACCEPT}`,
      );
    }
    const bytes = await answer.read(this.#maxManifestBytes);
    const algorithm = r.digest !== undefined ? digestAlgorithm(r.digest) : 'sha256';
    const digest = computeDigest(bytes, algorithm);
    if (r.digest !== undefined && digest !== r.digest) {
      throw new LengthOrHashError(`${r.name}@${r.digest}: the registry sent bytes whose digest is ${digest}`);
    }
    if (claimed !== undefined) {
      const problem = digestProblem(claimed);
      if (problem !== undefined) {
        throw new LengthOrHashError(
          `${r.name}: the Docker-Content-Digest header is not a digest (${problem})`,
        );
      }
      const actual = computeDigest(bytes, digestAlgorithm(claimed));
      if (actual !== claimed) {
        throw new LengthOrHashError(
          `${r.name}: the registry's Docker-Content-Digest header says ${claimed}, the ${bytes.length} bytes received hash to ${actual}`,
        );
      }
    }
    const parsed = parseManifest(bytes, served as ManifestMediaType);
    return {
      descriptor: { mediaType: served as ManifestMediaType, digest, size: bytes.length },
      bytes,
      manifests: parsed.manifests,
    };
  }

  /** Runs `fn` with a signal that fires on the caller's abort or this client's deadline. */
  async #operation<T>(options: OperationOptions, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const deadline = AbortSignal.timeout(this.#timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
    try {
      return await fn(signal);
    } catch (e) {
      if (deadline.aborted && !options.signal?.aborted) {
        throw new TimeoutError(`the registry did not answer within ${this.#timeoutMs} ms`);
      }
      throw e;
    }
  }

  #lookup(r: ImageReference): Promise<CredentialLookup> {
    const key = `${r.registry} ${r.repository}`;
    let p = this.#lookups.get(key);
    if (p === undefined) {
      p = this.#credentials(r.registry, r.repository);
      this.#lookups.set(key, p);
      // A failed lookup (a helper that crashed) is not cached: the next call tries again.
      p.catch(() => this.#lookups.delete(key));
    }
    return p;
  }

  /** Whether plain HTTP may be tried for `apiHost` (Docker's rule: loopback, or listed as insecure). */
  #mayUsePlainHttp(apiHost: string): boolean {
    let u: URL;
    try {
      u = new URL(`http://${apiHost}/`);
    } catch {
      return false;
    }
    if (isLoopbackUrl(u)) return true;
    const host = apiHost.toLowerCase();
    return this.#insecure.includes(host) || this.#insecure.includes(u.hostname.toLowerCase());
  }

  /** One request to the registry, choosing the scheme on first contact. */
  async #request(
    r: ImageReference,
    target: string,
    req: RegistryRequest,
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<HttpResponse> {
    const known = this.#origins.get(r.apiHost);
    if (known !== undefined || target.startsWith('http')) {
      const url = target.startsWith('/') ? `${known}${target}` : target;
      return this.#http.request(url, { ...req, headers, signal });
    }
    const https = `https://${r.apiHost}`;
    try {
      const answer = await this.#http.request(`${https}${target}`, { ...req, headers, signal });
      this.#origins.set(r.apiHost, https);
      return answer;
    } catch (e) {
      // Only a failure to talk TLS at all (no HTTP status) lets an insecure registry be tried over
      // HTTP: a certificate that is not trusted came from a registry that speaks TLS, and trying
      // it over plain HTTP would trade a clear answer for a confusing one (a TLS port answers
      // plain HTTP with 400) and weaken a connection the user meant to secure.
      if (
        !this.#mayUsePlainHttp(r.apiHost) ||
        signal.aborted ||
        !(e instanceof TufError) ||
        e.code !== 'FETCH' ||
        isCertificateError(e)
      ) {
        throw e;
      }
      const http = `http://${r.apiHost}`;
      let answer: HttpResponse;
      try {
        answer = await this.#http.request(`${http}${target}`, { ...req, headers, signal });
      } catch (e2) {
        throw new FetchError(
          `cannot reach the registry ${r.apiHost} over https (${e.message}) or http (${e2 instanceof Error ? e2.message : String(e2)})`,
          undefined,
          { cause: e2 },
        );
      }
      this.#origins.set(r.apiHost, http);
      if (!isLoopbackUrl(new URL(`${http}/`))) {
        this.#notice(`${r.apiHost}: using plain HTTP (listed as an insecure registry; HTTPS failed)`);
      }
      return answer;
    }
  }

  /** A request with authentication: answers a 401 challenge once, then tries again. */
  async #send(
    r: ImageReference,
    target: string,
    req: RegistryRequest,
    signal: AbortSignal,
  ): Promise<HttpResponse> {
    const origin = () => this.#origins.get(r.apiHost) ?? `https://${r.apiHost}`;
    const key = () => `${origin()} ${r.repository}`;
    const earned = this.#auth.get(key());
    const first = await this.#request(r, target, req, earned ? { Authorization: earned.header } : {}, signal);
    if (first.status !== 401) return first;
    first.close();
    this.#auth.delete(key());
    const url = target.startsWith('/') ? `${origin()}${target}` : target;
    const auth = await answerChallenge({
      url,
      answer: first,
      repository: r.repository,
      actions: this.#actions,
      lookup: () => this.#lookup(r),
      allowedRealmHosts: this.#realmHosts,
      http: this.#transport,
      signal,
    });
    if (auth.refusal !== undefined)
      this.#notice(`${auth.refusal.message}; asked for an anonymous token instead`);
    const second = await this.#request(r, url, req, { Authorization: auth.header }, signal);
    if (second.status === 401) {
      second.close();
      throw unauthorized(url, auth, (await this.#lookup(r)).searched);
    }
    this.#auth.set(key(), auth);
    return second;
  }

  /** The next page's URL: an absolute path on this registry, or an absolute URL of the same origin. */
  #sameOrigin(link: string, current: string, r: ImageReference, what = "the tag list's next page"): string {
    const origin = new URL(current).origin;
    if (link.startsWith('/') && !link.startsWith('//')) return `${origin}${link}`;
    let u: URL;
    try {
      u = new URL(link);
    } catch {
      throw new FormatError(`${r.name}: the location of ${what} is not a URL or absolute path`);
    }
    if (u.origin !== origin) {
      throw new FetchError(
        `${r.name}: refusing to follow ${what} to another origin (expected ${origin}, found ${u.origin})`,
      );
    }
    return link;
  }

  /** Turns a non-2xx answer into the error it means; reads a bounded error body for its code. */
  async #failure(answer: HttpResponse, r: ImageReference, tags: boolean, object?: string): Promise<never> {
    const codes: string[] = [];
    try {
      const body = answer.headers.get('content-length')
        ? await answer.read(MAX_ERROR_BYTES)
        : new Uint8Array();
      const doc = body.length > 0 ? (JSON.parse(new TextDecoder().decode(body)) as unknown) : undefined;
      const errors = (doc as { errors?: unknown } | undefined)?.errors;
      if (Array.isArray(errors)) {
        for (const e of errors) {
          const code = (e as { code?: unknown } | null)?.code;
          // Only the registry's error codes (distribution spec), never its free text.
          if (typeof code === 'string' && /^[A-Z_]{1,40}$/.test(code)) codes.push(code);
        }
      }
    } catch {
      // The body is only a hint.
    } finally {
      answer.close();
    }
    const what = tags
      ? `the tags of ${r.name}`
      : object !== undefined
        ? `${r.name} (${object})`
        : `${r.name}${r.digest ? `@${r.digest}` : `:${r.tag ?? ''}`}`;
    const said = codes.length > 0 ? ` (${codes.join(', ')})` : '';
    if (answer.status === 404) {
      if (codes.includes('NAME_UNKNOWN'))
        throw new NotFoundError(`no repository ${r.name} on ${r.apiHost}${said}`);
      throw new NotFoundError(`${what}: not found on ${r.apiHost}${said}`);
    }
    throw new FetchError(`${what}: the registry answered HTTP ${answer.status}${said}`, answer.status);
  }
}

function parseTagPage(bytes: Uint8Array, r: ImageReference): string[] {
  let doc: unknown;
  try {
    doc = parseJson(bytes);
  } catch (e) {
    throw new FormatError(
      `${r.name}: the tag list is not strict JSON (${e instanceof Error ? e.message : String(e)})`,
    );
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new FormatError(`${r.name}: expected the tag list as a JSON object`);
  }
  const tags = Object.hasOwn(doc, 'tags') ? (doc as { tags: unknown }).tags : undefined;
  if (tags === null || tags === undefined) return [];
  if (!Array.isArray(tags)) throw new FormatError('expected an array or null', 'tags');
  return tags.map((t, i) => {
    if (typeof t !== 'string' || !isTag(t)) {
      throw new FormatError(
        `expected a tag (A-Z a-z 0-9 _ . -, at most 128 characters), found ${JSON.stringify(t)}`,
        `tags[${i}]`,
      );
    }
    return t;
  });
}
