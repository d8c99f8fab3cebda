import type { Clock } from '../core/clock.js';
import { ClosedError } from '../core/errors.js';
import type { FallbackIndex } from './fallback-index.js';

/** After a failed read with nothing cached, lookups rethrow that failure for this long before trying again. */
export const FALLBACK_FAILURE_RETRY_MS = 5_000;
/**
 * An index past its TTL but younger than this many TTLs answers lookups at once while it is re-read in
 * the background. An older one (a reader unused for a long time, e.g. since startup) is re-read before
 * answering: its answer could be far behind what the service would say.
 */
export const MAX_STALE_SERVE_TTLS = 10;

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
 * The index a reader answers from, re-read at most once per TTL; concurrent lookups share one read.
 * Stale-while-revalidate: past the TTL (up to MAX_STALE_SERVE_TTLS of them) a lookup is answered from the
 * index at hand while the re-read runs in the background, so a slow source never blocks lookups; only the
 * first read (and the re-read of a very old index) is waited for. A failed re-read keeps the previous
 * index: when the service is down, a cache a few minutes old is worth far more than none. The failure
 * still reaches `onError`.
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
    const { clock, ttlMs } = this.#options;
    const now = clock.now();
    if (this.#index) {
      const age = now - this.#checkedAt;
      if (age < ttlMs) return Promise.resolve(this.#index);
      if (age < ttlMs * MAX_STALE_SERVE_TTLS) {
        // The re-read reports its own failures (onError) and keeps this index on failure.
        this.#reload().catch(() => undefined);
        return Promise.resolve(this.#index);
      }
      return this.#reload();
    }
    const retryMs = Math.min(ttlMs, FALLBACK_FAILURE_RETRY_MS);
    if (this.#failure && now - this.#failure.at < retryMs) return Promise.reject(this.#failure.error);
    return this.#reload();
  }

  /** Resolves once the read in progress, if any (a background re-read included), has finished. */
  idle(): Promise<void> {
    return (this.#loading ?? Promise.resolve()).then(
      () => undefined,
      () => undefined,
    );
  }

  close(): void {
    this.#abort.abort(new ClosedError(this.#options.what));
  }

  #reload(): Promise<FallbackIndex> {
    this.#loading ??= this.#load().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
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
