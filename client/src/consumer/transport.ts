import type { VersionRecord } from '../core/model.js';
import type { Identity } from '../core/names.js';
import type { PollUpdate } from '../wire/rest-views.js';

export type { PollUpdate };

/** One topic in a poll: the version the node runs (absent: nothing consumed yet). */
export interface PollTopic {
  readonly topic: string;
  readonly currentVersion?: number | undefined;
}

export interface PollRequest {
  readonly identity: Identity;
  /** Every topic the process subscribes to, each once: one request per poll, whatever the count. */
  readonly topics: readonly PollTopic[];
  /** Long-poll: the server holds the request up to this long until one of the topics has an update. */
  readonly waitMs?: number | undefined;
  readonly signal: AbortSignal;
}

/**
 * How a consumer talks to the service. REST and gRPC implement it; tests may supply their own to inject
 * faults a real server cannot produce. Every method rejects with a MeshpressError subclass (never a raw
 * transport error), and with the signal's reason once it aborts.
 */
export interface PollTransport {
  /** The poll contract: updates only for topics that have one (empty array: nothing new). */
  poll(request: PollRequest): Promise<PollUpdate[]>;
  /** A version's payload through the service (`local` pointers, and the last resort for any pointer). */
  fetchData(topic: string, version: number, signal: AbortSignal): Promise<Uint8Array>;
  /** Committed versions below `before` (all when absent), newest first, inline payloads omitted. */
  history(
    topic: string,
    before: number | undefined,
    limit: number,
    signal: AbortSignal,
  ): Promise<VersionRecord[]>;
  /** Releases connections. Idempotent. */
  close(): Promise<void>;
}

/** Who is calling, sent with every request (`x-meshpress-app`, `x-meshpress-principal`). */
export interface CallerHeaders {
  readonly app?: string | undefined;
  readonly principal?: string | undefined;
}
