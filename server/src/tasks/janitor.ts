import { type Clock, ClosedError, type DataPointer, parseOrThrow } from '@meshpress/client';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { BlobStore } from '../blob/blob-store.js';
import type { ConfigStore } from '../store/config-store.js';
import { type BlobOutcome, deleteBlobIfUnreferenced } from './janitor-blobs.js';
import { purgeTopic } from './janitor-topic.js';
import { InProcessLeadership, type Leadership } from './leadership.js';
import { DEFAULT_LEASE_INTERVALS, PeriodicTask } from './periodic-task.js';
import { periodicTaskOptionsSchema } from './task-options.js';

/** How often retention is enforced (MESHPRESS_JANITOR_INTERVAL_MS). */
export const DEFAULT_JANITOR_INTERVAL_MS = 3_600_000;
/** Versions read per history page; each holds its inline payload, so pages stay modest. */
export const DEFAULT_JANITOR_PAGE_SIZE = 100;
/** Task name, used in logs and as the leadership lock's name. */
export const JANITOR_TASK = 'janitor';
/** Topics read per listing page. */
const TOPIC_PAGE = 200;

const janitorOptionsSchema = periodicTaskOptionsSchema.extend({
  intervalMs: z.number().int().positive().default(DEFAULT_JANITOR_INTERVAL_MS),
  pageSize: z.number().int().min(1).max(1000).default(DEFAULT_JANITOR_PAGE_SIZE),
});

export interface JanitorOptions {
  readonly store: ConfigStore;
  readonly blobs: BlobStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Defaults to InProcessLeadership; distributed mode passes a Redis lease. */
  readonly leadership?: Leadership | undefined;
  readonly intervalMs?: number | undefined;
  readonly initialDelayMs?: number | undefined;
  readonly pageSize?: number | undefined;
  readonly instanceId?: string | undefined;
}

export interface JanitorTopicReport {
  readonly topic: string;
  readonly versionsPurged: number;
  readonly blobsDeleted: number;
}

export interface JanitorReport {
  /** False when another instance holds the janitor's lease: this run did nothing. */
  readonly leader: boolean;
  readonly topicsScanned: number;
  readonly versionsPurged: number;
  readonly blobsDeleted: number;
  /** Blobs deleted and put back at once because a publish started using the same bytes meanwhile. */
  readonly blobsRestored: number;
  /** Topics (by name) whose purge failed this run; logged, retried at the next run. */
  readonly failedTopics: readonly string[];
  /**
   * Unreferenced blobs left in place, whole or in part, because reading or deleting them failed (logged
   * with their digest).
   */
  readonly failedBlobs: number;
  /** Only topics where something was purged, in name order. */
  readonly topics: readonly JanitorTopicReport[];
}

export interface Janitor {
  /**
   * Enforces retention now, after any run in progress, if this instance holds (or can take) the janitor's
   * lease; otherwise resolves at once with `leader: false`.
   */
  runOnce(): Promise<JanitorReport>;
  /** Stops the schedule, stops a run at its next safe point and waits for it, releases the lease. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts the periodic task that enforces every topic's retention (docs/retention.md): purges committed
 * versions beyond it, never a pinned one nor a scope's newest, and deletes the content-addressed blobs
 * no remaining version references. Runs on the instance holding the leadership lease only.
 */
export function startJanitor(options: JanitorOptions): Janitor {
  const parsed = parseOrThrow(janitorOptionsSchema, options, 'janitor options');
  const { store, blobs, clock } = options;
  const leadership = options.leadership ?? new InProcessLeadership();
  const logger = options.logger.child({
    component: JANITOR_TASK,
    ...(parsed.instanceId === undefined ? {} : { instance: parsed.instanceId }),
  });
  const leaseMs = DEFAULT_LEASE_INTERVALS * parsed.intervalMs;

  const sweep = (signal: AbortSignal) =>
    enforceRetention({ store, blobs, logger, signal, now: clock.now(), pageSize: parsed.pageSize, clock });

  const task = new PeriodicTask({
    name: JANITOR_TASK,
    intervalMs: parsed.intervalMs,
    initialDelayMs: parsed.initialDelayMs,
    leaseMs,
    run: sweep,
    clock,
    logger,
    leadership,
  });
  task.start();

  let acquiredByRunOnce = false;
  let closing: Promise<void> | undefined;
  return {
    async runOnce() {
      if (closing) throw new ClosedError('janitor');
      let leader = false;
      try {
        leader = await leadership.acquire(JANITOR_TASK, leaseMs);
      } catch (err) {
        logger.warn({ err }, 'janitor leadership check failed; not running');
      }
      if (!leader) return { ...EMPTY_REPORT, leader: false };
      acquiredByRunOnce = true;
      return task.runNow();
    },
    close() {
      closing ??= (async () => {
        await task.close();
        // The task releases only a lease it took itself; one taken by runOnce is released here.
        if (acquiredByRunOnce)
          await leadership
            .release(JANITOR_TASK)
            .catch((err: unknown) => logger.warn({ err }, 'could not release the janitor lease'));
      })();
      return closing;
    },
  };
}

const EMPTY_REPORT: JanitorReport = {
  leader: true,
  topicsScanned: 0,
  versionsPurged: 0,
  blobsDeleted: 0,
  blobsRestored: 0,
  failedTopics: [],
  failedBlobs: 0,
  topics: [],
};

interface SweepOptions {
  readonly store: ConfigStore;
  readonly blobs: BlobStore;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** The instant retention ages are measured from, fixed for the whole run. */
  readonly now: number;
  readonly pageSize: number;
  readonly clock: Clock;
}

/**
 * One run over every topic, one topic at a time (gentle on the store). A topic that fails is logged and
 * skipped; the others still run. Blobs are handled right after their topic's purge, while the pointers
 * are at hand: one shared with a topic not purged yet is still referenced, and goes when that one's turn
 * comes.
 */
async function enforceRetention(options: SweepOptions): Promise<JanitorReport> {
  const { store, logger, signal, now } = options;
  const started = options.clock.now();
  const topics: JanitorTopicReport[] = [];
  const failedTopics: string[] = [];
  let topicsScanned = 0;
  let blobsRestored = 0;
  let failedBlobs = 0;

  let after: string | undefined;
  for (;;) {
    if (signal.aborted) break;
    const page = await store.listTopics({ after, limit: TOPIC_PAGE });
    for (const topic of page) {
      if (signal.aborted) break;
      topicsScanned++;
      try {
        const purge = await purgeTopic({
          store,
          blobs: options.blobs,
          topic,
          now,
          pageSize: options.pageSize,
          logger,
          signal,
        });
        if (purge.error !== undefined) {
          failedTopics.push(topic.name);
          logger.error(
            { err: purge.error, topic: topic.name },
            'retention of a topic failed part-way; retrying at the next run',
          );
        }
        if (purge.purged.length === 0) continue;
        let blobsDeleted = 0;
        for (const [sha256, pointers] of purge.blobs) {
          // Blobs left when closing stay in place: a later run no longer knows them (never a dangling
          // pointer, at worst storage kept).
          if (signal.aborted) break;
          const outcome = await handleBlob({ ...options, sha256, pointers });
          if (outcome === 'deleted') blobsDeleted++;
          else if (outcome === 'restored') blobsRestored++;
          else if (outcome === 'failed') failedBlobs++;
        }
        topics.push({ topic: topic.name, versionsPurged: purge.purged.length, blobsDeleted });
        logger.info(
          { topic: topic.name, versions: purge.purged, blobsDeleted },
          'purged versions beyond retention',
        );
      } catch (err) {
        if (signal.aborted) break;
        failedTopics.push(topic.name);
        logger.error({ err, topic: topic.name }, 'retention of a topic failed; retrying at the next run');
      }
    }
    if (page.length < TOPIC_PAGE) break;
    after = page[page.length - 1]!.name;
  }

  const report: JanitorReport = {
    leader: true,
    topicsScanned,
    versionsPurged: topics.reduce((sum, t) => sum + t.versionsPurged, 0),
    blobsDeleted: topics.reduce((sum, t) => sum + t.blobsDeleted, 0),
    blobsRestored,
    failedTopics,
    failedBlobs,
    topics,
  };
  logger.info(
    {
      topicsScanned,
      versionsPurged: report.versionsPurged,
      blobsDeleted: report.blobsDeleted,
      blobsRestored,
      failedTopics,
      failedBlobs,
      ms: options.clock.now() - started,
      aborted: signal.aborted,
    },
    'janitor run done',
  );
  return report;
}

async function handleBlob(
  options: SweepOptions & { sha256: string; pointers: readonly DataPointer[] },
): Promise<BlobOutcome | 'failed'> {
  try {
    return await deleteBlobIfUnreferenced(options);
  } catch (err) {
    options.logger.warn(
      { err, sha256: options.sha256, pointers: options.pointers },
      'could not delete an unreferenced blob; it stays in place, whole or in part',
    );
    return 'failed';
  }
}
