/**
 * A Fetcher over the standard `fetch` (browsers, service workers, Deno, Bun, edge workers, and
 * Node's own). Portable: no `node:` module, no DOM types in its declarations.
 */
import { FetchError, httpStatusError } from '../errors.js';
import type { Fetcher, FetchRequest } from './fetcher.js';

/** The part of a ReadableStream reader this fetcher uses. */
export interface BodyReaderLike {
  /** The next chunk, or `done`. */
  read(): Promise<{ done: boolean; value?: Uint8Array | undefined }>;
  /** Stops the transfer (past the limit, or on an error status). */
  cancel(reason?: unknown): Promise<void>;
  /** Releases the reader when the stream is finished with. */
  releaseLock(): void;
}

/** The part of a `fetch` Response this fetcher reads (structural: no DOM types needed). */
export interface FetchResponseLike {
  /** The HTTP status. */
  readonly status: number;
  /** The body stream, if any. */
  readonly body: BodyLike | null;
}

/** The part of a Response body (a ReadableStream) this fetcher uses. */
export interface BodyLike {
  /** A reader for the stream. */
  getReader(): BodyReaderLike;
}

/** The standard `fetch`, or anything with its shape (a worker's service binding, say). */
export type FetchFunction = (
  url: string,
  init: {
    signal: AbortSignal;
    redirect: 'follow' | 'error';
    credentials?: 'omit';
    cache?: 'no-store';
  },
) => Promise<FetchResponseLike>;

/** Options of `FetchFetcher`. */
export interface FetchFetcherOptions {
  /** The fetch to use; by default `globalThis.fetch`, read at each request. */
  fetch?: FetchFunction;
  /**
   * `error` refuses redirects; the default `follow` lets `fetch` follow them (the bytes are
   * verified whatever their origin, and no credentials are sent: see `credentials: 'omit'`).
   */
  redirect?: 'follow' | 'error';
}

/**
 * Streams a URL with the standard `fetch`. The body is read chunk by chunk and reading stops as
 * soon as more than `maxLength` bytes arrived (the core enforces the limit too, on the bytes it
 * counts); the request's `signal` (the core's deadline and the caller's cancellation) aborts
 * the transfer. Sends no cookies or HTTP credentials (`credentials: 'omit'`, DESIGN rule 12) and
 * bypasses the HTTP cache (`cache: 'no-store'`): a cached timestamp would hide a newer one. On
 * Cloudflare Workers, which reject both fields and have neither cookies nor that cache, it
 * leaves them out.
 * A 404, 410 or 403 is a NotFoundError, any other non-2xx a FetchError.
 */
export class FetchFetcher implements Fetcher {
  readonly #options: FetchFetcherOptions;

  constructor(options: FetchFetcherOptions = {}) {
    this.#options = options;
  }

  /**
   * Streams the body at `url`.
   * @throws {@link errors!NotFoundError | NotFoundError} HTTP 404, 410 or 403.
   * @throws {@link errors!FetchError | FetchError} any other status, or the transfer failed.
   */
  async *fetch(url: string, request: FetchRequest): AsyncIterable<Uint8Array> {
    const fetchFn =
      this.#options.fetch ?? (globalThis as unknown as { fetch?: FetchFunction }).fetch ?? noFetch();
    let response: FetchResponseLike;
    try {
      const init = { signal: request.signal, redirect: this.#options.redirect ?? 'follow' } as const;
      response = await fetchFn(
        url,
        onCloudflareWorkers() ? init : { ...init, credentials: 'omit', cache: 'no-store' },
      );
    } catch (e) {
      throw new FetchError(`${url}: ${e instanceof Error ? e.message : String(e)}`, undefined, { cause: e });
    }
    const reader = response.body?.getReader();
    if (response.status < 200 || response.status >= 300) {
      await reader?.cancel().catch(() => {});
      throw httpStatusError(`${url}: HTTP ${response.status}`, response.status);
    }
    if (reader === undefined) return; // no body: zero bytes
    let received = 0;
    let done = false;
    try {
      while (!done) {
        const r = await reader.read();
        done = r.done;
        if (r.value === undefined || r.value.length === 0) continue;
        received += r.value.length;
        yield r.value;
        // Past the limit the core refuses the download; stop reading from the network now.
        if (received > request.maxLength) break;
      }
    } finally {
      if (!done) await reader.cancel().catch(() => {});
      reader.releaseLock();
    }
  }
}

/**
 * Cloudflare's workerd rejects the `cache` and `credentials` fields ("not implemented"); it has
 * no cookie jar and no browser HTTP cache for them to act on. It identifies itself by this
 * documented user agent.
 */
function onCloudflareWorkers(): boolean {
  return (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent === 'Cloudflare-Workers';
}

function noFetch(): never {
  throw new FetchError('no fetch in this runtime (expected globalThis.fetch; pass options.fetch)', undefined);
}
