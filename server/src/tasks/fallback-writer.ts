import { hostname } from 'node:os';
import { type Clock, DEFAULT_FALLBACK_CACHE_KEY, encodeFallbackCache, parseOrThrow } from '@meshpress/client';
import type { Logger } from 'pino';
import { z } from 'zod';
import { objectKeySchema } from '../blob/blob-key.js';
import type { BlobStore } from '../blob/blob-store.js';
import type { ConfigStore } from '../store/config-store.js';
import { buildFallbackDocument, type KnownRecords } from './fallback-document.js';
import type { Leadership } from './leadership.js';
import { PeriodicTask } from './periodic-task.js';
import { periodicTaskOptionsSchema } from './task-options.js';

/** How often the fallback cache is rewritten (MESHPRESS_FALLBACK_INTERVAL_MS). */
export const DEFAULT_FALLBACK_INTERVAL_MS = 120_000;
/** Task name, used in logs and as the leadership lock's name. */
export const FALLBACK_WRITER_TASK = 'fallback-writer';

const fallbackWriterOptionsSchema = periodicTaskOptionsSchema.extend({
  intervalMs: z.number().int().positive().default(DEFAULT_FALLBACK_INTERVAL_MS),
  key: objectKeySchema.default(DEFAULT_FALLBACK_CACHE_KEY),
});

export interface FallbackWriterOptions {
  readonly store: ConfigStore;
  readonly blobs: BlobStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Defaults to InProcessLeadership; distributed mode passes a Redis lease. */
  readonly leadership?: Leadership | undefined;
  readonly intervalMs?: number | undefined;
  readonly initialDelayMs?: number | undefined;
  /** Object key in the blob store; defaults to DEFAULT_FALLBACK_CACHE_KEY. */
  readonly key?: string | undefined;
  readonly instanceId?: string | undefined;
}

export interface FallbackWriteResult {
  /** Topics in the written document. */
  readonly topics: number;
  /** Size of the written (gzip'd) object. */
  readonly bytes: number;
}

export interface FallbackWriter {
  /** Builds and writes the cache now (on this instance, leader or not), after any write in progress. */
  runOnce(): Promise<FallbackWriteResult>;
  /** Stops the schedule and waits for a write in progress. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts the periodic task that writes the fallback cache (docs/fallback-cache.md) to the blob store.
 * Only the instance holding the leadership lease writes on schedule. A failed write is logged and the
 * previous cache stays in place (putObject is atomic) until the next interval.
 */
export function startFallbackWriter(options: FallbackWriterOptions): FallbackWriter {
  const parsed = parseOrThrow(fallbackWriterOptionsSchema, options, 'fallback writer options');
  const { store, blobs, clock } = options;
  const logger = options.logger.child({ component: FALLBACK_WRITER_TASK });
  const writer = parsed.instanceId ?? `${hostname()}:${process.pid}`;
  let known: KnownRecords | undefined;

  const write = async (signal: AbortSignal): Promise<FallbackWriteResult> => {
    const started = clock.now();
    const built = await buildFallbackDocument({ store, now: started, writer, signal, known });
    const bytes = await encodeFallbackCache(built.document);
    if (signal.aborted) throw signal.reason;
    await blobs.putObject(parsed.key, bytes);
    known = built.known;
    const result = { topics: built.document.topics.length, bytes: bytes.byteLength };
    logger.info({ ...result, key: parsed.key, ms: clock.now() - started }, 'fallback cache written');
    return result;
  };

  const task = new PeriodicTask({
    name: FALLBACK_WRITER_TASK,
    intervalMs: parsed.intervalMs,
    initialDelayMs: parsed.initialDelayMs,
    run: write,
    clock,
    logger,
    leadership: options.leadership,
  });
  task.start();
  return { runOnce: () => task.runNow(), close: () => task.close() };
}
