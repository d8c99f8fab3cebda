import { ClosedError, parseOrThrow, topicNameSchema } from '@meshpress/client';
import { z } from 'zod';
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
import { type ConsumerEntry, nextLagSince, summarize } from './summarize.js';

export const memoryConsumerStatusOptionsSchema = z.object({
  /** A node that has not reported for this long is dropped. */
  ttlMs: z.number().int().positive().default(DEFAULT_CONSUMER_STATUS_TTL_MS),
});

export type MemoryConsumerStatusOptions = z.input<typeof memoryConsumerStatusOptionsSchema>;

type Report = z.output<typeof consumerReportSchema>;
type StoredEntry = { -readonly [K in keyof ConsumerEntry]: ConsumerEntry[K] };

/**
 * The embedded mode's consumer status: this instance's polls only, applied at once (no batching needed
 * in memory). Same semantics as the Redis store. Stale nodes are swept on reads and, at most once per TTL
 * per topic, on writes, so memory stays bounded by the nodes that polled within about two TTLs.
 */
export class MemoryConsumerStatusStore implements ConsumerStatusStore {
  readonly #ttlMs: number;
  readonly #topics = new Map<string, { nodes: Map<string, StoredEntry>; sweptAt: number }>();
  #closed = false;

  constructor(options: MemoryConsumerStatusOptions = {}) {
    this.#ttlMs = parseOrThrow(memoryConsumerStatusOptionsSchema, options, 'consumer status options').ttlMs;
  }

  async record(input: ConsumerReport): Promise<void> {
    this.#apply(parseOrThrow(consumerReportSchema, input, 'consumer report'));
  }

  recordPoll(poll: PollReport): void {
    forEachReport(poll, (report) => this.#apply(report));
  }

  #apply(report: Report): void {
    if (this.#closed) return;
    let topic = this.#topics.get(report.topic);
    if (!topic) {
      topic = { nodes: new Map(), sweptAt: report.at };
      this.#topics.set(report.topic, topic);
    }
    const stored = topic.nodes.get(report.node);
    if (stored && stored.lastSeen > report.at) return;
    // A node back after more than the TTL starts afresh, even if no read has swept its old entry yet.
    const previous = stored && stored.lastSeen > report.at - this.#ttlMs ? stored : undefined;
    const lagSince = nextLagSince(previous, report);
    // Updated in place: a node reports every poll, and its entry is this store's own object.
    const entry = stored ?? ({ node: report.node } as StoredEntry);
    entry.app = report.app;
    entry.region = report.region;
    entry.cluster = report.cluster;
    entry.currentVersion = report.currentVersion;
    entry.targetVersion = report.targetVersion;
    entry.lastSeen = report.at;
    entry.lagSince = lagSince;
    if (!stored) topic.nodes.set(report.node, entry);
    if (report.at - topic.sweptAt >= this.#ttlMs) this.#sweep(report.topic, report.at);
  }

  async flush(): Promise<void> {}

  async status(topic: string, input: ConsumerStatusQuery): Promise<ConsumerStatus> {
    if (this.#closed) throw new ClosedError('consumer status store');
    parseOrThrow(topicNameSchema, topic, 'topic');
    const query = parseOrThrow(consumerStatusQuerySchema, input, 'consumer status query');
    this.#sweep(topic, query.now);
    return summarize(topic, this.#topics.get(topic)?.nodes.values() ?? [], query.now, query.graceMs);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#topics.clear();
  }

  /** Drops the nodes last seen at or before `now - ttl`, and the topic when none is left. */
  #sweep(name: string, now: number): void {
    const topic = this.#topics.get(name);
    if (!topic) return;
    const cutoff = now - this.#ttlMs;
    for (const [node, entry] of topic.nodes) if (entry.lastSeen <= cutoff) topic.nodes.delete(node);
    topic.sweptAt = now;
    if (topic.nodes.size === 0) this.#topics.delete(name);
  }
}
