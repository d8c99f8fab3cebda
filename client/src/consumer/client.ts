import type { Clock, TimerHandle } from '../core/clock.js';
import { ClosedError, ValidationError } from '../core/errors.js';
import type { Identity } from '../core/names.js';
import { topicNameSchema } from '../core/names.js';
import { parseOrThrow } from '../core/validation.js';
import { settlesWithin } from './abort.js';
import { type AtomicOptions, AtomicSubscription } from './atomic-subscription.js';
import { createBackoff } from './backoff.js';
import type { StartSource } from './delivery.js';
import { DiskCache } from './disk-cache.js';
import { Downloader } from './downloader.js';
import { type FallbackChainDeps, settleOnDefault, startFromFallbacks } from './fallback-chain.js';
import { GrpcTransport } from './grpc-transport.js';
import { type ClientLogger, silentLogger } from './logger.js';
import { type ClientMetrics, noopClientMetrics } from './metrics.js';
import {
  type MeshpressClientOptions,
  type ParsedClientOptions,
  parseClientOptions,
  serverTarget,
} from './options.js';
import { Poller } from './poller.js';
import { RestTransport } from './rest-transport.js';
import { S3Downloader } from './s3-downloader.js';
import { Subscription, type VersionHandler, type VersionListener } from './subscription.js';
import type { SubscriptionCore } from './subscription-core.js';
import { type ChannelDeps, type OfferOutcome, TopicChannel } from './topic-channel.js';
import type { PollTopic, PollTransport, PollUpdate } from './transport.js';
import { updateFinder } from './update-finder.js';

/**
 * Before the startup bound, a fallback cache lookup still unanswered this long before the bound, or its
 * hit still downloading, gives way to the disk cache (when it has an entry), so the proxy starts on its
 * local copy in time.
 */
export const STARTUP_DISK_MARGIN_MS = 500;

/** Where each subscription stands when startup returns. */
export interface ReadyReport {
  /**
   * True when every subscription got its first value, or learnt there is none, within the bound; false
   * when the bound (or close) cut the wait short.
   */
  readonly ready: boolean;
  readonly subscriptions: readonly {
    readonly topic: string;
    readonly version: number | undefined;
    /** `pending`: still on the default, a source is still being tried. */
    readonly source: StartSource;
  }[];
}

/**
 * The consumer library inside a data-plane proxy. Subscribe to topics, then `start()`: the client polls
 * the service (one request for all topics), downloads and verifies each new version, and hands it to
 * the subscriptions, never going backwards unless a pin says so. When the service cannot be reached it
 * starts subscriptions from the S3 fallback cache, then the local disk cache, then their default, and
 * keeps polling until the service answers again.
 */
export class MeshpressClient {
  readonly #o: ParsedClientOptions;
  readonly #identity: Identity;
  readonly #clock: Clock;
  readonly #logger: ClientLogger;
  readonly #metrics: ClientMetrics;
  readonly #transport: PollTransport;
  readonly #ownsTransport: boolean;
  readonly #s3: S3Downloader;
  readonly #diskCache: DiskCache | undefined;
  readonly #channelDeps: ChannelDeps;
  readonly #chainDeps: FallbackChainDeps;
  readonly #channels = new Map<string, TopicChannel>();
  readonly #chainsRunning = new Map<string, Promise<void>>();
  readonly #abort = new AbortController();
  readonly #poller: Poller;
  readonly #startTimers: TimerHandle[] = [];
  #boundPassed = false;
  #started = false;
  #startedAt = 0;
  #startReport: Promise<ReadyReport> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: MeshpressClientOptions) {
    const o = parseClientOptions(options);
    this.#o = o;
    this.#identity = o.identity;
    this.#clock = o.clock;
    this.#logger = o.logger ?? silentLogger;
    this.#metrics = o.metrics ?? noopClientMetrics;
    const caller = { app: o.callerApp ?? o.identity.app, principal: o.principal };
    if (o.transport) {
      this.#transport = o.transport;
      this.#ownsTransport = false;
    } else {
      const target = serverTarget(o.servers!);
      this.#transport =
        target.kind === 'rest'
          ? new RestTransport({ urls: target.urls, caller })
          : new GrpcTransport({ addresses: target.addresses, tls: target.tls, caller });
      this.#ownsTransport = true;
    }
    this.#s3 = new S3Downloader(o.s3);
    this.#diskCache = o.cacheDir ? new DiskCache(o.cacheDir, o.identity, o.clock) : undefined;
    const downloader = new Downloader({
      transport: this.#transport,
      s3: this.#s3,
      region: o.s3.region ?? o.identity.region,
      clock: o.clock,
      attemptTimeoutMs: o.downloadTimeoutMs,
    });
    this.#channelDeps = {
      identity: o.identity,
      downloader,
      transport: this.#transport,
      diskCache: this.#diskCache,
      metrics: this.#metrics,
      logger: this.#logger,
      clock: o.clock,
      historyDepth: o.startupHistoryDepth,
      requestTimeoutMs: o.requestTimeoutMs,
    };
    this.#chainDeps = {
      identity: o.identity,
      fallback: o.fallback,
      diskCache: this.#diskCache,
      metrics: this.#metrics,
      logger: this.#logger,
      clock: o.clock,
      lookupTimeoutMs: o.requestTimeoutMs,
    };
    this.#poller = new Poller(
      {
        transport: this.#transport,
        identity: o.identity,
        clock: o.clock,
        random: o.random,
        mode: o.pollMode,
        intervalMs: o.pollIntervalMs,
        jitter: o.pollJitter,
        longPollWaitMs: o.longPollWaitMs,
        longPollRespreadMs: o.longPollRespreadMs,
        requestTimeoutMs: o.requestTimeoutMs,
        // A download may take up to its own timeout per copy: only work that outlasts both is overdue.
        applyTimeoutMs: Math.max(o.requestTimeoutMs, o.downloadTimeoutMs),
        backoff: createBackoff({ baseMs: o.retryBaseMs, capMs: o.retryCapMs, random: o.random }),
        metrics: this.#metrics,
        logger: this.#logger,
        signal: this.#abort.signal,
      },
      {
        topics: () => this.#pollTopics(),
        awaitingFirstAnswer: () => this.#awaitingFirstAnswer(),
        onUpdates: (updates, polled, signal) => this.#onUpdates(updates, polled, signal),
        onFailure: (failures) => this.#onFailure(failures),
        onApplyOverdue: (updates) => this.#onApplyOverdue(updates),
      },
    );
    this.#metrics.trackSecondsSinceLastSuccessfulPoll(() => this.secondsSinceLastSuccessfulPoll());
  }

  get identity(): Identity {
    return this.#identity;
  }

  /** Low-level subscription: `listener` gets each version with its verified bytes and may throw to refuse it. */
  subscribe(topic: string, listener: VersionListener | VersionHandler): Subscription {
    const valid =
      typeof listener === 'function' ||
      typeof (listener as VersionHandler | undefined)?.onVersion === 'function';
    if (!valid)
      throw new ValidationError('invalid subscribe listener (expected a function or { onVersion })', [
        { path: 'listener', message: 'expected a function or an object with onVersion' },
      ]);
    return this.#add(new Subscription(this.#topic(topic), listener, this.#logger));
  }

  /** A decoded value, swapped in atomically; `current()` returns `defaultValue` until a version applies. */
  subscribeAtomic<T>(topic: string, options: AtomicOptions<T>): AtomicSubscription<T> {
    if (typeof options?.decode !== 'function')
      throw new ValidationError('invalid subscribeAtomic options (decode: expected a function)', [
        { path: 'decode', message: 'expected a function' },
      ]);
    return this.#add(new AtomicSubscription(this.#topic(topic), options, this.#logger));
  }

  /**
   * Starts polling and resolves once every subscription has its first value (or knows there is none),
   * or after `startupTimeoutMs`, whichever comes first: never later. Idempotent.
   *
   * Subscriptions the service has not served by half the bound (a hanging service), or after
   * `maxRetries` failed polls (an unreachable one), start from the fallback cache, the disk cache or
   * their default; the client keeps polling and switches to the service's versions when it answers.
   */
  start(): Promise<ReadyReport> {
    if (this.#abort.signal.aborted) return Promise.reject(new ClosedError('MeshpressClient'));
    if (!this.#started) {
      this.#started = true;
      this.#startedAt = this.#clock.now();
      this.#poller.start();
      const bound = this.#o.startupTimeoutMs;
      this.#startTimers.push(
        this.#clock.setTimeout(
          () => this.#runChains((s) => s.startedFrom === 'pending'),
          Math.floor(bound / 2),
        ),
        // Armed before waitForReady's own timer, so at the same instant it runs first and the report
        // shows `default` rather than `pending` for what found nothing.
        this.#clock.setTimeout(() => this.#onStartupBound(), bound),
      );
      this.#startReport = this.waitForReady();
    }
    return this.#startReport!;
  }

  /** Waits up to `timeoutMs` (default startupTimeoutMs) for every current subscription's first value. */
  waitForReady(timeoutMs: number = this.#o.startupTimeoutMs): Promise<ReadyReport> {
    const subscriptions = this.#subscriptions();
    return new Promise<ReadyReport>((resolve) => {
      let done = false;
      const finish = (ready: boolean) => {
        if (done) return;
        done = true;
        this.#clock.clearTimeout(timer);
        this.#abort.signal.removeEventListener('abort', onClose);
        resolve(this.#report(subscriptions, ready));
      };
      const onClose = () => finish(false);
      const timer = this.#clock.setTimeout(() => finish(false), timeoutMs);
      this.#abort.signal.addEventListener('abort', onClose, { once: true });
      void Promise.all(subscriptions.map((s) => s.ready())).then(() =>
        finish(subscriptions.every((s) => s.startedFrom !== 'pending')),
      );
    });
  }

  /** Seconds since the last successful poll (since start() before the first one). */
  secondsSinceLastSuccessfulPoll(): number {
    return this.#poller.secondsSinceLastSuccess();
  }

  /** Consecutive failed polls right now (0 when the service answers). */
  get consecutivePollFailures(): number {
    return this.#poller.consecutiveFailures;
  }

  /**
   * Stops polling, aborts requests and downloads in flight, clears every timer, and closes the
   * subscriptions (atomic ones keep returning their last value). Work already under way is waited for at
   * most `requestTimeoutMs`; the connections are released in any case. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#abort.abort(new ClosedError('MeshpressClient'));
    for (const timer of this.#startTimers) this.#clock.clearTimeout(timer);
    const channels = [...this.#channels.values()];
    for (const subscription of this.#subscriptions()) subscription.close();
    this.#channels.clear();
    try {
      // Work already under way (a disk cache write) may finish, so the next start finds it; aborted work
      // ends fast. Bounded: a decoder, listener or disk write (a hung mount) that never settles takes no
      // signal, and must not keep close pending and the connections open forever.
      const work = Promise.all([...channels.map((c) => c.idle()), ...this.#chainsRunning.values()]);
      if (!(await settlesWithin(work, this.#clock, this.#o.requestTimeoutMs)))
        this.#logger.warn(
          { waitedMs: this.#o.requestTimeoutMs },
          'close: work still under way (a decoder, listener or disk write that does not settle); closing anyway',
        );
    } finally {
      this.#s3.close();
      if (this.#ownsTransport) await this.#transport.close().catch(() => undefined);
    }
  }

  #topic(topic: string): string {
    if (this.#abort.signal.aborted) throw new ClosedError('MeshpressClient');
    return parseOrThrow(topicNameSchema, topic, 'topic');
  }

  #add<S extends SubscriptionCore>(subscription: S): S {
    let channel = this.#channels.get(subscription.topic);
    const isNew = !channel;
    if (!channel) {
      channel = new TopicChannel(subscription.topic, this.#channelDeps);
      this.#channels.set(subscription.topic, channel);
    }
    const joined = channel;
    subscription.bindClose(() => {
      joined.remove(subscription);
      if (joined.size === 0 && this.#channels.get(joined.topic) === joined)
        this.#channels.delete(joined.topic);
    });
    void channel.add(subscription, this.#abort.signal);
    // A topic without a value: ask the service now rather than at the end of a held long-poll.
    if (isNew || channel.currentVersion === undefined) this.#poller.poke();
    // Subscribing during an outage: no poll will serve it soon, so start it from the fallbacks now.
    if (this.#started && this.#poller.consecutiveFailures >= this.#o.maxRetries)
      this.#runChain(channel, () => true);
    return subscription;
  }

  #subscriptions(): SubscriptionCore[] {
    return [...this.#channels.values()].flatMap((c) => c.subscriptions).filter((s) => !s.closed);
  }

  /**
   * Every topic, except in long-poll mode a topic that overdue work keeps from its target
   * (TopicChannel.inPolls), which goes in one poll per poll interval at most. Reported in every poll, the
   * version it still runs would have the service answer each one at once with the target already
   * waiting behind that work, and the loop back off for every topic. Reported now and then, its consumer
   * status on the service stays true (the node lags on it), at the cost of one poll answered at once.
   * When every topic is in that state there is nothing to hold a poll for: they all go in, and the loop
   * backs off up to the interval as after any answer that changes nothing. A topic is polled again as
   * soon as its work finishes (see #onApplyOverdue).
   */
  #pollTopics(): PollTopic[] {
    const o = this.#o;
    const now = o.clock.now();
    const topics: PollTopic[] = [];
    let heldBack: TopicChannel[] | undefined;
    for (const c of this.#channels.values()) {
      if (o.pollMode === 'long-poll' && !c.inPolls && now - c.polledAt < o.pollIntervalMs) {
        (heldBack ??= []).push(c);
        continue;
      }
      c.polledAt = now;
      topics.push({ topic: c.topic, currentVersion: c.currentVersion });
    }
    if (topics.length === 0 && heldBack)
      for (const c of heldBack) {
        c.polledAt = now;
        topics.push({ topic: c.topic, currentVersion: c.currentVersion });
      }
    return topics;
  }

  #awaitingFirstAnswer(): boolean {
    for (const channel of this.#channels.values())
      if (channel.currentVersion === undefined && !channel.overdue && channel.someUnvalued(isPending))
        return true;
    return false;
  }

  /**
   * Offers each polled topic's update to its channel, all channels at once. Synchronous when every offer
   * is (inline bytes, synchronous decoders): with one topic, the usual proxy, an answer then costs no
   * Map, Promise.all or promise at all.
   */
  #onUpdates(
    updates: PollUpdate[],
    polled: readonly PollTopic[],
    signal: AbortSignal,
  ): boolean | Promise<boolean> {
    const find = updateFinder(updates);
    let progress = false;
    let pending: Promise<boolean>[] | undefined;
    for (const { topic, currentVersion } of polled) {
      const channel = this.#channels.get(topic);
      if (!channel) continue;
      const update = find(topic);
      if (!update) {
        // The service answered and has nothing for this node: the default is the right value. (A topic
        // with a value has nothing new; a subscription that just joined it is being handed that value.)
        // Only for a poll that reported no version: "nothing newer than 7" says nothing about a channel
        // closed and created again since the poll went out.
        if (currentVersion === undefined && channel.currentVersion === undefined)
          for (const s of channel.unvalued) s.markStarted('default');
        continue;
      }
      const applied = this.#offerUpdate(channel, update, signal);
      if (typeof applied === 'boolean') progress ||= applied;
      // A topic whose work outlasted an earlier poll's bound (in a poll sent before it was left out) is
      // not waited for until that work is done (its target waits its turn on the channel).
      else if (!channel.overdue) (pending ??= []).push(applied);
    }
    if (!pending) return progress;
    return Promise.all(pending).then((applied) => progress || applied.some(Boolean));
  }

  #offerUpdate(channel: TopicChannel, update: PollUpdate, signal: AbortSignal): boolean | Promise<boolean> {
    const outcome = channel.offerWithHistory(
      { version: update.version, pinned: update.pinned, record: update.record, source: 'service' },
      signal,
    );
    // Folded into the target already waiting on the channel: whoever offered that one follows it up.
    if (outcome === 'queued') return false;
    return typeof outcome === 'string'
      ? this.#afterOffer(channel, outcome)
      : outcome.then((settled) => this.#afterOffer(channel, settled));
  }

  /**
   * The poll loop stopped waiting for this answer to be applied: marks the topics whose work is still
   * under way (see TopicChannel.markOverdue) and returns them, for the log and the metrics.
   */
  #onApplyOverdue(updates: readonly PollUpdate[]): string[] {
    const topics: string[] = [];
    for (const { topic } of updates)
      if (this.#channels.get(topic)?.markOverdue(this.#pokePoller)) topics.push(topic);
    return topics;
  }

  readonly #pokePoller = (): void => this.#poller.poke();

  #afterOffer(channel: TopicChannel, outcome: OfferOutcome): boolean {
    // Neither the target nor older versions worked for some subscription: start it from the fallbacks.
    if (channel.someUnvalued(isPending)) this.#runChain(channel, isPending, () => true);
    return outcome === 'applied';
  }

  #onFailure(failures: number): void {
    const max = this.#o.maxRetries;
    // Retries exhausted: serve subscriptions without a value from the fallbacks; again every `max` more
    // failures, for those still without one (the fallback cache may have been unreachable too).
    if (failures >= max && (failures - max) % max === 0) this.#runChains(() => true);
  }

  /** The startup bound passed: what is still pending and not being looked up settles on its default. */
  #onStartupBound(): void {
    this.#boundPassed = true;
    for (const channel of this.#channels.values())
      if (!this.#chainsRunning.has(channel.topic)) settleOnDefault(channel, this.#chainDeps);
  }

  /**
   * Whether a fallback run that found nothing settles on the default: yes once the service is known to
   * be unreachable (retries exhausted) or the startup bound has passed; a run at half the bound keeps
   * the subscription pending, since the service may still answer in time.
   */
  #mayConcludeDefault(): boolean {
    return this.#boundPassed || this.#poller.consecutiveFailures >= this.#o.maxRetries;
  }

  /**
   * Before the startup bound, how long a fallback cache lookup and its hit's download may run before the
   * disk cache is used instead: what is left of the bound less a margin (a tenth of it, at most
   * STARTUP_DISK_MARGIN_MS) for reading, verifying and decoding the local copy. After the bound the
   * lookup gets its whole budget.
   */
  #diskAfterMs(): number | undefined {
    if (this.#boundPassed || !this.#started) return undefined;
    const bound = this.#o.startupTimeoutMs;
    const margin = Math.min(STARTUP_DISK_MARGIN_MS, Math.floor(bound / 10));
    return Math.max(0, this.#startedAt + bound - margin - this.#clock.now());
  }

  #runChains(which: (s: SubscriptionCore) => boolean): void {
    for (const channel of this.#channels.values()) this.#runChain(channel, which);
  }

  #runChain(
    channel: TopicChannel,
    which: (s: SubscriptionCore) => boolean,
    conclude: () => boolean = () => this.#mayConcludeDefault(),
  ): void {
    if (this.#abort.signal.aborted || this.#chainsRunning.has(channel.topic)) return;
    if (!channel.someUnvalued(which)) return;
    const run = startFromFallbacks(
      channel,
      this.#chainDeps,
      this.#abort.signal,
      conclude,
      this.#diskAfterMs(),
    )
      .catch((err: unknown) => this.#logger.error({ err, topic: channel.topic }, 'fallback start failed'))
      .finally(() => this.#chainsRunning.delete(channel.topic));
    this.#chainsRunning.set(channel.topic, run);
  }

  #report(subscriptions: readonly SubscriptionCore[], ready: boolean): ReadyReport {
    return {
      ready,
      subscriptions: subscriptions.map((s) => ({
        topic: s.topic,
        version: s.version,
        source: s.startedFrom,
      })),
    };
  }
}

const isPending = (s: SubscriptionCore): boolean => s.startedFrom === 'pending';
