import type { Clock } from '../core/clock.js';
import { ClosedError } from '../core/errors.js';
import type { FallbackIndex } from './fallback-index.js';

/** After a failed read with nothing cached, lookups rethrow that failure for this long before trying again. */
export const FALLBACK_FAILURE_RETRY_MS = 5_000;

/**
 * Reads the document. Returns `undefined` when the source reports it unchanged since the last successful
 * load (S3 ETag, file mtime), so the previous index is kept without decoding again.
 */
export type IndexLoader = (signal: AbortSignal) => Promise<FallbackIndex | undefined>;

export interface RefreshingIndexOptions {
  readonly clock: Clock;
  readonly ttlMs: number;
  readonly load: IndexLoader;
  readonly what: string;
  readonly onError?: ((error: unknown) => void) | undefined;
}

/**
 * The index a reader answers from, re-read at most once per TTL; concurrent lookups share one read. A
 * failed re-read keeps the previous index: when the service is down, a cache a few minutes old is worth
 * far more than none. The failure still reaches `onError`.
 */
export class RefreshingIndex {
  readonly #options: RefreshingIndexOptions;
  readonly #abort = new AbortController();
  #index: FallbackIndex | undefined;
  #checkedAt = Number.NEGATIVE_INFINITY;
  #failure: { error: unknown; at: number } | undefined;
  #loading: Promise<FallbackIndex> | undefined;

  constructor(options: RefreshingIndexOptions) {
    this.#options = options;
  }

  get(): Promise<FallbackIndex> {
    if (this.#abort.signal.aborted) return Promise.reject(new ClosedError(this.#options.what));
    const now = this.#options.clock.now();
    if (this.#index && now - this.#checkedAt < this.#options.ttlMs) return Promise.resolve(this.#index);
    const retryMs = Math.min(this.#options.ttlMs, FALLBACK_FAILURE_RETRY_MS);
    if (!this.#index && this.#failure && now - this.#failure.at < retryMs)
      return Promise.reject(this.#failure.error);
    this.#loading ??= this.#load().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  close(): void {
    this.#abort.abort(new ClosedError(this.#options.what));
  }

  async #load(): Promise<FallbackIndex> {
    try {
      const loaded = await this.#options.load(this.#abort.signal);
      if (this.#abort.signal.aborted) throw new ClosedError(this.#options.what);
      if (loaded) this.#index = loaded;
      // A loader only answers "unchanged" to a conditional read, which it makes only after a success.
      if (!this.#index)
        throw new Error(`${this.#options.what} reported an unchanged document before any read`);
      this.#checkedAt = this.#options.clock.now();
      this.#failure = undefined;
      return this.#index;
    } catch (error) {
      if (this.#abort.signal.aborted) throw new ClosedError(this.#options.what);
      this.#options.onError?.(error);
      const now = this.#options.clock.now();
      if (!this.#index) {
        this.#failure = { error, at: now };
        throw error;
      }
      this.#checkedAt = now;
      return this.#index;
    }
  }
}
