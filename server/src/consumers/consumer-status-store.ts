import { identityValueSchema, topicNameSchema, versionNumberSchema } from '@meshpress/client';
import { z } from 'zod';

/** A node that has not polled for this long is forgotten (it stopped, or moved to another topic). */
export const DEFAULT_CONSUMER_STATUS_TTL_MS = 5 * 60_000;
/** Suggested grace before a node whose version differs from its target counts as lagging. */
export const DEFAULT_CONSUMER_LAG_GRACE_MS = 60_000;

/** What one poll says about one node and one topic. */
export const consumerReportSchema = z.object({
  topic: topicNameSchema,
  node: identityValueSchema,
  app: identityValueSchema.optional(),
  region: identityValueSchema.optional(),
  cluster: identityValueSchema.optional(),
  /** The version the node runs now; absent when it has consumed nothing yet. */
  currentVersion: versionNumberSchema.optional(),
  /** The version the node should run (resolve's answer); absent when none applies to it. */
  targetVersion: versionNumberSchema.optional(),
  /** When the poll arrived, in ms since the epoch (the server's clock). */
  at: z.number().int().nonnegative(),
});

export type ConsumerReport = z.input<typeof consumerReportSchema>;

/** What one poll says about one node: the node once, then each topic it asked about. */
export interface PollReport {
  readonly node: string;
  readonly app?: string | undefined;
  readonly region?: string | undefined;
  readonly cluster?: string | undefined;
  readonly at: number;
  readonly topics: readonly {
    readonly topic: string;
    readonly currentVersion?: number | undefined;
    readonly targetVersion?: number | undefined;
  }[];
  /**
   * The node's next polls, until something changes, report these same strings and this same `topics`
   * array (the server keeps a repeating poll's evaluation): a store may keep a reference to recognise
   * them. Not set for reports made afresh (long-polls), which a store should not keep alive.
   */
  readonly repeats?: boolean | undefined;
}

/** Calls `apply` with the flat report of each topic of a poll report. */
export function forEachReport(
  poll: PollReport,
  apply: (report: z.output<typeof consumerReportSchema>) => void,
): void {
  const { node, app, region, cluster, at } = poll;
  for (const { topic, currentVersion, targetVersion } of poll.topics)
    apply({ topic, node, app, region, cluster, currentVersion, targetVersion, at });
}

export const consumerStatusQuerySchema = z.object({
  now: z.number().int().nonnegative(),
  graceMs: z.number().int().nonnegative(),
});

export type ConsumerStatusQuery = z.input<typeof consumerStatusQuerySchema>;

/** How many live nodes run `version`; `null` counts the nodes that have consumed nothing yet. */
export interface VersionCount {
  readonly version: number | null;
  readonly nodes: number;
}

export interface LaggingNode {
  readonly node: string;
  readonly app?: string;
  readonly region?: string;
  readonly cluster?: string;
  readonly currentVersion?: number;
  readonly targetVersion: number;
  /** When the node was first seen behind this target (continuously since). */
  readonly since: number;
  /** Its latest poll. */
  readonly lastSeen: number;
}

export interface ConsumerStatus {
  readonly topic: string;
  /** Newest version first; nodes with nothing consumed (`version: null`) last. */
  readonly distribution: readonly VersionCount[];
  /** Nodes behind their target for longer than the grace period, longest-lagging first. */
  readonly lagging: readonly LaggingNode[];
  /** Live nodes: those that polled for the topic within the store's TTL. */
  readonly total: number;
}

/**
 * Where polls leave a trace of which version each node runs, so an operator can see a rollout's progress
 * and the nodes that do not pick up their target. Polls are the hot path, so `record` only buffers (an
 * implementation may write in batches: what `status` shows can trail the polls by about a second).
 * Implementations: in memory (embedded) and Redis (distributed, shared by every instance).
 */
export interface ConsumerStatusStore {
  /**
   * Notes one node's state for one topic. Never waits for storage; a report older than the node's latest
   * one is ignored. A no-op once closed. Rejects with ValidationError on a malformed report.
   */
  record(report: ConsumerReport): Promise<void>;
  /**
   * The poll path's `record`, for every topic of one poll at once. Its fields come from a poll the
   * service has validated and from the consumer cache, so they are not validated again. Never throws.
   */
  recordPoll(report: PollReport): void;
  /** Writes buffered reports now (also done periodically and on close). Never rejects. */
  flush(): Promise<void>;
  /** The version distribution and lagging nodes among the nodes seen within the TTL before `now`. */
  status(topic: string, query: ConsumerStatusQuery): Promise<ConsumerStatus>;
  /** Flushes what is buffered, then releases resources. Idempotent. */
  close(): Promise<void>;
}
