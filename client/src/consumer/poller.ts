import type { Clock, TimerHandle } from '../core/clock.js';
import { ClosedError, type MeshpressError, TooManyRequestsError } from '../core/errors.js';
import type { Identity } from '../core/names.js';
import { asTransportError } from '../core/wire-error.js';
import { RequestTimeoutError } from './abort.js';
import { jitteredInterval } from './backoff.js';
import type { ClientLogger } from './logger.js';
import type { ClientMetrics } from './metrics.js';
import type { PollTopic, PollTransport, PollUpdate } from './transport.js';

export interface PollerHooks {
  /** The topics to poll now, with the version each runs. */
  topics(): PollTopic[];
  /**
   * Whether some subscription still waits for its first answer (its topic has no version and startup
   * has not decided it): such a poll is not held, so the subscription learns at once whether there is a
   * version for it.
   */
  awaitingFirstAnswer(): boolean;
  /** Handles a successful poll's answer; resolves true when some topic switched version. */
  onUpdates(updates: PollUpdate[], polled: readonly PollTopic[], signal: AbortSignal): Promise<boolean>;
  /** After each failed poll, with the count of consecutive failures so far (1, 2, …). */
  onFailure(consecutiveFailures: number, error: MeshpressError): void;
}

export interface PollerOptions {
  readonly transport: PollTransport;
  readonly identity: Identity;
  readonly clock: Clock;
  readonly random: () => number;
  readonly mode: 'interval' | 'long-poll';
  readonly intervalMs: number;
  readonly jitter: number;
  readonly longPollWaitMs: number;
  readonly requestTimeoutMs: number;
  /** Delay before retry attempt n (0-based), already jittered. */
  readonly backoff: (attempt: number) => number;
  readonly metrics: ClientMetrics;
  readonly logger: ClientLogger;
  /** Aborts everything when the client closes. */
  readonly signal: AbortSignal;
}

/** Why a held long-poll was cut short to start a new one (a topic was added). */
class Superseded extends Error {}

/**
 * The poll loop: one request carrying every subscribed topic, then a wait, forever.
 *
 * - interval mode: the wait is the interval spread by ±jitter;
 * - long-poll mode: the next request goes out at once and the server holds it until something changes;
 *   a request made while a subscription still waits for its first answer does not wait (it learns at
 *   once whether there is a version for it), and answers that change nothing back off (capped at the
 *   interval), so a version every subscriber refuses cannot turn the loop into a busy loop;
 * - one poll at a time: a request stays in flight until its answer has been applied, and a topic set
 *   change meanwhile polls again right after;
 * - a failed poll is retried after a capped, jittered exponential backoff, never longer than the
 *   interval, so the client is back within one interval of the service returning.
 *
 * Every timer runs on the injected clock and every request is bounded by a timeout on that clock.
 */
export class Poller {
  readonly #o: PollerOptions;
  readonly #hooks: PollerHooks;
  #timer: TimerHandle | undefined;
  /** The poll under way, from the request until its answer is applied (`holding`: held at the server). */
  #inflight: { controller: AbortController; holding: boolean } | undefined;
  #started = false;
  #consecutiveFailures = 0;
  #startedAt: number | undefined;
  #lastSuccessAt: number | undefined;
  #pokeAfterInflight = false;
  /** Consecutive long-poll answers that changed nothing and came back early. */
  #idleStreak = 0;

  constructor(options: PollerOptions, hooks: PollerHooks) {
    this.#o = options;
    this.#hooks = hooks;
    options.signal.addEventListener('abort', () => this.#stop(), { once: true });
  }

  get consecutiveFailures(): number {
    return this.#consecutiveFailures;
  }

  get lastSuccessAt(): number | undefined {
    return this.#lastSuccessAt;
  }

  /** Seconds since the last successful poll (since start before the first; 0 before start). */
  secondsSinceLastSuccess(): number {
    const since = this.#lastSuccessAt ?? this.#startedAt;
    return since === undefined ? 0 : Math.max(0, this.#o.clock.now() - since) / 1000;
  }

  start(): void {
    if (this.#started || this.#o.signal.aborted) return;
    this.#started = true;
    this.#startedAt = this.#o.clock.now();
    this.#schedule(0);
  }

  /**
   * The topic set changed: poll now rather than at the next tick, so a new subscription gets its first
   * value at once. While the service is failing, the backoff stands.
   */
  poke(): void {
    if (!this.#started || this.#o.signal.aborted) return;
    const inflight = this.#inflight;
    if (inflight) {
      if (this.#consecutiveFailures > 0) return;
      if (inflight.holding) inflight.controller.abort(new Superseded());
      else this.#pokeAfterInflight = true;
      return;
    }
    // A retry already scheduled keeps its backoff; an idle loop (it had no topics) starts again now.
    if (this.#timer && this.#consecutiveFailures > 0) return;
    this.#schedule(0);
  }

  #schedule(delayMs: number): void {
    if (this.#o.signal.aborted) return;
    if (this.#timer) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      void this.#tick();
    }, delayMs);
  }

  async #tick(): Promise<void> {
    const o = this.#o;
    if (o.signal.aborted || this.#inflight) return;
    const topics = this.#hooks.topics();
    // Nothing to poll: stay idle until a subscription pokes.
    if (topics.length === 0) return;

    const waitMs =
      o.mode === 'long-poll' && !this.#hooks.awaitingFirstAnswer() ? o.longPollWaitMs : undefined;
    // One controller per poll, aborted by the timeout, by a superseding poke, or by #stop when the client
    // closes: no signal chain or listeners per poll (a fleet of long-polls re-polls all at once).
    const controller = new AbortController();
    const timeoutMs = o.requestTimeoutMs + (waitMs ?? 0);
    const timeout = o.clock.setTimeout(
      () => controller.abort(new RequestTimeoutError('poll', timeoutMs)),
      timeoutMs,
    );
    const inflight = { controller, holding: (waitMs ?? 0) > 0 };
    this.#inflight = inflight;
    const began = o.clock.now();

    let updates: PollUpdate[];
    try {
      updates = await o.transport.poll({ identity: o.identity, topics, waitMs, signal: controller.signal });
    } catch (error) {
      const superseded = controller.signal.reason instanceof Superseded;
      o.clock.clearTimeout(timeout);
      this.#inflight = undefined;
      if (o.signal.aborted) return;
      if (superseded) return this.#schedule(0);
      return this.#failed(asTransportError(error, 'poll'));
    }
    o.clock.clearTimeout(timeout);
    // Answered: still in flight while the answer is applied (a poke now polls again afterwards rather
    // than overlapping with this answer), but no longer held, so nothing cuts it short.
    inflight.holding = false;
    if (o.signal.aborted) return;

    this.#succeeded();
    o.metrics.poll(updates.length > 0 ? 'update' : 'none');
    let progress = false;
    try {
      progress = await this.#hooks.onUpdates(updates, topics, o.signal);
    } catch (err) {
      o.logger.error({ err }, 'applying a poll answer failed');
    } finally {
      this.#inflight = undefined;
    }
    if (o.signal.aborted) return;
    this.#schedule(this.#delayAfterSuccess(progress, updates.length, waitMs, o.clock.now() - began));
  }

  #succeeded(): void {
    const o = this.#o;
    if (this.#consecutiveFailures > 0)
      o.logger.info({ failures: this.#consecutiveFailures }, 'meshpress service reachable again');
    this.#consecutiveFailures = 0;
    this.#lastSuccessAt = o.clock.now();
  }

  #failed(error: MeshpressError): void {
    const o = this.#o;
    this.#consecutiveFailures += 1;
    const n = this.#consecutiveFailures;
    o.metrics.poll('error');
    const log = { err: error, consecutiveFailures: n };
    if (n === 1) o.logger.warn(log, 'poll failed; retrying with backoff');
    else o.logger.debug(log, 'poll failed again');
    try {
      this.#hooks.onFailure(n, error);
    } catch (err) {
      o.logger.error({ err }, 'poll failure handler threw');
    }
    // Never wait longer than an interval: the service coming back is noticed within one interval.
    let delay = Math.min(o.backoff(n - 1), o.intervalMs);
    // The server's retry-after is honoured up to the interval too: a huge or bogus value must not park
    // the client for hours.
    if (error instanceof TooManyRequestsError)
      delay = Math.max(delay, Math.min(error.retryAfterMs, o.intervalMs));
    this.#pokeAfterInflight = false;
    this.#schedule(delay);
  }

  #delayAfterSuccess(
    progress: boolean,
    updateCount: number,
    waitMs: number | undefined,
    elapsed: number,
  ): number {
    const o = this.#o;
    const interval = () => jitteredInterval(o.intervalMs, o.jitter, o.random);
    if (this.#pokeAfterInflight) {
      this.#pokeAfterInflight = false;
      return 0;
    }
    if (o.mode === 'interval') return interval();
    const heldToTheEnd = waitMs !== undefined && elapsed >= waitMs / 2;
    if (progress || (updateCount === 0 && (waitMs === undefined || heldToTheEnd))) {
      this.#idleStreak = 0;
      return 0;
    }
    // Answered at once with nothing this node could use: a version every subscriber refused (the server
    // keeps offering it, since the node honestly reports the version it still runs), or an early empty
    // answer (a draining server). Back off, as after a failure, up to the interval: no busy loop, yet a
    // fixed version published soon after is still picked up quickly.
    const delay = Math.min(interval(), o.backoff(this.#idleStreak));
    this.#idleStreak += 1;
    return delay;
  }

  #stop(): void {
    if (this.#timer) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#inflight?.controller.abort(this.#o.signal.reason ?? new ClosedError('poller'));
  }
}
