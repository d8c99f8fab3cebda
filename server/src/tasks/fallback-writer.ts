import { hostname } from 'node:os';
import { type Clock, DEFAULT_FALLBACK_CACHE_KEY, encodeFallbackCache, parseOrThrow } from '@meshpress/client';
import type { Logger } from 'pino';
import { z } from 'zod';
import { objectKeySchema } from '../blob/blob-key.js';
import type { BlobStore } from '../blob/blob-store.js';
import type { ConfigStore } from '../store/config-store.js';
import { buildFallbackDocument, type KnownRecords } from './fallback-document.js';
import type { Leadership } from './leadership.js';
import { PeriodicTask, type TaskIteration } from './periodic-task.js';
import { storedGeneratedAt } from './stored-fallback.js';
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
  /**
   * False when a newer cache (generated after this build started, by another instance) was found in place
   * and left there.
   */
  readonly written: boolean;
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
 *
 * The cache never moves backwards on purpose: right before writing, a run that lost its lease stops
 * (another instance may have written since), and a cache generated after this build started is left in
 * place. A stored cache dated more than one interval ahead of this instance's clock is overwritten all the
 * same: the clocks disagree, and trusting it would freeze the cache until this clock caught up.
 */
export function startFallbackWriter(options: FallbackWriterOptions): FallbackWriter {
  const parsed = parseOrThrow(fallbackWriterOptionsSchema, options, 'fallback writer options');
  const { store, blobs, clock } = options;
  const logger = options.logger.child({ component: FALLBACK_WRITER_TASK });
  const writer = parsed.instanceId ?? `${hostname()}:${process.pid}`;
  let known: KnownRecords | undefined;

  const write = async (signal: AbortSignal, iteration: TaskIteration): Promise<FallbackWriteResult> => {
    const started = clock.now();
    const built = await buildFallbackDocument({ store, now: started, writer, signal, known });
    const bytes = await encodeFallbackCache(built.document);
    iteration.assertCurrent();
    const stored = await storedGeneratedAt(blobs, parsed.key, logger);
    // The records read stay good for the next build, whether or not this one is written.
    known = built.known;
    const result = { topics: built.document.topics.length, bytes: bytes.byteLength };
    if (stored !== undefined && stored > started) {
      if (stored <= clock.now() + parsed.intervalMs) {
        logger.warn(
          { key: parsed.key, generatedAt: started, stored },
          'a newer fallback cache is in place; left as it is',
        );
        return { ...result, written: false };
      }
      logger.warn(
        { key: parsed.key, generatedAt: started, stored },
        'the stored fallback cache is dated ahead of this clock; overwriting it',
      );
    }
    iteration.assertCurrent();
    await blobs.putObject(parsed.key, bytes);
    logger.info({ ...result, key: parsed.key, ms: clock.now() - started }, 'fallback cache written');
    return { ...result, written: true };
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
