/**
 * What the client needs from a transport: a stream of bytes for a URL. The core, not the
 * fetcher, enforces the byte limit on the bytes actually read and the deadline (DESIGN rule 11),
 * so a fetcher that ignores both still cannot feed the client endless data.
 */
import { AbortedError, DownloadLimitError, FetchError, TimeoutError, TufError } from '../errors.js';

/**
 * What the client passes to a `Fetcher` with each request: a signal to stop on and the byte limit
 * it will enforce.
 */
export interface FetchRequest {
  /** Aborted when the deadline passes or the limit is exceeded; fetchers should stop then. */
  signal: AbortSignal;
  /** The most bytes the caller will accept (a hint: the core enforces it regardless). */
  maxLength: number;
}

/**
 * The transport the client downloads through (HTTP, files, an in-memory repository in tests). It
 * only streams bytes: the core counts them, applies the deadline and verifies them, so a fetcher
 * needs no security logic of its own.
 */
export interface Fetcher {
  /**
   * Streams the body at `url`. Throws a `NotFoundError` when the file does not exist (see
   * `httpStatusError`), and a `FetchError` for any other failure.
   * @throws {@link errors!NotFoundError | NotFoundError} the file does not exist.
   * @throws {@link errors!FetchError | FetchError} any other transport failure.
   */
  fetch(url: string, request: FetchRequest): AsyncIterable<Uint8Array>;
}

export interface DownloadOptions {
  /** The most bytes to accept. */
  maxLength: number;
  /** Milliseconds for the whole download, from the first byte requested to the last received. */
  timeoutMs: number;
  /** Called with the number of bytes received so far. */
  onProgress?: (received: number) => void;
  /** The caller's cancellation: the transfer stops and an AbortedError is thrown. */
  signal?: AbortSignal;
}

/** The AbortedError for a fired signal (its reason, when an Error, as the cause). */
export function abortedError(signal: AbortSignal, what: string): AbortedError {
  const reason: unknown = signal.reason;
  return new AbortedError(
    `${what}: cancelled${reason instanceof Error && reason.name !== 'AbortError' ? ` (${reason.message})` : ''}`,
    { cause: reason },
  );
}

/**
 * Streams `url` through `fetcher`, enforcing `maxLength` on the bytes actually read and the
 * deadline on the whole transfer. Yields chunks; never more than `maxLength` bytes in total.
 */
export async function* boundedStream(
  fetcher: Fetcher,
  url: string,
  options: DownloadOptions,
): AsyncGenerator<Uint8Array> {
  const outer = options.signal;
  if (outer?.aborted) throw abortedError(outer, url);
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, options.timeoutMs);
  const onCancel = () => controller.abort();
  outer?.addEventListener('abort', onCancel, { once: true });
  let received = 0;
  try {
    const body = fetcher.fetch(url, { signal: controller.signal, maxLength: options.maxLength });
    for await (const chunk of withDeadline(body, controller.signal)) {
      received += chunk.length;
      if (received > options.maxLength) {
        controller.abort();
        throw new DownloadLimitError(`${url}: expected at most ${options.maxLength} bytes, received more`);
      }
      options.onProgress?.(received);
      yield chunk;
    }
  } catch (e) {
    if (outer?.aborted) throw abortedError(outer, url);
    if (timedOut) throw new TimeoutError(`${url}: no complete answer within ${options.timeoutMs} ms`);
    if (e instanceof TufError) throw e;
    throw new FetchError(`${url}: ${e instanceof Error ? e.message : String(e)}`, undefined, { cause: e });
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onCancel);
  }
}

/** Ends iteration with an abort error as soon as `signal` fires, even if the source never yields again. */
async function* withDeadline(
  source: AsyncIterable<Uint8Array>,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new Error('aborted'));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {});
  try {
    for (;;) {
      const r = await Promise.race([it.next(), aborted]);
      if (r.done) return;
      yield r.value;
    }
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
    void it.return?.()?.catch?.(() => {});
  }
}

/** Downloads `url` into memory, bounded as `boundedStream` is. */
export async function download(fetcher: Fetcher, url: string, options: DownloadOptions): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const c of boundedStream(fetcher, url, options)) {
    chunks.push(c);
    n += c.length;
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
