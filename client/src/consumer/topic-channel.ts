import type { Clock } from '../core/clock.js';
import { IntegrityError } from '../core/errors.js';
import type { VersionRecord } from '../core/model.js';
import type { Identity } from '../core/names.js';
import { scopeFromCanonical, scopeMatches } from '../core/scope.js';
import { raceAbort, timeoutSignal } from './abort.js';
import type { Acceptance, Delivery } from './delivery.js';
import type { DiskCache } from './disk-cache.js';
import type { Downloaded, Downloader } from './downloader.js';
import type { ClientLogger } from './logger.js';
import type { ClientMetrics, ValueSource } from './metrics.js';
import { SerialQueue } from './serial-queue.js';
import { olderThanDiskEntry } from './stale-fallback.js';
import type { SubscriptionCore } from './subscription-core.js';
import type { PollTransport } from './transport.js';

/** A version some source says this node should run; its bytes are not fetched yet (unless `data`). */
export interface Candidate {
  readonly version: number;
  readonly pinned: boolean;
  readonly record: VersionRecord;
  readonly source: ValueSource;
  /** Bytes already verified (disk cache, the channel's own last value). */
  readonly data?: Uint8Array | undefined;
}

/**
 * - `applied`: at least one subscription switched to it;
 * - `unchanged`: nobody wanted it (already running it, older, rejected before, known corrupt);
 * - `rejected`: downloaded and verified, or proven corrupt, but no subscription took it;
 * - `unavailable`: the bytes could not be fetched (tried again when offered again).
 */
export type OfferOutcome = 'applied' | 'unchanged' | 'rejected' | 'unavailable';

/**
 * Who a candidate is for:
 * - `all`: a source that speaks for this node now (the service): every subscription that wants it;
 * - `unvalued`: a starting value (fallback cache, disk cache): only subscriptions still without a value.
 *   Such a source may be stale (an old pin in the fallback cache), so it never moves a subscription that
 *   already runs a version, nor the channel's own version unless the channel had none.
 */
export type Audience = 'all' | 'unvalued';

export interface ChannelDeps {
  readonly identity: Identity;
  readonly downloader: Downloader;
  readonly transport: PollTransport;
  readonly diskCache: DiskCache | undefined;
  readonly metrics: ClientMetrics;
  readonly logger: ClientLogger;
  readonly clock: Clock;
  /** How many older versions to try for a subscription whose first version fails. */
  readonly historyDepth: number;
  /** Budget of the history request. */
  readonly requestTimeoutMs: number;
}

/**
 * Everything the client does for one topic: the subscriptions on it, the last version applied (what
 * the next poll reports, and what a late subscriber starts from), downloads, and the order in which
 * versions reach subscriptions. Offers are serialized, so two sources (a poll, the fallback path, a new
 * subscriber) never interleave on the same topic.
 */
export class TopicChannel {
  readonly topic: string;
  readonly #deps: ChannelDeps;
  readonly #subscriptions = new Set<SubscriptionCore>();
  #current: Delivery | undefined;
  /** The last version every copy of which was corrupt: not downloaded again until the target moves. */
  #corrupt: number | undefined;
  readonly #queue = new SerialQueue();
  /** The service target waiting behind unfinished work, if any: a later one replaces it (see #offerLater). */
  #waiting: { candidate: Candidate; signal: AbortSignal } | undefined;
  /** Whether a poll stopped waiting for the work under way here (see markOverdue). */
  #overdue = false;
  /** The version the service offered last (its target for this node), whatever became of it. */
  #serviceTarget: number | undefined;
  /** When a poll last carried this topic (the client's clock; kept by the client). */
  polledAt = Number.NEGATIVE_INFINITY;

  constructor(topic: string, deps: ChannelDeps) {
    this.topic = topic;
    this.#deps = deps;
  }

  /** The version this node reports to the service: the newest one it switched to (or a pinned rollback). */
  get currentVersion(): number | undefined {
    return this.#current?.version;
  }

  get current(): Delivery | undefined {
    return this.#current;
  }

  get size(): number {
    return this.#subscriptions.size;
  }

  get subscriptions(): readonly SubscriptionCore[] {
    return [...this.#subscriptions];
  }

  /** Subscriptions still on their default value. */
  get unvalued(): SubscriptionCore[] {
    return [...this.#subscriptions].filter(isUnvalued);
  }

  /** Whether some subscription is still on its default value (and matches `which`); allocates nothing. */
  someUnvalued(which?: (s: SubscriptionCore) => boolean): boolean {
    for (const s of this.#subscriptions) if (isUnvalued(s) && (!which || which(s))) return true;
    return false;
  }

  /**
   * Adds a subscription; one joining a topic that has a value is offered it. The offer waits its turn
   * behind work under way and takes the value current then: a subscription joining while the topic's
   * first version is still decoding (or stuck) gets that version when it lands, not its default.
   */
  add(subscription: SubscriptionCore, signal: AbortSignal): Promise<OfferOutcome> | undefined {
    this.#subscriptions.add(subscription);
    if (!this.#queue.busy && !this.#current) return undefined;
    return this.#queue.run(() => {
      const current = this.#current;
      return current ? this.#offer({ ...current }, signal) : 'unchanged';
    });
  }

  remove(subscription: SubscriptionCore): void {
    this.#subscriptions.delete(subscription);
  }

  /** Resolves once every offer queued so far has finished (downloads, deliveries, disk cache writes). */
  idle(): Promise<void> {
    return this.#queue.idle();
  }

  /**
   * Whether the poll loop stopped waiting for this topic's work (it outlasted the bound): until that work
   * has finished, polls do not wait for the topic's offers, so it cannot hold the other topics up again.
   */
  get overdue(): boolean {
    return this.#overdue;
  }

  /**
   * Whether every long-poll should carry this topic. Not while overdue work keeps it from the service's
   * target: the version it still runs would have the service answer each long-poll at once with that
   * target, already waiting here (the client then reports it once per interval only). A topic whose
   * overdue work is past its target (a hung disk cache write after applying it) reports what it runs.
   */
  get inPolls(): boolean {
    return !this.#overdue || this.#serviceTarget === this.currentVersion;
  }

  /**
   * The poll loop stopped waiting for this topic's work. True when that is news: work is under way and
   * the topic was not marked already. The mark goes once that work, and any target queued behind it, has
   * finished; then `onFinished` runs (the client polls at once).
   */
  markOverdue(onFinished: () => void): boolean {
    if (this.#overdue || !this.#queue.busy) return false;
    this.#overdue = true;
    void this.#queue.idle().then(() => {
      this.#overdue = false;
      this.#deps.logger.info(
        { topic: this.topic, version: this.currentVersion },
        'overdue work on the topic has finished: it is polled again',
      );
      onFinished();
    });
    return true;
  }

  /**
   * Offers a version to every subscription of `audience` that wants it (see SubscriptionCore.interest).
   * Serialized, and never applied before this returns.
   */
  offer(candidate: Candidate, signal: AbortSignal, audience: Audience = 'all'): Promise<OfferOutcome> {
    return this.#queue.run(() => this.#offer(candidate, signal, audience));
  }

  /**
   * Offers a service target; when a subscription still has no value afterwards (the target would not
   * download, verify or decode), tries older versions visible to this node from the history, newest
   * first, up to the configured depth, so a bad newest version does not leave a starting proxy on its
   * default.
   *
   * Serialized with every other offer; when none is under way and the target's bytes are inline and every
   * subscriber takes them synchronously, it is applied before this returns and the outcome is returned
   * as is (the poll path: no promise per update). `queued`: it replaced the target already waiting behind
   * work under way (see #offerLater), whose outcome goes to whoever offered that one.
   */
  offerWithHistory(
    candidate: Candidate,
    signal: AbortSignal,
  ): OfferOutcome | 'queued' | Promise<OfferOutcome> {
    this.#serviceTarget = candidate.version;
    if (this.#queue.busy) return this.#offerLater(candidate, signal);
    return this.#queue.runNowIfIdle(() => this.#offerWithHistory(candidate, signal));
  }

  /**
   * A service target for a topic with work under way, which may never finish (a decoder, listener or disk
   * write that hangs) while the poll loop goes on and the service, told the version still running, keeps
   * offering its target: at most one target waits, and a later one replaces it rather than queuing
   * another, so the queue does not grow with every poll. The service speaks for now, so the newest
   * target is the one offered when the work is done.
   */
  #offerLater(candidate: Candidate, signal: AbortSignal): 'queued' | Promise<OfferOutcome> {
    const waiting = this.#waiting;
    if (waiting) {
      waiting.candidate = candidate;
      waiting.signal = signal;
      return 'queued';
    }
    const next = { candidate, signal };
    this.#waiting = next;
    return this.#queue.run(() => {
      if (this.#waiting === next) this.#waiting = undefined;
      return this.#offerWithHistory(next.candidate, next.signal);
    });
  }

  #offerWithHistory(candidate: Candidate, signal: AbortSignal): OfferOutcome | Promise<OfferOutcome> {
    const outcome = this.#offer(candidate, signal);
    return typeof outcome === 'string'
      ? this.#historyIfUnvalued(candidate, signal, outcome)
      : outcome.then((settled) => this.#historyIfUnvalued(candidate, signal, settled));
  }

  #historyIfUnvalued(
    candidate: Candidate,
    signal: AbortSignal,
    outcome: OfferOutcome,
  ): OfferOutcome | Promise<OfferOutcome> {
    if (!this.someUnvalued() || this.#deps.historyDepth === 0 || signal.aborted) return outcome;
    return this.#tryHistory(candidate, signal).then(() => outcome);
  }

  async #tryHistory(candidate: Candidate, signal: AbortSignal): Promise<void> {
    const older = await this.#olderVisible(candidate.version, signal);
    for (const record of older) {
      if (!this.someUnvalued() || signal.aborted) break;
      const tried = await this.#offer(
        { version: record.version, pinned: false, record, source: 'history' },
        signal,
      );
      this.#deps.logger.info(
        { topic: this.topic, version: record.version, outcome: tried },
        'tried an older version from the history',
      );
    }
  }

  /**
   * One candidate to the subscriptions that want it. Synchronous as long as nothing needs waiting for:
   * bytes given or inline, subscribers that apply at once, no disk cache write.
   */
  #offer(
    candidate: Candidate,
    signal: AbortSignal,
    audience: Audience = 'all',
  ): OfferOutcome | Promise<OfferOutcome> {
    // One pass, no intermediate arrays: every subscriber of a fleet runs this on every update.
    const takers: SubscriptionCore[] = [];
    let backwards = false;
    for (const s of this.#subscriptions) {
      if (audience === 'unvalued' && s.version !== undefined) continue;
      const interest = s.interest(candidate.version, candidate.pinned);
      if (interest === 'wants') takers.push(s);
      else if (interest === 'backwards') backwards = true;
    }
    if (takers.length === 0) {
      // The service applies the same rule; an older unpinned version reaching here is a stale source.
      if (backwards && candidate.source !== 'history')
        this.#deps.metrics.versionRejected(this.topic, 'backwards');
      return 'unchanged';
    }
    if (candidate.data) return this.#deliver(candidate, candidate.data, candidate.source, takers, audience);
    if (candidate.version === this.#corrupt) return 'unchanged';
    const inline = signal.aborted ? undefined : this.#deps.downloader.verifiedInline(candidate.record);
    if (inline) return this.#deliver(candidate, inline.data, inline.source, takers, audience);
    return this.#download(candidate, signal).then((got) =>
      typeof got === 'string' ? got : this.#deliver(candidate, got.data, got.source, takers, audience),
    );
  }

  /** The verified bytes, or the outcome of a version that could not be had. */
  async #download(candidate: Candidate, signal: AbortSignal): Promise<Downloaded | OfferOutcome> {
    const { metrics, logger } = this.#deps;
    try {
      return await this.#deps.downloader.download(candidate.record, signal);
    } catch (err) {
      if (signal.aborted) return 'unavailable';
      if (err instanceof IntegrityError) {
        this.#corrupt = candidate.version;
        metrics.versionRejected(this.topic, 'integrity');
        logger.warn(
          { err, topic: this.topic, version: candidate.version },
          'version rejected: corrupt payload',
        );
        return 'rejected';
      }
      metrics.versionRejected(this.topic, 'download');
      logger.warn({ err, topic: this.topic, version: candidate.version }, 'version could not be downloaded');
      return 'unavailable';
    }
  }

  #deliver(
    candidate: Candidate,
    data: Uint8Array,
    from: string,
    takers: readonly SubscriptionCore[],
    audience: Audience,
  ): OfferOutcome | Promise<OfferOutcome> {
    const delivery: Delivery = {
      version: candidate.version,
      pinned: candidate.pinned,
      record: candidate.record,
      data,
      source: candidate.source,
    };
    const applied: SubscriptionCore[] = [];
    for (let i = 0; i < takers.length; i++) {
      const outcome = takers[i]!.deliver(delivery);
      // A decoder or listener that returned a promise: the rest of the takers wait for it, in order.
      if (typeof outcome !== 'string')
        return this.#deliverLater(outcome, i, delivery, from, takers, applied, audience);
      this.#tally(takers[i]!, outcome, delivery, applied);
    }
    return this.#conclude(delivery, from, applied, audience);
  }

  async #deliverLater(
    pending: Promise<Acceptance>,
    index: number,
    delivery: Delivery,
    from: string,
    takers: readonly SubscriptionCore[],
    applied: SubscriptionCore[],
    audience: Audience,
  ): Promise<OfferOutcome> {
    this.#tally(takers[index]!, await pending, delivery, applied);
    for (let i = index + 1; i < takers.length; i++)
      this.#tally(takers[i]!, await takers[i]!.deliver(delivery), delivery, applied);
    return this.#conclude(delivery, from, applied, audience);
  }

  #tally(
    subscription: SubscriptionCore,
    outcome: Acceptance,
    delivery: Delivery,
    applied: SubscriptionCore[],
  ): void {
    if (outcome === 'applied') {
      applied.push(subscription);
      this.#deps.metrics.updateApplied(this.topic, delivery.source);
    } else if (outcome !== 'closed') {
      this.#deps.metrics.versionRejected(this.topic, outcome);
    }
  }

  /** After the deliveries: the channel's own version, startup marks, the disk cache, the log line. */
  #conclude(
    delivery: Delivery,
    from: string,
    applied: readonly SubscriptionCore[],
    audience: Audience,
  ): OfferOutcome | Promise<OfferOutcome> {
    if (applied.length === 0) return 'rejected';
    const source = delivery.source;
    if (source === 'fallback-cache' || source === 'disk-cache')
      this.#deps.metrics.fallbackUsed(this.topic, source);
    const previous = this.#current;
    const advances =
      !previous || (audience === 'all' && (delivery.version > previous.version || delivery.pinned));
    if (advances) this.#current = delivery;
    // Whoever waits for startup sees the metrics above already counted.
    for (const subscription of applied) subscription.markStarted(source);
    const persist =
      advances &&
      delivery.version !== previous?.version &&
      this.#deps.diskCache !== undefined &&
      source !== 'disk-cache';
    if (!persist) return this.#applied(delivery, from);
    return this.#persist(delivery).then(() => this.#applied(delivery, from));
  }

  #applied(delivery: Delivery, from: string): OfferOutcome {
    this.#deps.logger.info(
      {
        topic: this.topic,
        version: delivery.version,
        pinned: delivery.pinned,
        source: delivery.source,
        from,
      },
      'version applied',
    );
    return 'applied';
  }

  async #persist(delivery: Delivery): Promise<void> {
    const cache = this.#deps.diskCache;
    if (!cache || delivery.source === 'disk-cache') return;
    try {
      // A stale fallback cache hit may still be applied (nothing newer was at hand when it was chosen),
      // but it must not replace the newer copy on disk, the only one this node may have during an outage.
      if (delivery.source === 'fallback-cache' && !delivery.pinned) {
        const onDisk = await cache.read(this.topic);
        if (olderThanDiskEntry(delivery, onDisk)) {
          this.#deps.logger.info(
            { topic: this.topic, version: delivery.version, onDisk: onDisk?.record.version },
            'disk cache keeps its newer version over an older unpinned fallback cache one',
          );
          return;
        }
      }
      await cache.write({
        record: delivery.record,
        pinned: delivery.pinned,
        data: delivery.data,
        savedAt: this.#deps.clock.now(),
      });
    } catch (err) {
      // The version is applied either way; only a later cold start without the service would miss it.
      this.#deps.logger.warn({ err, topic: this.topic }, 'disk cache write failed');
    }
  }

  async #olderVisible(below: number, signal: AbortSignal): Promise<VersionRecord[]> {
    const { transport, identity, historyDepth, logger, clock, requestTimeoutMs } = this.#deps;
    // The walk holds this topic's queue and the poll whose answer started it: a request that never
    // answers would stop polling for every topic and keep the fallback chain's offers waiting behind it.
    const scoped = timeoutSignal(signal, clock, requestTimeoutMs, 'history');
    let records: VersionRecord[];
    try {
      // Versions invisible to this node are skipped, so ask for more than the depth. Raced too, for a
      // transport that does not honour the signal.
      const limit = Math.min(1000, historyDepth * 10);
      records = await raceAbort(transport.history(this.topic, below, limit, scoped.signal), scoped.signal);
    } catch (err) {
      logger.warn({ err, topic: this.topic }, 'history unavailable: no older version to try');
      return [];
    } finally {
      scoped.dispose();
    }
    return records
      .filter((r) => r.version < below && r.committedAt !== undefined && visibleTo(r, identity))
      .sort((a, b) => b.version - a.version)
      .slice(0, historyDepth);
  }
}

function isUnvalued(s: SubscriptionCore): boolean {
  return !s.closed && s.version === undefined;
}

function visibleTo(record: VersionRecord, identity: Identity): boolean {
  return record.scopes.some((s) => {
    try {
      return scopeMatches(scopeFromCanonical(s.scope), identity);
    } catch {
      return false;
    }
  });
}
