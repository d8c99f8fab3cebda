import {
  type Clock,
  ClosedError,
  parseOrThrow,
  systemClock,
  topicNameSchema,
  UnavailableError,
} from '@meshpress/client';
import type { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import { z } from 'zod';
import type { ChangeBus, ChangeEvent, ChangeListener } from './change-bus.js';
import { closeRedis, openRedis, redisConnectionSchema, settled } from './redis-connection.js';

export const DEFAULT_REDIS_CHANGE_CHANNEL = 'meshpress:changes';

export const redisChangeBusOptionsSchema = redisConnectionSchema.extend({
  /** Pub/sub channel; instances that should see each other's changes must share it (one per environment). */
  channel: z.string().min(1).max(200).default(DEFAULT_REDIS_CHANGE_CHANNEL),
});

export type RedisChangeBusOptions = z.input<typeof redisChangeBusOptionsSchema>;

export interface RedisChangeBusDeps {
  /** Connection trouble and dropped messages are reported here; silent when absent. */
  readonly logger?: Logger;
  /** Only times waitUntilSubscribed; ioredis keeps its own reconnection timers. */
  readonly clock?: Clock;
}

/** What crossed the wire; the counters an operator (or a test) reads to see the bus is healthy. */
export interface RedisChangeBusStats {
  readonly published: number;
  /** Notifications not sent because Redis was unreachable; peers catch up by periodic refresh. */
  readonly publishFailures: number;
  readonly received: number;
  /** Messages on the channel that were not valid change events, ignored. */
  readonly malformed: number;
}

/** The wire form is the ChangeEvent itself as JSON; unknown extra fields are tolerated for compatibility. */
const changeEventSchema = z.object({
  topic: topicNameSchema,
  origin: z.string().min(1).max(256),
  at: z.number().finite(),
});

/**
 * Distributed-mode change bus over Redis pub/sub: one connection publishes, a dedicated one subscribes
 * (a subscribed connection can issue nothing else). Redis pub/sub is fire-and-forget, which matches the
 * ChangeBus contract: while Redis is down, publish() logs and counts instead of failing the write that
 * triggered it, and instances converge through their periodic cache refresh; when Redis returns, the
 * subscriber reconnects and subscribes again and the same listeners keep receiving.
 */
export class RedisChangeBus implements ChangeBus {
  readonly #channel: string;
  readonly #logger: Logger;
  readonly #publisher: Redis;
  readonly #subscriber: Redis;
  readonly #listeners = new Set<ChangeListener>();
  #stats = { published: 0, publishFailures: 0, received: 0, malformed: 0 };
  #publishFailing = false;
  #live = false;
  readonly #liveWaiters = new Set<() => void>();
  readonly #clock: Clock;
  readonly #connectTimeoutMs: number;
  #closing: Promise<void> | undefined;

  constructor(options: RedisChangeBusOptions, deps: RedisChangeBusDeps = {}) {
    const parsed = parseOrThrow(redisChangeBusOptionsSchema, options, 'RedisChangeBus options');
    this.#channel = parsed.channel;
    this.#clock = deps.clock ?? systemClock;
    this.#connectTimeoutMs = parsed.connectTimeoutMs;
    this.#logger = (deps.logger ?? pino({ level: 'silent' })).child({ component: 'redis-change-bus' });
    this.#publisher = openRedis({ connection: parsed, role: 'bus-pub', logger: this.#logger });
    this.#subscriber = openRedis({ connection: parsed, role: 'bus-sub', logger: this.#logger });
    // Subscribing on every 'ready' (first connection and each reconnection) restores the subscription,
    // also when Redis was down at startup, which ioredis's own auto-resubscribe does not cover.
    this.#subscriber.on('ready', () => this.#subscribe());
    this.#subscriber.on('close', () => {
      this.#live = false;
    });
    this.#subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.#channel) this.#deliver(message);
    });
  }

  get channel(): string {
    return this.#channel;
  }

  get stats(): RedisChangeBusStats {
    return { ...this.#stats };
  }

  /** True while the subscription is live; events peers publish while it is not are missed. */
  get subscribed(): boolean {
    return this.#live;
  }

  /** Resolves once the subscription is live, or rejects after `timeoutMs` (startup checks, tests). */
  waitUntilSubscribed(timeoutMs: number): Promise<void> {
    if (this.#closing) return Promise.reject(new ClosedError('RedisChangeBus'));
    if (this.#live) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter = () => {
        this.#clock.clearTimeout(timer);
        resolve();
      };
      const timer = this.#clock.setTimeout(() => {
        this.#liveWaiters.delete(waiter);
        reject(
          new UnavailableError(`not subscribed to Redis channel ${this.#channel} within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      this.#liveWaiters.add(waiter);
    });
  }

  async publish(event: ChangeEvent): Promise<void> {
    if (this.#closing) return;
    const message = JSON.stringify({ topic: event.topic, origin: event.origin, at: event.at });
    try {
      await settled(this.#publisher, this.#connectTimeoutMs);
      await this.#publisher.publish(this.#channel, message);
      this.#stats.published++;
      if (this.#publishFailing) {
        this.#publishFailing = false;
        this.#logger.info({ failures: this.#stats.publishFailures }, 'change notifications flowing again');
      }
    } catch (err) {
      if (this.#closing) return;
      this.#stats.publishFailures++;
      // One warning per outage: a publish-heavy instance would otherwise log one per write.
      if (!this.#publishFailing) {
        this.#publishFailing = true;
        this.#logger.warn(
          { err: (err as Error).message, topic: event.topic },
          'change notification not sent; peers will pick the change up at their next periodic refresh',
        );
      }
    }
  }

  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#listeners.clear();
      this.#live = false;
      await Promise.all([closeRedis(this.#publisher), closeRedis(this.#subscriber)]);
    })();
    return this.#closing;
  }

  #subscribe(): void {
    if (this.#closing) return;
    this.#subscriber.subscribe(this.#channel).then(
      () => {
        if (this.#closing || this.#subscriber.status !== 'ready') return;
        this.#live = true;
        for (const waiter of [...this.#liveWaiters]) waiter();
        this.#liveWaiters.clear();
      },
      (err: unknown) => {
        // The connection dropped again before the reply; the next 'ready' subscribes again.
        this.#logger.debug({ err: (err as Error).message }, 'subscribe failed');
      },
    );
  }

  #deliver(message: string): void {
    let event: ChangeEvent;
    try {
      event = changeEventSchema.parse(JSON.parse(message));
    } catch (err) {
      this.#stats.malformed++;
      this.#logger.warn(
        { err: (err as Error).message, sample: message.slice(0, 200) },
        'ignoring a malformed message on the change channel',
      );
      return;
    }
    this.#stats.received++;
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch (err) {
        this.#logger.error({ err, topic: event.topic }, 'change listener threw');
      }
    }
  }
}
