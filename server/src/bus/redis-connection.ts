import { systemClock, type TimerHandle } from '@meshpress/client';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { z } from 'zod';

/** Time allowed to open a TCP connection to Redis before ioredis gives up on that attempt and retries. */
export const DEFAULT_REDIS_CONNECT_TIMEOUT_MS = 2_000;
/** Longest wait between reconnection attempts, so an instance notices a recovered Redis quickly. */
export const DEFAULT_REDIS_MAX_RECONNECT_DELAY_MS = 2_000;
/** A command that gets no reply within this is failed, so a half-open connection cannot stall callers. */
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 1_000;

/** How to reach Redis; shared by the change bus, leadership and the consumer status store. */
export const redisConnectionSchema = z.object({
  /** `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. */
  url: z.string().regex(/^rediss?:\/\/[^\s]+$/, 'a redis:// or rediss:// URL'),
  connectTimeoutMs: z.number().int().positive().default(DEFAULT_REDIS_CONNECT_TIMEOUT_MS),
  commandTimeoutMs: z.number().int().positive().default(DEFAULT_REDIS_COMMAND_TIMEOUT_MS),
  maxReconnectDelayMs: z.number().int().min(10).default(DEFAULT_REDIS_MAX_RECONNECT_DELAY_MS),
  /** Prefix of each connection's CLIENT SETNAME, so CLIENT LIST shows which instance holds which; e.g. the instance id. */
  clientName: z
    .string()
    .regex(/^[!-~]{1,64}$/, '1-64 printable characters without spaces')
    .default('meshpress'),
});

export type RedisConnectionOptions = z.input<typeof redisConnectionSchema>;
export type ParsedRedisConnectionOptions = z.output<typeof redisConnectionSchema>;

/**
 * Delay before reconnection attempt `attempt` (1-based): exponential from 50 ms, capped, with full jitter
 * in the upper half so a fleet of instances does not reconnect in lockstep after a Redis restart.
 */
export function reconnectDelayMs(attempt: number, capMs: number, random: () => number = Math.random): number {
  const exponential = Math.min(capMs, 50 * 2 ** Math.min(Math.max(attempt, 1) - 1, 20));
  return Math.round(exponential / 2 + (random() * exponential) / 2);
}

export interface OpenRedisOptions {
  readonly connection: ParsedRedisConnectionOptions;
  /** What this connection is for, e.g. `bus-pub`; shown in logs and appended to the CLIENT SETNAME. */
  readonly role: string;
  readonly logger: Logger;
}

/**
 * An ioredis connection that reconnects forever with capped backoff, reports errors once per outage
 * (ioredis emits one per failed attempt) and never prints ioredis's "Unhandled error event".
 *
 * A command issued while disconnected fails at once rather than waiting in an offline queue: everything
 * meshpress does with Redis is best effort (notifications, status reports) or must fail fast to stay
 * correct (a lock renewal that succeeds late is a lie), and none of it may stall a request.
 */
export function openRedis(options: OpenRedisOptions): Redis {
  const { connection, role, logger } = options;
  const name = `${connection.clientName}-${role}`;
  const redisOptions: RedisOptions = {
    connectionName: name,
    connectTimeout: connection.connectTimeoutMs,
    commandTimeout: connection.commandTimeoutMs,
    enableOfflineQueue: false,
    // A command in flight when the connection drops is failed, never replayed after the reconnection.
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // Subscribers resubscribe themselves on every 'ready' (RedisChangeBus), which also covers a Redis that
    // was down at startup; ioredis's own resubscription would only duplicate it.
    autoResubscribe: false,
    retryStrategy: (attempt) => reconnectDelayMs(attempt, connection.maxReconnectDelayMs),
    lazyConnect: false,
  };
  const client = new Redis(connection.url, redisOptions);
  let failing = false;
  client.on('error', (err: Error) => {
    if (failing) return;
    failing = true;
    logger.warn({ err: err.message, connection: name }, 'redis connection failed; retrying');
  });
  client.on('ready', () => {
    if (!failing) return;
    failing = false;
    logger.info({ connection: name }, 'redis connection restored');
  });
  return client;
}

/** Quits gracefully when connected, else drops the socket; either way ioredis stops reconnecting. */
export async function closeRedis(client: Redis, graceMs = 500): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect(false);
    return;
  }
  // Real time on purpose: a shutdown bound must hold even when the caller injected a manual clock.
  let timer: TimerHandle | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = systemClock.setTimeout(resolve, graceMs);
  });
  await Promise.race([
    client.quit().then(
      () => undefined,
      () => undefined,
    ),
    timeout,
  ]);
  if (timer) systemClock.clearTimeout(timer);
  // quit() leaves nothing to do when it succeeded; after a timeout this is what actually closes.
  client.disconnect(false);
}

const CONNECTING = new Set(['wait', 'connecting', 'connect']);

/**
 * Waits while a connection attempt is in flight (at startup, or a reconnection under way), up to
 * `timeoutMs`, so a command issued then is not failed merely for being early. Returns at once when the
 * connection is up, or down between attempts: commands then fail fast instead of queueing.
 */
export function settled(client: Redis, timeoutMs: number): Promise<void> {
  if (!CONNECTING.has(client.status)) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      systemClock.clearTimeout(timer);
      for (const event of ['ready', 'close', 'end'] as const) client.off(event, done);
      resolve();
    };
    for (const event of ['ready', 'close', 'end'] as const) client.once(event, done);
    // Real time: this bounds a network wait, whatever clock the caller injected.
    const timer = systemClock.setTimeout(done, timeoutMs);
  });
}
