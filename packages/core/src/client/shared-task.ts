/**
 * One piece of work shared by several callers, each with its own AbortSignal: a caller whose
 * signal fires stops waiting at once (an AbortedError), and the work itself is cancelled only
 * when every caller has stopped waiting — one caller's cancellation never fails another's
 * refresh. A caller without a signal waits to the end, so the work is never cancelled under it.
 */
import type { AbortedError } from '../errors.js';
import { abortedError } from './fetcher.js';

export class SharedTask<T> {
  readonly #controller = new AbortController();
  readonly #promise: Promise<T>;
  #waiting = 0;

  constructor(
    run: (signal: AbortSignal) => Promise<T>,
    private readonly what: string,
  ) {
    this.#promise = run(this.#controller.signal);
    this.#promise.catch(() => {}); // every joiner handles the outcome; nobody may be left with none
  }

  /** True once every waiter left and the work was cancelled: a new caller must start anew. */
  get cancelled(): boolean {
    return this.#controller.signal.aborted;
  }

  /** The outcome, settled for everyone. */
  get settled(): Promise<T> {
    return this.#promise;
  }

  /** Waits for the outcome, or until `signal` fires (then AbortedError, and one waiter fewer). */
  join(signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(this.#aborted(signal));
    this.#waiting++;
    if (!signal) return this.#promise;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        if (--this.#waiting === 0) this.#controller.abort(signal.reason);
        reject(this.#aborted(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#promise.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }

  #aborted(signal: AbortSignal): AbortedError {
    return abortedError(signal, this.what);
  }
}
