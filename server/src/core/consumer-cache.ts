import type { Clock, TimerHandle } from '@meshpress/client';
import type { Logger } from 'pino';
import type { ConfigStore } from '../store/config-store.js';
import { loadTopicView, type TopicView } from './topic-view.js';

export const DEFAULT_REFRESH_INTERVAL_MS = 5_000;

export interface ConsumerCacheOptions {
  readonly store: ConfigStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Every loaded topic is re-read this often, so a lost change notification only delays. */
  readonly refreshIntervalMs?: number;
}

type Entry = { view: TopicView | undefined; loading?: Promise<TopicView | undefined>; dirty?: boolean };

/**
 * Polls are answered from here, never from the store. Topics load on first use (concurrent misses share
 * one load), reload at once when told a topic changed, and reload all together every refresh interval.
 * A topic that does not exist is cached as absent too, so polls for it do not reach the store either.
 */
export class ConsumerCache {
  readonly #store: ConfigStore;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #refreshIntervalMs: number;
  readonly #entries = new Map<string, Entry>();
  readonly #listeners = new Set<(topic: string) => void>();
  #timer: TimerHandle | undefined;
  #closed = false;

  constructor(options: ConsumerCacheOptions) {
    this.#store = options.store;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#refreshIntervalMs = options.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS;
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

  close(): void {
    this.#closed = true;
    if (this.#timer) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#listeners.clear();
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
      void this.#refreshAll().finally(() => {
        if (!this.#closed) this.#schedule();
      });
    }, this.#refreshIntervalMs);
  }

  async #refreshAll(): Promise<void> {
    for (const topic of [...this.#entries.keys()]) {
      if (this.#closed) return;
      await this.refresh(topic).catch(() => undefined);
    }
  }
}
