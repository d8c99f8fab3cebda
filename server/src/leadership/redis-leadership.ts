import { type Clock, ClosedError, parseOrThrow, systemClock, type TimerHandle } from '@meshpress/client';
import type { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import { z } from 'zod';
import { closeRedis, openRedis, redisConnectionSchema, settled } from '../bus/redis-connection.js';
import type { Leadership } from '../tasks/leadership.js';
import { RELEASE_LEASE_LUA, RENEW_LEASE_LUA } from './lease-scripts.js';

export const DEFAULT_LEASE_KEY_PREFIX = 'meshpress:task:';
/** Renewals per lease: the holder renews every leaseMs / N, so N-1 renewals may fail before it is lost. */
export const DEFAULT_RENEWALS_PER_LEASE = 3;

export const redisLeadershipOptionsSchema = redisConnectionSchema.extend({
  /** Written into every lease this instance holds; instances must have distinct ids. */
  instanceId: z.string().min(1).max(256),
  /** Lease key = prefix + task name; one prefix per environment sharing a Redis. */
  keyPrefix: z.string().max(200).default(DEFAULT_LEASE_KEY_PREFIX),
  renewalsPerLease: z.number().int().min(2).max(100).default(DEFAULT_RENEWALS_PER_LEASE),
});

export type RedisLeadershipOptions = z.input<typeof redisLeadershipOptionsSchema>;

export interface RedisLeadershipDeps {
  readonly clock?: Clock;
  readonly logger?: Logger;
  /**
   * Use this connection instead of opening one from `url` (which is then only validated). It stays the
   * caller's: close() releases the leases but does not quit it. Its offline queue should be off, or a
   * renewal issued during an outage would succeed late.
   */
  readonly connection?: Redis;
}

interface LeaseCommands {
  meshpressRenewLease(key: string, holder: string, leaseMs: number): Promise<number>;
  meshpressReleaseLease(key: string, holder: string): Promise<number>;
}

interface Held {
  leaseMs: number;
  /** Local deadline: the lease is surely ours until then (measured from before the request was sent). */
  validUntil: number;
  timer: TimerHandle | undefined;
}

/**
 * Task leadership by a Redis lease per task: `SET <prefix><task> <instanceId> NX PX <leaseMs>` takes it,
 * a compare-and-PEXPIRE script renews it, a compare-and-DEL script releases it, so an instance never
 * extends or deletes a lease that has passed to another.
 *
 * Besides the renewal the task runner does on each `acquire`, a held lease is renewed in the background
 * every leaseMs / renewalsPerLease: an iteration that runs longer than the lease keeps it, and another
 * instance cannot start the same task meanwhile. A renewal that finds the key gone or someone else's means
 * the lease was lost (this instance was paused or cut off longer than the lease): `onLost` listeners hear
 * it. When renewals fail because Redis is unreachable, the lease counts as lost once its local deadline
 * passes, since it may have expired on the server.
 *
 * When the holder stops (release, close) another instance takes over at its next acquire; when it dies,
 * within one lease plus the runner's interval.
 */
export class RedisLeadership implements Leadership {
  readonly #instanceId: string;
  readonly #keyPrefix: string;
  readonly #renewalsPerLease: number;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #redis: Redis;
  readonly #ownsConnection: boolean;
  readonly #connectTimeoutMs: number;
  readonly #held = new Map<string, Held>();
  readonly #lostListeners = new Set<(task: string) => void>();
  #closing: Promise<void> | undefined;

  constructor(options: RedisLeadershipOptions, deps: RedisLeadershipDeps = {}) {
    const parsed = parseOrThrow(redisLeadershipOptionsSchema, options, 'RedisLeadership options');
    this.#instanceId = parsed.instanceId;
    this.#keyPrefix = parsed.keyPrefix;
    this.#renewalsPerLease = parsed.renewalsPerLease;
    this.#clock = deps.clock ?? systemClock;
    this.#logger = (deps.logger ?? pino({ level: 'silent' })).child({ component: 'redis-leadership' });
    this.#ownsConnection = !deps.connection;
    this.#connectTimeoutMs = parsed.connectTimeoutMs;
    this.#redis =
      deps.connection ?? openRedis({ connection: parsed, role: 'leadership', logger: this.#logger });
    this.#redis.defineCommand('meshpressRenewLease', { numberOfKeys: 1, lua: RENEW_LEASE_LUA });
    this.#redis.defineCommand('meshpressReleaseLease', { numberOfKeys: 1, lua: RELEASE_LEASE_LUA });
  }

  get instanceId(): string {
    return this.#instanceId;
  }

  /** Whether this instance surely holds `task` now (it may hold it a little longer than this says). */
  holds(task: string): boolean {
    const held = this.#held.get(task);
    return !!held && this.#clock.now() < held.validUntil;
  }

  /** Calls `listener(task)` when a lease this instance held turns out lost. Returns an unsubscribe function. */
  onLost(listener: (task: string) => void): () => void {
    this.#lostListeners.add(listener);
    return () => this.#lostListeners.delete(listener);
  }

  async acquire(task: string, leaseMs: number): Promise<boolean> {
    if (this.#closing) throw new ClosedError('RedisLeadership');
    if (!Number.isInteger(leaseMs) || leaseMs < 1) throw new RangeError(`invalid lease ${leaseMs} ms`);
    const key = this.#key(task);
    await settled(this.#redis, this.#connectTimeoutMs);
    const sentAt = this.#clock.now();
    let ours: boolean;
    if (this.#held.has(task)) {
      ours = (await this.#commands.meshpressRenewLease(key, this.#instanceId, leaseMs)) === 1;
      if (!ours) {
        this.#lost(task, 'the lease was found expired or taken at renewal');
        ours = (await this.#redis.set(key, this.#instanceId, 'PX', leaseMs, 'NX')) === 'OK';
      }
    } else {
      ours = (await this.#redis.set(key, this.#instanceId, 'PX', leaseMs, 'NX')) === 'OK';
      // Held under our id already: this instance restarted with the same id, or its state was dropped.
      if (!ours) ours = (await this.#commands.meshpressRenewLease(key, this.#instanceId, leaseMs)) === 1;
    }
    if (this.#closing) {
      if (ours) await this.#releaseKey(task);
      throw new ClosedError('RedisLeadership');
    }
    if (ours) this.#keep(task, leaseMs, sentAt);
    return ours;
  }

  async release(task: string): Promise<void> {
    const held = this.#held.get(task);
    // Stop renewing first, whatever Redis says next: a lease must never outlive its release.
    if (held) this.#forget(task);
    // After close every lease is already released, and the connection may be gone.
    if (!this.#closing) await this.#releaseKey(task);
  }

  /** Releases every lease held and closes the connection (if it opened it). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const tasks = [...this.#held.keys()];
      for (const task of tasks) this.#forget(task);
      await Promise.allSettled(tasks.map((task) => this.#releaseKey(task)));
      this.#lostListeners.clear();
      if (this.#ownsConnection) await closeRedis(this.#redis);
    })();
    return this.#closing;
  }

  get #commands(): LeaseCommands {
    return this.#redis as unknown as LeaseCommands;
  }

  #key(task: string): string {
    return this.#keyPrefix + task;
  }

  async #releaseKey(task: string): Promise<void> {
    try {
      await this.#commands.meshpressReleaseLease(this.#key(task), this.#instanceId);
    } catch (err) {
      // Not fatal: the lease expires on its own; a successor just waits that long.
      this.#logger.warn(
        { err: (err as Error).message, task },
        'could not release the task lease; it will expire',
      );
    }
  }

  #keep(task: string, leaseMs: number, sentAt: number): void {
    const held = this.#held.get(task);
    if (held?.timer) this.#clock.clearTimeout(held.timer);
    const next: Held = { leaseMs, validUntil: sentAt + leaseMs, timer: undefined };
    this.#held.set(task, next);
    next.timer = this.#clock.setTimeout(
      () => this.#renewInBackground(task),
      Math.max(1, Math.floor(leaseMs / this.#renewalsPerLease)),
    );
  }

  async #renewInBackground(task: string): Promise<void> {
    const held = this.#held.get(task);
    if (!held || this.#closing) return;
    held.timer = undefined;
    const sentAt = this.#clock.now();
    try {
      const ours =
        (await this.#commands.meshpressRenewLease(this.#key(task), this.#instanceId, held.leaseMs)) === 1;
      if (this.#held.get(task) !== held || this.#closing) return;
      if (ours) this.#keep(task, held.leaseMs, sentAt);
      else this.#lost(task, 'the lease was found expired or taken at renewal');
    } catch (err) {
      if (this.#held.get(task) !== held || this.#closing) return;
      if (this.#clock.now() >= held.validUntil) {
        this.#lost(task, `renewals failed until the lease ran out (${(err as Error).message})`);
        return;
      }
      this.#logger.warn({ err: (err as Error).message, task }, 'task lease renewal failed; retrying');
      held.timer = this.#clock.setTimeout(
        () => this.#renewInBackground(task),
        Math.max(
          1,
          Math.min(Math.floor(held.leaseMs / this.#renewalsPerLease), held.validUntil - this.#clock.now()),
        ),
      );
    }
  }

  #forget(task: string): void {
    const held = this.#held.get(task);
    if (held?.timer) this.#clock.clearTimeout(held.timer);
    this.#held.delete(task);
  }

  #lost(task: string, reason: string): void {
    if (!this.#held.has(task)) return;
    this.#forget(task);
    this.#logger.warn({ task, reason }, 'task lease lost');
    for (const listener of [...this.#lostListeners]) {
      try {
        listener(task);
      } catch (err) {
        this.#logger.error({ err, task }, 'lease-lost listener threw');
      }
    }
  }
}
