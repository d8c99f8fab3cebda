/** How a poll ended: with at least one update, with none, or failed. */
export type PollOutcome = 'update' | 'none' | 'error';

/** Where an applied value came from. */
export type ValueSource = 'service' | 'history' | 'fallback-cache' | 'disk-cache';

/** Why a version was not applied. */
export type RejectReason =
  /** Every copy had the wrong size or sha256. */
  | 'integrity'
  /** An older, unpinned version than the one running. */
  | 'backwards'
  /** The decode function threw. */
  | 'decode'
  /** A low-level listener threw. */
  | 'listener'
  /** No copy could be downloaded (retried on the next poll). */
  | 'download';

/** What a subscription started from when the service could not give it a value in time. */
export type FallbackSource = 'fallback-cache' | 'disk-cache' | 'default';

/**
 * Hooks the client calls as things happen; adapt them to Prometheus, StatsD or logs. The client depends
 * on no metrics library. Implementations must not throw and should be cheap: they run on the poll path.
 */
export interface ClientMetrics {
  poll(outcome: PollOutcome): void;
  updateApplied(topic: string, source: ValueSource): void;
  versionRejected(topic: string, reason: RejectReason): void;
  fallbackUsed(topic: string, source: FallbackSource): void;
  /**
   * The poll loop stopped waiting for a topic's update to be applied (a slow download, or a decoder,
   * listener or disk write that does not settle) after `requestTimeoutMs`: the other topics go on, this
   * one keeps the version it runs until that work finishes. Optional, so implementations written before
   * it still fit.
   */
  applyOverdue?(topic: string): void;
  /**
   * Called once per client with a reader of seconds since the last successful poll (since the client
   * started, before the first), for a gauge that is computed when scraped.
   */
  trackSecondsSinceLastSuccessfulPoll(read: () => number): void;
}

export const noopClientMetrics: ClientMetrics = Object.freeze({
  poll: () => undefined,
  updateApplied: () => undefined,
  versionRejected: () => undefined,
  fallbackUsed: () => undefined,
  applyOverdue: () => undefined,
  trackSecondsSinceLastSuccessfulPoll: () => undefined,
});

/** Counts in memory, keyed `name{label=value,…}`; for tests and quick diagnostics. */
export class InMemoryClientMetrics implements ClientMetrics {
  readonly #counts = new Map<string, number>();
  #read: (() => number) | undefined;

  poll(outcome: PollOutcome): void {
    this.#inc(`polls{outcome=${outcome}}`);
  }

  updateApplied(topic: string, source: ValueSource): void {
    this.#inc(`updatesApplied{topic=${topic},source=${source}}`);
  }

  versionRejected(topic: string, reason: RejectReason): void {
    this.#inc(`versionsRejected{topic=${topic},reason=${reason}}`);
  }

  fallbackUsed(topic: string, source: FallbackSource): void {
    this.#inc(`fallbackUsed{topic=${topic},source=${source}}`);
  }

  applyOverdue(topic: string): void {
    this.#inc(`appliesOverdue{topic=${topic}}`);
  }

  trackSecondsSinceLastSuccessfulPoll(read: () => number): void {
    this.#read = read;
  }

  /** The current value of the gauge (NaN before a client registered it). */
  secondsSinceLastSuccessfulPoll(): number {
    return this.#read ? this.#read() : Number.NaN;
  }

  /** One counter, e.g. `count('polls', { outcome: 'error' })`; 0 when never incremented. */
  count(name: string, labels: Readonly<Record<string, string>> = {}): number {
    const wanted = Object.entries(labels);
    let total = 0;
    for (const [key, value] of this.#counts) {
      const parsed = parseKey(key);
      if (parsed.name !== name) continue;
      if (wanted.every(([k, v]) => parsed.labels[k] === v)) total += value;
    }
    return total;
  }

  /** Every counter, for assertions and debugging. */
  snapshot(): Readonly<Record<string, number>> {
    return Object.fromEntries(this.#counts);
  }

  #inc(key: string): void {
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }
}

function parseKey(key: string): { name: string; labels: Record<string, string> } {
  const open = key.indexOf('{');
  const labels: Record<string, string> = {};
  for (const pair of key.slice(open + 1, -1).split(',')) {
    const eq = pair.indexOf('=');
    if (eq > 0) labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return { name: key.slice(0, open), labels };
}
