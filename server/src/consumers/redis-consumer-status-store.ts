import {
  type Clock,
  ClosedError,
  parseOrThrow,
  systemClock,
  type TimerHandle,
  topicNameSchema,
  UnavailableError,
} from '@meshpress/client';
import type { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import { z } from 'zod';
import { closeRedis, openRedis, redisConnectionSchema, settled } from '../bus/redis-connection.js';
import { READ_CONSUMERS_LUA, RECORD_CONSUMER_LUA } from './consumer-status-scripts.js';
import {
  type ConsumerReport,
  type ConsumerStatus,
  type ConsumerStatusQuery,
  type ConsumerStatusStore,
  consumerReportSchema,
  consumerStatusQuerySchema,
  DEFAULT_CONSUMER_STATUS_TTL_MS,
  forEachReport,
  type PollReport,
} from './consumer-status-store.js';
import { type ConsumerEntry, isBehind, nextLagSince, summarize } from './summarize.js';

export const DEFAULT_CONSUMER_STATUS_KEY_PREFIX = 'meshpress:consumers:';
/** Polls are hot: reports wait in memory this long and go to Redis in one pipeline. */
export const DEFAULT_CONSUMER_STATUS_FLUSH_INTERVAL_MS = 1_000;
/** A buffer this large is flushed at once rather than at the next interval. */
export const DEFAULT_CONSUMER_STATUS_MAX_BATCH = 5_000;

export const redisConsumerStatusOptionsSchema = redisConnectionSchema.extend({
  keyPrefix: z.string().max(200).default(DEFAULT_CONSUMER_STATUS_KEY_PREFIX),
  /** A node that has not reported for this long is dropped; also the expiry of a topic's keys. */
  ttlMs: z.number().int().positive().default(DEFAULT_CONSUMER_STATUS_TTL_MS),
  flushIntervalMs: z.number().int().positive().default(DEFAULT_CONSUMER_STATUS_FLUSH_INTERVAL_MS),
  maxBatch: z.number().int().positive().default(DEFAULT_CONSUMER_STATUS_MAX_BATCH),
});

export type RedisConsumerStatusOptions = z.input<typeof redisConsumerStatusOptionsSchema>;

export interface RedisConsumerStatusDeps {
  readonly clock?: Clock;
  readonly logger?: Logger;
}

export interface RedisConsumerStatusStats {
  /** Reports written to Redis (after coalescing: one per node and topic per flush). */
  readonly written: number;
  /** Reports lost because Redis could not be reached; the nodes reappear at their next poll. */
  readonly dropped: number;
}

interface RecordCommands {
  meshpressRecordConsumer(
    nodesKey: string,
    seenKey: string,
    lagKey: string,
    node: string,
    at: number,
    json: string,
    lagTarget: string,
    lagSince: number,
    ttlMs: number,
  ): Promise<number>;
  meshpressReadConsumers(
    nodesKey: string,
    seenKey: string,
    lagKey: string,
    cutoff: number,
  ): Promise<[string[], string[]]>;
}

type Report = z.output<typeof consumerReportSchema>;
type Pending = { report: Report; lagSince: number | undefined };

/** The stored report; parsed on the way out, since anything may have written to the key. */
const storedSchema = z.object({
  app: z.string().optional(),
  region: z.string().optional(),
  cluster: z.string().optional(),
  currentVersion: z.number().int().optional(),
  targetVersion: z.number().int().optional(),
  at: z.number(),
});

/**
 * Distributed-mode consumer status, shared by every instance through Redis. Reports are coalesced in
 * memory per (topic, node) (the latest wins, the start of a lag is kept) and written every flush interval
 * in one pipeline of small Lua scripts. Reading a topic's status drops the nodes not seen within the TTL.
 * While Redis is unreachable, batches are dropped and counted: polls never wait for status.
 */
export class RedisConsumerStatusStore implements ConsumerStatusStore {
  readonly #options: z.output<typeof redisConsumerStatusOptionsSchema>;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #redis: Redis;
  #pending = new Map<string, Pending>();
  #timer: TimerHandle | undefined;
  #flushing: Promise<void> = Promise.resolve();
  #failing = false;
  #earlyFlush = false;
  #stats = { written: 0, dropped: 0 };
  #closing: Promise<void> | undefined;

  constructor(options: RedisConsumerStatusOptions, deps: RedisConsumerStatusDeps = {}) {
    this.#options = parseOrThrow(
      redisConsumerStatusOptionsSchema,
      options,
      'RedisConsumerStatusStore options',
    );
    this.#clock = deps.clock ?? systemClock;
    this.#logger = (deps.logger ?? pino({ level: 'silent' })).child({ component: 'redis-consumer-status' });
    this.#redis = openRedis({ connection: this.#options, role: 'consumer-status', logger: this.#logger });
    this.#redis.defineCommand('meshpressRecordConsumer', { numberOfKeys: 3, lua: RECORD_CONSUMER_LUA });
    this.#redis.defineCommand('meshpressReadConsumers', { numberOfKeys: 3, lua: READ_CONSUMERS_LUA });
  }

  get stats(): RedisConsumerStatusStats {
    return { ...this.#stats };
  }

  /** Reports waiting for the next flush. */
  get pending(): number {
    return this.#pending.size;
  }

  async record(input: ConsumerReport): Promise<void> {
    this.#buffer(parseOrThrow(consumerReportSchema, input, 'consumer report'));
  }

  recordPoll(poll: PollReport): void {
    forEachReport(poll, (report) => this.#buffer(report));
  }

  #buffer(report: Report): void {
    if (this.#closing) return;
    const id = `${report.topic}\u0000${report.node}`;
    const previous = this.#pending.get(id);
    if (previous && previous.report.at > report.at) return;
    this.#pending.set(id, {
      report,
      lagSince: nextLagSince(previous && { ...previous.report, lagSince: previous.lagSince }, report),
    });
    if (this.#pending.size >= this.#options.maxBatch) {
      // One early flush at a time: while Redis is slow, polls must not stack up a flush each.
      if (!this.#earlyFlush) {
        this.#earlyFlush = true;
        void this.flush();
      }
    } else this.#timer ??= this.#clock.setTimeout(() => void this.flush(), this.#options.flushIntervalMs);
  }

  flush(): Promise<void> {
    if (this.#timer) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    // Flushes run one after another, so a later batch never lands before an earlier one.
    this.#flushing = this.#flushing.then(() => this.#write());
    return this.#flushing;
  }

  async status(topic: string, input: ConsumerStatusQuery): Promise<ConsumerStatus> {
    if (this.#closing) throw new ClosedError('consumer status store');
    parseOrThrow(topicNameSchema, topic, 'topic');
    const query = parseOrThrow(consumerStatusQuerySchema, input, 'consumer status query');
    // Read-your-writes within this instance; other instances' reports arrive with their next flush.
    await this.flush();
    let nodes: string[];
    let lags: string[];
    try {
      await settled(this.#redis, this.#options.connectTimeoutMs);
      [nodes, lags] = await this.#commands.meshpressReadConsumers(
        ...this.#keys(topic),
        query.now - this.#options.ttlMs,
      );
    } catch (err) {
      throw new UnavailableError(`consumer status unavailable: ${(err as Error).message}`, { cause: err });
    }
    return summarize(topic, this.#entries(topic, nodes, lags), query.now, query.graceMs);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.flush();
      await closeRedis(this.#redis);
    })();
    return this.#closing;
  }

  get #commands(): RecordCommands {
    return this.#redis as unknown as RecordCommands;
  }

  #keys(topic: string): [string, string, string] {
    const base = `${this.#options.keyPrefix}{${topic}}`;
    return [`${base}:nodes`, `${base}:seen`, `${base}:lag`];
  }

  async #write(): Promise<void> {
    this.#earlyFlush = false;
    if (this.#pending.size === 0) return;
    const batch = [...this.#pending.values()];
    this.#pending = new Map();
    try {
      await settled(this.#redis, this.#options.connectTimeoutMs);
      const pipeline = this.#redis.pipeline();
      const commands = pipeline as unknown as RecordCommands;
      for (const { report, lagSince } of batch) {
        const behind = isBehind(report.currentVersion, report.targetVersion);
        void commands.meshpressRecordConsumer(
          ...this.#keys(report.topic),
          report.node,
          report.at,
          JSON.stringify({
            app: report.app,
            region: report.region,
            cluster: report.cluster,
            currentVersion: report.currentVersion,
            targetVersion: report.targetVersion,
            at: report.at,
          }),
          behind ? String(report.targetVersion) : '',
          lagSince ?? report.at,
          this.#options.ttlMs,
        );
      }
      const results = (await pipeline.exec()) ?? [];
      const failed = results.find(([err]) => err)?.[0];
      if (failed) throw failed;
      this.#stats.written += batch.length;
      if (this.#failing) {
        this.#failing = false;
        this.#logger.info({ dropped: this.#stats.dropped }, 'consumer status reports flowing again');
      }
    } catch (err) {
      this.#stats.dropped += batch.length;
      if (!this.#failing) {
        this.#failing = true;
        this.#logger.warn(
          { err: (err as Error).message, reports: batch.length },
          'consumer status reports dropped; Redis unreachable',
        );
      }
    }
  }

  *#entries(topic: string, nodes: string[], lags: string[]): Generator<ConsumerEntry> {
    const lagSince = new Map<string, { target: number; since: number }>();
    for (let i = 0; i + 1 < lags.length; i += 2) {
      const [target, since] = lags[i + 1]!.split('|').map(Number);
      if (Number.isFinite(target) && Number.isFinite(since))
        lagSince.set(lags[i]!, { target: target!, since: since! });
    }
    for (let i = 0; i + 1 < nodes.length; i += 2) {
      const node = nodes[i]!;
      let stored: z.output<typeof storedSchema>;
      try {
        stored = storedSchema.parse(JSON.parse(nodes[i + 1]!));
      } catch (err) {
        this.#logger.warn(
          { err: (err as Error).message, topic, node },
          'skipping an unreadable consumer entry',
        );
        continue;
      }
      const lag = lagSince.get(node);
      yield {
        node,
        app: stored.app,
        region: stored.region,
        cluster: stored.cluster,
        currentVersion: stored.currentVersion,
        targetVersion: stored.targetVersion,
        lastSeen: stored.at,
        lagSince: lag && lag.target === stored.targetVersion ? lag.since : undefined,
      };
    }
  }
}
