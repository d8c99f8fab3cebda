import { type Clock, TooManyRequestsError } from '@meshpress/client';
import { AimdLimit } from './aimd-limit.js';
import { Gradient2Limit } from './gradient2-limit.js';
import type { LimitAlgorithm, LimitBounds } from './limit-algorithm.js';
import { type Listener, OnceListener, type Outcome } from './listener.js';
import {
  type AppConcurrencyLimiterOptions,
  type ParsedLimiterOptions,
  parseLimiterOptions,
} from './options.js';

/** Apps beyond `maxApps` are limited together under this key, so inventing app names buys nothing. */
export const OVERFLOW_APP = '(overflow)';

/** Entries the idle sweep looks at per call, so one acquire never walks the whole map. */
const SWEEP_BUDGET = 32;

interface Partition {
  readonly app: string;
  readonly algorithm: LimitAlgorithm;
  inflight: number;
  lastActiveAt: number;
}

export interface AppLimitSnapshot {
  readonly app: string;
  /** What the app may have in flight now: its adaptive limit, capped by its share of the total. */
  readonly limit: number;
  readonly inflight: number;
}

export interface LimiterSnapshot {
  readonly totalLimit: number;
  readonly totalInflight: number;
  readonly apps: readonly AppLimitSnapshot[];
}

/**
 * Concurrency limits per calling app, in the spirit of Netflix concurrency-limits' partitioned limiter.
 * Each app has its own adaptive limit (AIMD by default), learnt from its own requests, so one app's
 * flood and its consequences (slow answers, errors) shrink that app's limit, not its neighbours'. On top:
 * no app may hold more than `perAppShare` of the instance, and once the instance is at `totalLimit`,
 * only apps below their fair share (totalLimit / active apps) are admitted.
 */
export class AppConcurrencyLimiter {
  readonly #options: ParsedLimiterOptions;
  readonly #clock: Clock;
  readonly #shareCap: number;
  /** Ordered by last activity (an entry is re-inserted on every touch): the idle ones come first. */
  readonly #partitions = new Map<string, Partition>();
  #totalInflight = 0;
  #activeApps = 0;
  #rejected = 0;

  constructor(options: AppConcurrencyLimiterOptions = {}) {
    this.#options = parseLimiterOptions(options);
    this.#clock = this.#options.clock;
    this.#shareCap = Math.floor(this.#options.totalLimit * this.#options.perAppShare);
  }

  get retryAfterMs(): number {
    return this.#options.retryAfterMs;
  }

  get totalLimit(): number {
    return this.#options.totalLimit;
  }

  get totalInflight(): number {
    return this.#totalInflight;
  }

  /** Apps currently tracked (evicted ones excluded). */
  get appCount(): number {
    return this.#partitions.size;
  }

  /** Requests refused since the limiter was created. */
  get rejectedCount(): number {
    return this.#rejected;
  }

  /**
   * Admits one request of `app`, or answers undefined when the app must back off. The caller reports how
   * the request ended on the returned listener, exactly once, whatever happens.
   */
  acquire(app: string): Listener | undefined {
    const now = this.#clock.now();
    this.#sweep(now);
    const partition = this.#partitionFor(app, now);
    if (!this.#admits(partition)) {
      this.#rejected += 1;
      return undefined;
    }
    partition.inflight += 1;
    if (partition.inflight === 1) this.#activeApps += 1;
    this.#totalInflight += 1;
    this.#touch(partition, now);
    const inflight = partition.inflight;
    return new OnceListener((outcome) => this.#release(partition, now, inflight, outcome));
  }

  /** The error a refused request answers with (429 / RESOURCE_EXHAUSTED, with Retry-After). */
  tooManyRequests(app: string): TooManyRequestsError {
    return new TooManyRequestsError(
      `app '${app}' has too many requests in flight (limit ${this.limitOf(app)}); retry later`,
      this.#options.retryAfterMs,
    );
  }

  /** What `app` may have in flight now (a new app's starting limit when the app is not tracked). */
  limitOf(app: string): number {
    const partition = this.#partitions.get(app);
    return Math.min(partition ? partition.algorithm.limit : this.#options.initialLimit, this.#shareCap);
  }

  inflightOf(app: string): number {
    return this.#partitions.get(app)?.inflight ?? 0;
  }

  snapshot(): LimiterSnapshot {
    const apps = [...this.#partitions.values()].map((p) => ({
      app: p.app,
      limit: this.limitOf(p.app),
      inflight: p.inflight,
    }));
    return { totalLimit: this.#options.totalLimit, totalInflight: this.#totalInflight, apps };
  }

  #admits(partition: Partition): boolean {
    if (partition.inflight >= Math.min(partition.algorithm.limit, this.#shareCap)) return false;
    if (this.#totalInflight < this.#options.totalLimit) return true;
    // The instance is full. Whoever holds more than an equal split waits; an app below it is admitted
    // even now, which is what keeps one flooding app from starving the others (the total may overshoot,
    // by at most totalLimit, since every app admitted past it is below its share).
    const active = this.#activeApps + (partition.inflight === 0 ? 1 : 0);
    return partition.inflight < Math.max(1, Math.floor(this.#options.totalLimit / active));
  }

  #release(partition: Partition, startedAt: number, inflight: number, outcome: Outcome): void {
    const now = this.#clock.now();
    partition.inflight -= 1;
    if (partition.inflight === 0) this.#activeApps -= 1;
    this.#totalInflight -= 1;
    this.#touch(partition, now);
    if (outcome === 'ignored') return;
    partition.algorithm.update({
      startedAt,
      completedAt: now,
      rttMs: outcome === 'success' ? now - startedAt : undefined,
      inflight,
      dropped: outcome === 'dropped',
    });
  }

  #partitionFor(app: string, now: number): Partition {
    const existing = this.#partitions.get(app);
    if (existing) return existing;
    const full = this.#partitions.size >= this.#options.maxApps && !this.#evictOldestIdle();
    const key = full ? OVERFLOW_APP : app;
    const overflow = full ? this.#partitions.get(OVERFLOW_APP) : undefined;
    if (overflow) return overflow;
    const partition: Partition = {
      app: key,
      algorithm: this.#newAlgorithm(),
      inflight: 0,
      lastActiveAt: now,
    };
    this.#partitions.set(key, partition);
    return partition;
  }

  #newAlgorithm(): LimitAlgorithm {
    const { algorithm } = this.#options;
    const bounds: LimitBounds = {
      initialLimit: this.#options.initialLimit,
      minLimit: this.#options.minLimit,
      maxLimit: this.#options.maxLimit,
    };
    return algorithm.kind === 'aimd'
      ? new AimdLimit({ ...bounds, ...algorithm })
      : new Gradient2Limit({ ...bounds, ...algorithm });
  }

  #touch(partition: Partition, now: number): void {
    partition.lastActiveAt = now;
    this.#partitions.delete(partition.app);
    this.#partitions.set(partition.app, partition);
  }

  /** Forgets apps idle for idleEvictionMs. Entries are in last-activity order, so it stops at the first recent one. */
  #sweep(now: number): void {
    let budget = SWEEP_BUDGET;
    for (const partition of this.#partitions.values()) {
      if (budget-- === 0 || now - partition.lastActiveAt < this.#options.idleEvictionMs) return;
      // A request held longer than the idle time keeps its app: evicting it would forget its in-flight count.
      if (partition.inflight === 0) this.#partitions.delete(partition.app);
    }
  }

  /** Makes room for a new app by forgetting the least recently active idle one; false when none is idle. */
  #evictOldestIdle(): boolean {
    let budget = SWEEP_BUDGET;
    for (const partition of this.#partitions.values()) {
      if (budget-- === 0) return false;
      if (partition.inflight === 0) {
        this.#partitions.delete(partition.app);
        return true;
      }
    }
    return false;
  }
}
