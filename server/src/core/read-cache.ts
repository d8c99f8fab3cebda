import type { Clock } from '@meshpress/client';

export interface ReadCacheOptions {
  readonly clock: Clock;
  /** How long an answer is reused. */
  readonly ttlMs: number;
  readonly maxEntries: number;
  /** Budget for the summed `sizeOf` of cached values (e.g. payload bytes). */
  readonly maxBytes: number;
}

interface Entry<V> {
  readonly value: V;
  readonly expires: number;
  readonly size: number;
}

/**
 * Request pooling for non-poll reads: concurrent misses for one key share one load, and answers are
 * reused for a short TTL, so a spike of identical reads (a fleet restarting, a dashboard) reaches the
 * store once. Least recently used entries go first when a bound is reached. Failures are not cached.
 */
export class ReadCache<V> {
  readonly #options: ReadCacheOptions;
  readonly #sizeOf: (value: V) => number;
  readonly #entries = new Map<string, Entry<V>>();
  readonly #loading = new Map<string, Promise<V>>();
  #bytes = 0;

  constructor(options: ReadCacheOptions, sizeOf: (value: V) => number = () => 0) {
    this.#options = options;
    this.#sizeOf = sizeOf;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string, load: () => Promise<V>): Promise<V> {
    const entry = this.#entries.get(key);
    if (entry) {
      if (entry.expires > this.#options.clock.now()) {
        this.#entries.delete(key);
        this.#entries.set(key, entry);
        return Promise.resolve(entry.value);
      }
      this.#evict(key);
    }
    const pending = this.#loading.get(key);
    if (pending) return pending;
    // The load is the key's epoch: it settles into the cache only while it is still the key's current
    // load, so one that an invalidation detached (it may have read before the write) changes nothing.
    const started: Promise<V> = load().then(
      (value) => {
        if (this.#loading.get(key) === started) {
          this.#loading.delete(key);
          this.#store(key, value);
        }
        return value;
      },
      (err: unknown) => {
        if (this.#loading.get(key) === started) this.#loading.delete(key);
        throw err;
      },
    );
    this.#loading.set(key, started);
    return started;
  }

  /**
   * Drops every entry whose key starts with `prefix` (e.g. all of one topic after a write), and detaches
   * loads of those keys in flight: their callers still get what they read, but it is not stored, and later
   * reads start a load of their own instead of joining one that may have read before the write.
   */
  invalidatePrefix(prefix: string): void {
    for (const key of [...this.#entries.keys()]) if (key.startsWith(prefix)) this.#evict(key);
    for (const key of [...this.#loading.keys()]) if (key.startsWith(prefix)) this.#loading.delete(key);
  }

  #store(key: string, value: V): void {
    const size = this.#sizeOf(value);
    if (size > this.#options.maxBytes) return;
    this.#evict(key);
    this.#entries.set(key, { value, size, expires: this.#options.clock.now() + this.#options.ttlMs });
    this.#bytes += size;
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.#options.maxEntries && this.#bytes <= this.#options.maxBytes) break;
      this.#evict(oldest);
    }
  }

  #evict(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    this.#bytes -= entry.size;
  }
}
