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
  type PollReport,
} from './consumer-status-store.js';
import { type ConsumerEntry, nextLagSince, summarize } from './summarize.js';

export const memoryConsumerStatusOptionsSchema = z.object({
  /** A node that has not reported for this long is dropped. */
  ttlMs: z.number().int().positive().default(DEFAULT_CONSUMER_STATUS_TTL_MS),
});

export type MemoryConsumerStatusOptions = z.input<typeof memoryConsumerStatusOptionsSchema>;

type Report = z.output<typeof consumerReportSchema>;

/** One topic as one node last reported it. */
interface TopicEntry {
  readonly topic: string;
  currentVersion: number | undefined;
  targetVersion: number | undefined;
  lastSeen: number;
  lagSince: number | undefined;
}

/** One node: who it is (as of its latest poll) and the topics it polled. */
interface NodeEntry {
  app: string | undefined;
  region: string | undefined;
  cluster: string | undefined;
  lastSeen: number;
  /** Usually a handful, in the order the node names them, so a poll finds each at its own index. */
  readonly topics: TopicEntry[];
  /** The `topics` of the node's last poll when it repeats (PollReport.repeats), and its entries in order. */
  repeated: PollReport['topics'] | undefined;
  repeatedEntries: TopicEntry[] | undefined;
}

/**
 * The embedded mode's consumer status: this instance's polls only, applied at once (no batching needed
 * in memory). Same semantics as the Redis store.
 *
 * Entries are kept per node, not per (topic, node): a poll names all of a node's topics, so recording it
 * is one map lookup and an update in place of each topic's entry, where per-topic maps cost two lookups
 * per topic on every poll. `status` (an operator's read) walks the nodes instead. Nodes and topics not
 * seen for the TTL are skipped by reads and swept at most once per TTL, so memory stays bounded by the
 * nodes that polled within about two TTLs.
 */
export class MemoryConsumerStatusStore implements ConsumerStatusStore {
  readonly #ttlMs: number;
  readonly #nodes = new Map<string, NodeEntry>();
  #sweptAt: number | undefined;
  #closed = false;

  constructor(options: MemoryConsumerStatusOptions = {}) {
    this.#ttlMs = parseOrThrow(memoryConsumerStatusOptionsSchema, options, 'consumer status options').ttlMs;
  }

  async record(input: ConsumerReport): Promise<void> {
    const report: Report = parseOrThrow(consumerReportSchema, input, 'consumer report');
    this.recordPoll({ ...report, topics: [report] });
  }

  recordPoll(poll: PollReport): void {
    if (this.#closed) return;
    const { at } = poll;
    let node = this.#nodes.get(poll.node);
    if (node !== undefined && node.repeated === poll.topics && this.#repeatsLast(node, at)) {
      // The same report as last time (same identity, same versions): only the times move. Nearly every
      // poll of a node that polls at an interval is one of these.
      node.lastSeen = at;
      const entries = node.repeatedEntries!;
      for (let i = 0; i < entries.length; i++) entries[i]!.lastSeen = at;
      this.#sweepIfDue(at);
      return;
    }
    if (!node) {
      node = {
        app: poll.app,
        region: poll.region,
        cluster: poll.cluster,
        lastSeen: at,
        topics: [],
        repeated: undefined,
        repeatedEntries: undefined,
      };
      this.#nodes.set(poll.node, node);
    } else if (at >= node.lastSeen) {
      // Compared first: an equal string from this poll's JSON would only replace one already kept.
      if (node.app !== poll.app) node.app = poll.app;
      if (node.region !== poll.region) node.region = poll.region;
      if (node.cluster !== poll.cluster) node.cluster = poll.cluster;
      node.lastSeen = at;
    }
    const { topics } = poll;
    // Kept only for a repeating poll recorded in full, so that its next copy takes the path above.
    let entries: TopicEntry[] | undefined = poll.repeats ? new Array(topics.length) : undefined;
    for (let i = 0; i < topics.length; i++) {
      const report = topics[i]!;
      const kept = node.topics[i]?.topic === report.topic ? node.topics[i] : findTopic(node, report.topic);
      if (kept && kept.lastSeen > at) {
        entries = undefined;
        continue;
      }
      // A node back after more than the TTL starts afresh, even if no read has swept its old entry yet.
      const previous = kept && kept.lastSeen > at - this.#ttlMs ? kept : undefined;
      const { topic, currentVersion, targetVersion } = report;
      const lagSince = nextLagSince(previous, { currentVersion, targetVersion, at });
      if (!kept) {
        const entry = { topic, currentVersion, targetVersion, lastSeen: at, lagSince };
        node.topics.push(entry);
        if (entries) entries[i] = entry;
        continue;
      }
      kept.currentVersion = currentVersion;
      kept.targetVersion = targetVersion;
      kept.lastSeen = at;
      kept.lagSince = lagSince;
      if (entries) entries[i] = kept;
    }
    const recordedInFull = entries !== undefined && at >= node.lastSeen;
    node.repeated = recordedInFull ? topics : undefined;
    node.repeatedEntries = recordedInFull ? entries : undefined;
    this.#sweepIfDue(at);
  }

  /**
   * Whether a poll at `at` may be recorded as a repeat of the node's last one: not older than it (an
   * older report changes nothing it kept), and within the TTL of it (a node back after that starts
   * afresh).
   */
  #repeatsLast(node: NodeEntry, at: number): boolean {
    return at >= node.lastSeen && at - node.lastSeen < this.#ttlMs;
  }

  #sweepIfDue(at: number): void {
    if (this.#sweptAt === undefined) this.#sweptAt = at;
    else if (at - this.#sweptAt >= this.#ttlMs) this.#sweep(at);
  }

  async flush(): Promise<void> {}

  async status(topic: string, input: ConsumerStatusQuery): Promise<ConsumerStatus> {
    if (this.#closed) throw new ClosedError('consumer status store');
    parseOrThrow(topicNameSchema, topic, 'topic');
    const query = parseOrThrow(consumerStatusQuerySchema, input, 'consumer status query');
    return summarize(topic, this.#liveEntries(topic, query.now), query.now, query.graceMs);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#nodes.clear();
  }

  *#liveEntries(topic: string, now: number): Generator<ConsumerEntry> {
    const cutoff = now - this.#ttlMs;
    for (const [name, node] of this.#nodes) {
      const entry = findTopic(node, topic);
      if (!entry || entry.lastSeen <= cutoff) continue;
      const { currentVersion, targetVersion, lastSeen, lagSince } = entry;
      const { app, region, cluster } = node;
      yield { node: name, app, region, cluster, currentVersion, targetVersion, lastSeen, lagSince };
    }
  }

  /** Drops the topics last seen at or before `now - ttl`, and the nodes left with none. */
  #sweep(now: number): void {
    const cutoff = now - this.#ttlMs;
    for (const [name, node] of this.#nodes) {
      const live = node.topics.filter((t) => t.lastSeen > cutoff);
      if (live.length === 0) this.#nodes.delete(name);
      else if (live.length !== node.topics.length) {
        node.topics.splice(0, node.topics.length, ...live);
        node.repeated = node.repeatedEntries = undefined;
      }
    }
    this.#sweptAt = now;
  }
}

function findTopic(node: NodeEntry, topic: string): TopicEntry | undefined {
  for (const entry of node.topics) if (entry.topic === topic) return entry;
  return undefined;
}
