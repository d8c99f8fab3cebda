import { type Clock, parseOrThrow, type TimerHandle } from '@meshpress/client';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { ConfigStore } from '../store/config-store.js';
import { loadTopicView, type TopicView } from './topic-view.js';

export const DEFAULT_REFRESH_INTERVAL_MS = 5_000;
export const DEFAULT_REVERIFY_AFTER_MS = 600_000;
export const DEFAULT_REFRESH_CONCURRENCY = 8;
export const DEFAULT_CHANGE_PAGE_SIZE = 1_000;
export const DEFAULT_MAX_ABSENT_TOPICS = 10_000;
/**
 * A listing older than this many refresh intervals no longer answers for names it lacks: the timer that
 * renews it has stopped or keeps failing, and a topic created since would stay invisible.
 */
const LISTING_STALE_INTERVALS = 2;

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
  /**
   * Names a load found absent, remembered (least recently asked dropped first) for one refresh interval
   * so that, when no listing can answer for them, each costs at most one store read per interval.
   * See DEFAULT_MAX_ABSENT_TOPICS.
   */
  readonly maxAbsentTopics?: number | undefined;
}

const tuningSchema = z.object({
  refreshIntervalMs: z.number().int().min(1).default(DEFAULT_REFRESH_INTERVAL_MS),
  reverifyAfterMs: z.number().int().min(0).default(DEFAULT_REVERIFY_AFTER_MS),
  refreshConcurrency: z.number().int().min(1).max(1_000).default(DEFAULT_REFRESH_CONCURRENCY),
  changePageSize: z.number().int().min(1).max(100_000).default(DEFAULT_CHANGE_PAGE_SIZE),
  maxAbsentTopics: z.number().int().min(0).max(10_000_000).default(DEFAULT_MAX_ABSENT_TOPICS),
});

type Tuning = z.output<typeof tuningSchema>;

/** A topic with a view, or whose first load is in flight (`view` undefined only then). */
type Entry = { view: TopicView | undefined; loading?: Promise<TopicView | undefined>; dirty?: boolean };

/** The names of every topic, as the last complete listing read them, and when that listing started. */
type Listing = { readonly names: ReadonlySet<string>; readonly at: number };

/**
 * Polls are answered from here, never from the store. Topics load on first use (concurrent misses share
 * one load) and reload at once when told a topic changed. Every refresh interval the cache reads the
 * store's change markers of all topics (listTopicChanges, paged) and reloads only the cached topics
 * whose marker differs from the one their view was loaded at, so a quiet interval costs a few listing
 * reads however many topics are cached. That listing also answers for names that are not cached: a name
 * it lacks is absent without a store read and without memory, until the next listing, so polls naming
 * unknown topics cost the store nothing. docs/consumer-cache.md.
 */
export class ConsumerCache {
  readonly #store: ConfigStore;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #tuning: Tuning;
  readonly #entries = new Map<string, Entry>();
  /** Names a load found absent, to when that answer expires; in order of last use (oldest first). */
  readonly #absent = new Map<string, number>();
  readonly #listeners = new Set<(topic: string) => void>();
  #listing: Listing | undefined;
  #generation = 0;
  #listingRun: Promise<ReadonlyMap<string, string> | undefined> | undefined;
  #refreshRun: Promise<void> | undefined;
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
        maxAbsentTopics: options.maxAbsentTopics,
      },
      'consumer cache options',
    );
  }

  start(): void {
    if (this.#closed || this.#timer) return;
    this.#schedule();
  }

  /** Topics held with a view (or loading); names known to be absent are not counted. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The view of a topic, loading it on a miss; undefined when the topic does not exist. A name that the
   * last listing lacks is answered absent at once; without a recent listing, one is read first (shared
   * by concurrent misses).
   */
  /**
   * Moves whenever `get` might answer differently: a view replaced, an entry added or dropped, a topic
   * found absent or its absence forgotten, a new listing. While it stays put every `get` answers as
   * before, so a caller may reuse what it derived from them (the service reuses a repeating poll's
   * evaluation). It moves far more often than answers change (every listing, every reload), never less.
   */
  get generation(): number {
    return this.#generation;
  }

  get(topic: string): Promise<TopicView | undefined> | TopicView | undefined {
    const entry = this.#entries.get(topic);
    if (entry) return entry.view ?? entry.loading;
    if (this.#knownAbsent(topic)) return undefined;
    const names = this.#currentListing();
    if (names) return names.has(topic) ? this.refresh(topic) : undefined;
    return this.#getAfterListing(topic);
  }

  /**
   * Calls `listener(topic)` each time a topic's view is replaced, and when a topic not held appears in
   * the listing (its next get loads it). Returns an unsubscribe function.
   */
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
      this.#generation++;
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
          this.#generation++;
          if (view) this.#absent.delete(topic);
          else if (!current.dirty) this.#settleAbsent(topic, current);
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
      if (!current.view && this.#entries.get(topic) === current) this.#entries.delete(topic);
      this.#generation++;
    });
    return current.loading;
  }

  /**
   * One periodic refresh, as the timer runs it: reads every topic's change marker and reloads the cached
   * topics that changed (or are due for reverification). Resolves when done; never rejects. A refresh
   * already running is joined, not repeated.
   */
  refreshChanged(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    // Never asked anything yet: there is nothing to keep fresh.
    if (this.#entries.size === 0 && this.#absent.size === 0 && !this.#listing) return Promise.resolve();
    this.#refreshRun ??= this.#runRefresh().finally(() => {
      this.#refreshRun = undefined;
    });
    return this.#refreshRun;
  }

  async #runRefresh(): Promise<void> {
    const markers = await this.#list();
    if (!markers || this.#closed) return;
    const due: string[] = [];
    // Cached topics the listing no longer shows: a load tells whether they are gone (then absent) or only
    // missing from the listing (a creation cut short in a store that lists separately).
    const unlisted: string[] = [];
    for (const [name, entry] of this.#entries) {
      // A load in flight records a marker read after this listing's, or the next listing catches up.
      if (entry.loading) continue;
      const marker = markers.get(name);
      if (marker === undefined) unlisted.push(name);
      else if (entry.view?.changeMarker !== marker || this.#dueForReverify(name, entry.view)) due.push(name);
    }
    await this.#reload([...due, ...unlisted], this.#tuning.refreshConcurrency);
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

  /** Whether a load found the topic absent less than a refresh interval ago (and marks it used). */
  #knownAbsent(topic: string): boolean {
    const expires = this.#absent.get(topic);
    if (expires === undefined) return false;
    this.#absent.delete(topic);
    if (this.#clock.now() >= expires) {
      this.#generation++;
      return false;
    }
    this.#absent.set(topic, expires);
    return true;
  }

  /** A load found the topic absent: hold the answer, in bounded memory, instead of the entry. */
  #settleAbsent(topic: string, entry: Entry): void {
    this.#generation++;
    if (this.#entries.get(topic) === entry) this.#entries.delete(topic);
    const { maxAbsentTopics, refreshIntervalMs } = this.#tuning;
    this.#absent.delete(topic);
    if (maxAbsentTopics === 0) return;
    this.#absent.set(topic, this.#clock.now() + refreshIntervalMs);
    for (const oldest of this.#absent.keys()) {
      if (this.#absent.size <= maxAbsentTopics) break;
      this.#absent.delete(oldest);
    }
  }

  /** The last listing's names, unless it is too old to answer for a name it lacks. */
  #currentListing(): ReadonlySet<string> | undefined {
    const listing = this.#listing;
    const maxAge = LISTING_STALE_INTERVALS * this.#tuning.refreshIntervalMs;
    return listing && this.#clock.now() - listing.at < maxAge ? listing.names : undefined;
  }

  async #getAfterListing(topic: string): Promise<TopicView | undefined> {
    const markers = await this.#list();
    if (this.#closed) return undefined;
    const entry = this.#entries.get(topic);
    if (entry) return entry.view ?? entry.loading;
    // No listing to answer from (the store failed it): read the topic itself; an absence is held above.
    if (!markers) return this.#knownAbsent(topic) ? undefined : this.refresh(topic);
    return markers.has(topic) ? this.refresh(topic) : undefined;
  }

  /** Reads every topic's change marker (concurrent callers share one read); undefined when it failed. */
  #list(): Promise<ReadonlyMap<string, string> | undefined> {
    this.#listingRun ??= this.#readListing().finally(() => {
      this.#listingRun = undefined;
    });
    return this.#listingRun;
  }

  async #readListing(): Promise<ReadonlyMap<string, string> | undefined> {
    const { changePageSize } = this.#tuning;
    const startedAt = this.#clock.now();
    const markers = new Map<string, string>();
    let after: string | undefined;
    try {
      for (;;) {
        const page = await this.#store.listTopicChanges({ after, limit: changePageSize });
        if (this.#closed) return undefined;
        for (const { name, changeMarker } of page) markers.set(name, changeMarker);
        const last = page.at(-1);
        if (page.length < changePageSize || last === undefined) break;
        after = last.name;
      }
    } catch (err) {
      this.#logger.warn({ err }, 'listing topic changes failed; serving the cached views');
      return undefined;
    }
    this.#replaceListing({ names: new Set(markers.keys()), at: startedAt });
    return markers;
  }

  /**
   * Topics not held that this listing shows for the first time (created since the previous one, or
   * found absent by a load) are announced, so a long-poll waiting for one wakes and loads it.
   */
  #replaceListing(listing: Listing): void {
    const previous = this.#listing?.names;
    this.#listing = listing;
    this.#generation++;
    const appeared: string[] = [];
    for (const name of listing.names) {
      if (this.#entries.has(name)) continue;
      const wasAbsent = this.#absent.delete(name);
      if (wasAbsent || (previous !== undefined && !previous.has(name))) appeared.push(name);
    }
    for (const name of appeared) this.#emit(name);
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
