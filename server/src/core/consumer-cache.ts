import { type Clock, parseOrThrow, type TimerHandle } from '@meshpress/client';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { ConfigStore } from '../store/config-store.js';
import { loadTopicView, type TopicView } from './topic-view.js';

export const DEFAULT_REFRESH_INTERVAL_MS = 5_000;
export const DEFAULT_REVERIFY_AFTER_MS = 600_000;
export const DEFAULT_REFRESH_CONCURRENCY = 8;
export const DEFAULT_CHANGE_PAGE_SIZE = 1_000;

export interface ConsumerCacheOptions {
  readonly store: ConfigStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /**
   * How often the store's change markers are read; topics whose marker moved are reloaded, so a lost
   * change notification only delays. See DEFAULT_REFRESH_INTERVAL_MS.
   */
  readonly refreshIntervalMs?: number | undefined;
  /**
   * A cached topic is reloaded at least this often even when its marker did not move (each topic at its
   * own point between 3/4 of this and all of it, so they do not all come due together). The safety net
   * for a change whose marker the store never bumped (a write that failed between its data and its
   * marker) or showed before the data (another data center's replica). 0 turns it off.
   * See DEFAULT_REVERIFY_AFTER_MS.
   */
  readonly reverifyAfterMs?: number | undefined;
  /** Topics reloaded at once by a periodic refresh. See DEFAULT_REFRESH_CONCURRENCY. */
  readonly refreshConcurrency?: number | undefined;
  /** Topics per listTopicChanges call. See DEFAULT_CHANGE_PAGE_SIZE. */
  readonly changePageSize?: number | undefined;
}

const tuningSchema = z.object({
  refreshIntervalMs: z.number().int().min(1).default(DEFAULT_REFRESH_INTERVAL_MS),
  reverifyAfterMs: z.number().int().min(0).default(DEFAULT_REVERIFY_AFTER_MS),
  refreshConcurrency: z.number().int().min(1).max(1_000).default(DEFAULT_REFRESH_CONCURRENCY),
  changePageSize: z.number().int().min(1).max(100_000).default(DEFAULT_CHANGE_PAGE_SIZE),
});

type Tuning = z.output<typeof tuningSchema>;

type Entry = { view: TopicView | undefined; loading?: Promise<TopicView | undefined>; dirty?: boolean };

/**
 * Polls are answered from here, never from the store. Topics load on first use (concurrent misses share
 * one load) and reload at once when told a topic changed. Every refresh interval the cache reads the
 * store's change markers of all topics (listTopicChanges, paged) and reloads only the cached topics
 * whose marker differs from the one their view was loaded at, so a quiet interval costs a few listing
 * reads however many topics are cached. A topic that does not exist is cached as absent too, so polls
 * for it do not reach the store either; it loads once the listing shows it. docs/consumer-cache.md.
 */
export class ConsumerCache {
  readonly #store: ConfigStore;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #tuning: Tuning;
  readonly #entries = new Map<string, Entry>();
  readonly #listeners = new Set<(topic: string) => void>();
  #timer: TimerHandle | undefined;
  #closed = false;

  constructor(options: ConsumerCacheOptions) {
    this.#store = options.store;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#tuning = parseOrThrow(
      tuningSchema,
      {
        refreshIntervalMs: options.refreshIntervalMs,
        reverifyAfterMs: options.reverifyAfterMs,
        refreshConcurrency: options.refreshConcurrency,
        changePageSize: options.changePageSize,
      },
      'consumer cache options',
    );
  }

  start(): void {
    if (this.#closed || this.#timer) return;
    this.#schedule();
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The view of a topic, loading it on a miss; undefined when the topic does not exist. */
  get(topic: string): Promise<TopicView | undefined> | TopicView | undefined {
    const entry = this.#entries.get(topic);
    if (entry) return entry.loading && !entry.view ? entry.loading : entry.view;
    return this.refresh(topic);
  }

  /** Calls `listener(topic)` each time a topic's view is replaced. Returns an unsubscribe function. */
  onChange(listener: (topic: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Reloads a topic now. A reload already running is not duplicated: the topic is marked dirty and read
   * once more when it finishes, so the change that triggered this call is never missed.
   */
  refresh(topic: string): Promise<TopicView | undefined> {
    let entry = this.#entries.get(topic);
    if (!entry) {
      entry = { view: undefined };
      this.#entries.set(topic, entry);
    }
    if (entry.loading) {
      entry.dirty = true;
      return entry.loading;
    }
    const current = entry;
    const run = async (): Promise<TopicView | undefined> => {
      try {
        do {
          current.dirty = false;
          const view = await loadTopicView(this.#store, topic, this.#clock.now(), current.view?.servable);
          const changed = view?.revision !== current.view?.revision;
          current.view = view;
          if (changed) this.#emit(topic);
        } while (current.dirty && !this.#closed);
        return current.view;
      } finally {
        current.loading = undefined;
      }
    };
    current.loading = run();
    current.loading.catch((err: unknown) => {
      this.#logger.warn({ err, topic }, 'topic refresh failed; serving the previous view');
      if (!current.view) this.#entries.delete(topic);
    });
    return current.loading;
  }

  /**
   * One periodic refresh, as the timer runs it: reads every topic's change marker and reloads the cached
   * topics that changed (or are due for reverification). Resolves when done; never rejects.
   */
  async refreshChanged(): Promise<void> {
    if (this.#closed || this.#entries.size === 0) return;
    const { changePageSize, refreshConcurrency } = this.#tuning;
    const listed = new Set<string>();
    let after: string | undefined;
    try {
      for (;;) {
        const page = await this.#store.listTopicChanges({ after, limit: changePageSize });
        if (this.#closed) return;
        const due: string[] = [];
        for (const { name, changeMarker } of page) {
          listed.add(name);
          const entry = this.#entries.get(name);
          // A load in flight records a marker read after this listing's, or the next listing catches up.
          if (!entry || entry.loading) continue;
          if (entry.view?.changeMarker !== changeMarker || this.#dueForReverify(name, entry.view))
            due.push(name);
        }
        await this.#reload(due, refreshConcurrency);
        const last = page.at(-1);
        if (page.length < changePageSize || last === undefined) break;
        after = last.name;
      }
    } catch (err) {
      this.#logger.warn({ err }, 'listing topic changes failed; serving the cached views');
      return;
    }
    // Cached topics the listing no longer shows: a load tells whether they are gone (then cached as
    // absent) or only missing from the listing (a creation cut short in a store that lists separately).
    const unlisted: string[] = [];
    for (const [name, entry] of this.#entries)
      if (entry.view && !entry.loading && !listed.has(name)) unlisted.push(name);
    await this.#reload(unlisted, refreshConcurrency);
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#listeners.clear();
  }

  #dueForReverify(name: string, view: TopicView | undefined): boolean {
    const { reverifyAfterMs } = this.#tuning;
    if (!view || reverifyAfterMs === 0) return false;
    return this.#clock.now() - view.loadedAt >= reverifyAfterMs * (0.75 + 0.25 * spread(name));
  }

  async #reload(topics: readonly string[], concurrency: number): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < topics.length && !this.#closed) {
        const topic = topics[next++]!;
        // Failures are logged by refresh(); the previous view keeps being served.
        await this.refresh(topic).catch(() => undefined);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, topics.length) }, worker));
  }

  #emit(topic: string): void {
    for (const listener of this.#listeners) {
      try {
        listener(topic);
      } catch (err) {
        this.#logger.error({ err, topic }, 'consumer cache listener failed');
      }
    }
  }

  #schedule(): void {
    this.#timer = this.#clock.setTimeout(() => {
      void this.refreshChanged().finally(() => {
        if (!this.#closed) this.#schedule();
      });
    }, this.#tuning.refreshIntervalMs);
  }
}

/** A fixed fraction in [0, 1) per topic name (FNV-1a), so reverification dates differ between topics. */
function spread(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) / 2 ** 32;
}
