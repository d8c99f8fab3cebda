import type { Clock, TimerHandle } from '../core/clock.js';
import { ClosedError, type MeshpressError, TooManyRequestsError } from '../core/errors.js';
import type { Identity } from '../core/names.js';
import { asTransportError } from '../core/wire-error.js';
import { isReusable, RequestTimeoutError } from './abort.js';
import { jitteredInterval } from './backoff.js';
import { DeadlineWatch } from './deadline-watch.js';
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
  /**
   * Handles a successful poll's answer; true when some topic switched version. A promise only when
   * applying it had to wait for something.
   */
  onUpdates(
    updates: PollUpdate[],
    polled: readonly PollTopic[],
    signal: AbortSignal,
  ): boolean | Promise<boolean>;
  /** After each failed poll, with the count of consecutive failures so far (1, 2, …). */
  onFailure(consecutiveFailures: number, error: MeshpressError): void;
  /**
   * Applying `updates` outlasted the bound and the loop goes on without it: the topics newly found still
   * at it (for the log and the metrics).
   */
  onApplyOverdue(updates: readonly PollUpdate[]): readonly string[];
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
  /** Upper bound of the random delay before the long-poll that follows an update (0: at once). */
  readonly longPollRespreadMs: number;
  readonly requestTimeoutMs: number;
  /** How long applying an answer may hold the loop up (the client: the longer of its request and download timeouts). */
  readonly applyTimeoutMs: number;
  /** Delay before retry attempt n (0-based), already jittered. */
  readonly backoff: (attempt: number) => number;
  readonly metrics: ClientMetrics;
  readonly logger: ClientLogger;
  /** Aborts everything when the client closes. */
  readonly signal: AbortSignal;
}

const NO_TOPICS: readonly PollTopic[] = Object.freeze([]);
const NO_UPDATES: readonly PollUpdate[] = Object.freeze([]);

/** Why a held long-poll was cut short to start a new one (a topic was added). */
class Superseded extends Error {}

/**
 * The poll loop: one request carrying every subscribed topic, then a wait, forever.
 *
 * - interval mode: the wait is the interval spread by ±jitter;
 * - long-poll mode: the next request goes out at once and the server holds it until something changes;
 *   after a held request's answer brought an update it goes out after a random delay up to
 *   longPollRespreadMs, so a fleet answered by one publish does not ask again all in the same instant;
 *   a request made while a subscription still waits for its first answer does not wait (it learns at
 *   once whether there is a version for it), and answers that change nothing back off (capped at the
 *   interval), so a version every subscriber refuses cannot turn the loop into a busy loop;
 * - one poll at a time: a request stays in flight until its answer has been applied, and a topic set
 *   change meanwhile polls again right after; applying is waited for at most applyTimeoutMs, so a
 *   decoder, listener or disk write that never settles stops its own topic, not the loop;
 * - a failed poll is retried after a capped, jittered exponential backoff, never longer than the
 *   interval, so the client is back within one interval of the service returning.
 *
 * Every timer runs on the injected clock and every request is bounded by a timeout on that clock.
 */
export class Poller {
  readonly #o: PollerOptions;
  readonly #hooks: PollerHooks;
  #timer: TimerHandle | undefined;
  /** Aborts the poll under way; set from the request until its answer is applied. */
  #inflight: AbortController | undefined;
  /** Whether the poll under way is held at the server (until it answers). */
  #holding = false;
  /** The bound of the request under way, for its timeout error. */
  #timeoutMs = 0;
  /** The last poll's controller, kept for the next poll when it is as good as new. */
  #spare: AbortController | undefined;
  /** The poll under way: its topics, its wait, when it was sent. */
  #polled: readonly PollTopic[] = NO_TOPICS;
  #waitMs: number | undefined;
  #began = 0;
  readonly #deadline: DeadlineWatch;
  #started = false;
  #consecutiveFailures = 0;
  #startedAt: number | undefined;
  #lastSuccessAt: number | undefined;
  #pokeAfterInflight = false;
  /** Consecutive long-poll answers that changed nothing and came back early. */
  #idleStreak = 0;
  /** The answer being applied, when applying it had to wait for something (see #awaitApply). */
  #applying: Promise<boolean> | undefined;
  #applyingUpdates: readonly PollUpdate[] = NO_UPDATES;

  constructor(options: PollerOptions, hooks: PollerHooks) {
    this.#o = options;
    this.#hooks = hooks;
    // One watch serves both bounds, one at a time: the request's, then the apply's.
    this.#deadline = new DeadlineWatch(options.clock, () => {
      if (this.#applying) this.#applyOverdue();
      else this.#inflight?.abort(new RequestTimeoutError('poll', this.#timeoutMs));
    });
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
      if (this.#holding) inflight.abort(new Superseded());
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
    this.#timer = this.#o.clock.setTimeout(this.#onTimer, delayMs);
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#tick();
  };

  /**
   * Sends one poll. Its answer is taken by callbacks bound once, with the poll's own facts kept in fields
   * (one poll at a time), rather than by an async function suspended for as long as the server holds the
   * poll: a fleet of held long-polls would keep that many frames alive, and the garbage collector would
   * copy each of them before it is dropped.
   */
  #tick(): void {
    const o = this.#o;
    if (o.signal.aborted || this.#inflight) return;
    const topics = this.#hooks.topics();
    // Nothing to poll: stay idle until a subscription pokes.
    if (topics.length === 0) return;

    const waitMs =
      o.mode === 'long-poll' && !this.#hooks.awaitingFirstAnswer() ? o.longPollWaitMs : undefined;
    // One controller per poll, aborted by the deadline, by a superseding poke, or by #stop when the client
    // closes: no signal chain or listeners per poll (a fleet of long-polls re-polls all at once), and no
    // timer per poll either (the deadline watch keeps one). The previous poll's, when nothing aborted it
    // and nothing listens to it any more.
    const controller = this.#spare ?? new AbortController();
    this.#spare = undefined;
    this.#timeoutMs = o.requestTimeoutMs + (waitMs ?? 0);
    this.#deadline.set(this.#timeoutMs);
    this.#inflight = controller;
    this.#holding = (waitMs ?? 0) > 0;
    this.#polled = topics;
    this.#waitMs = waitMs;
    this.#began = o.clock.now();

    let answer: Promise<PollUpdate[]>;
    try {
      answer = o.transport.poll({ identity: o.identity, topics, waitMs, signal: controller.signal });
    } catch (error) {
      answer = Promise.reject(error);
    }
    answer.then(this.#onAnswer, this.#onPollFailed);
  }

  readonly #onPollFailed = (error: unknown): void => {
    const o = this.#o;
    const superseded = this.#inflight?.signal.reason instanceof Superseded;
    this.#deadline.clear();
    this.#release();
    if (o.signal.aborted) return;
    if (superseded) this.#schedule(0);
    else this.#failed(asTransportError(error, 'poll'));
  };

  readonly #onAnswer = (updates: PollUpdate[]): void => {
    const o = this.#o;
    this.#deadline.clear();
    // Answered: still in flight while the answer is applied (a poke now polls again afterwards rather
    // than overlapping with this answer), but no longer held, so nothing cuts it short.
    this.#holding = false;
    if (o.signal.aborted) return;

    this.#succeeded();
    o.metrics.poll(updates.length > 0 ? 'update' : 'none');
    let applied: boolean | Promise<boolean>;
    try {
      applied = this.#hooks.onUpdates(updates, this.#polled, o.signal);
    } catch (err) {
      applied = Promise.reject(err);
    }
    if (typeof applied === 'boolean') this.#applied(applied, updates.length);
    else this.#awaitApply(applied, updates);
  };

  /**
   * Waits for an answer whose applying had to wait for something (a download, an async decoder or
   * listener, a disk cache write), at most applyTimeoutMs (see #applyOverdue). Only this path arms the
   * deadline again: an answer applied at once costs no timer, promise or closure.
   */
  #awaitApply(applying: Promise<boolean>, updates: readonly PollUpdate[]): void {
    const o = this.#o;
    this.#applying = applying;
    this.#applyingUpdates = updates;
    this.#deadline.set(o.applyTimeoutMs);
    applying.then(
      (progress) => this.#appliedLate(applying, progress),
      (err: unknown) => {
        o.logger.error({ err }, 'applying a poll answer failed');
        this.#appliedLate(applying, false);
      },
    );
  }

  /** A waited-for answer is applied; ignored when the loop went on without it, or closed. */
  #appliedLate(applying: Promise<boolean>, progress: boolean): void {
    if (this.#applying !== applying) return;
    const updateCount = this.#applyingUpdates.length;
    this.#deadline.clear();
    this.#applying = undefined;
    this.#applyingUpdates = NO_UPDATES;
    this.#applied(progress, updateCount);
  }

  /**
   * Applying outlasted applyTimeoutMs: a download that slow, or a decoder, listener or disk write that
   * may never settle. Waiting on would stop polling for every topic, with no failure counted and no
   * fallback run. The loop goes on as after a success that changed nothing; the late topics keep their
   * work, and their version, until it finishes, and stop holding this loop up (in long-poll mode the
   * client's topics() also carries them once per interval only, so they do not cut every poll short).
   */
  #applyOverdue(): void {
    const o = this.#o;
    const updates = this.#applyingUpdates;
    this.#applying = undefined;
    this.#applyingUpdates = NO_UPDATES;
    let topics: readonly string[] = [];
    try {
      topics = this.#hooks.onApplyOverdue(updates);
    } catch (err) {
      o.logger.error({ err }, 'overdue apply handler threw');
    }
    for (const topic of topics) o.metrics.applyOverdue?.(topic);
    o.logger.warn(
      { topics, waitedMs: o.applyTimeoutMs },
      'applying a poll answer is overdue (a slow download, or a decoder, listener or disk write that does not settle): polling goes on; these topics keep the version they run until it finishes',
    );
    this.#applied(false, updates.length);
  }

  /** The answer is applied: the poll is over, and the next one is scheduled. */
  #applied(progress: boolean, updateCount: number): void {
    const o = this.#o;
    this.#release();
    this.#polled = NO_TOPICS;
    if (o.signal.aborted) return;
    this.#schedule(this.#delayAfterSuccess(progress, updateCount, this.#waitMs, o.clock.now() - this.#began));
  }

  /** The poll is over: its controller may serve the next one. */
  #release(): void {
    const controller = this.#inflight;
    this.#inflight = undefined;
    if (controller && isReusable(controller)) this.#spare = controller;
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
    if (progress) {
      this.#idleStreak = 0;
      // Only a held poll's answer is the herd case: one publish answered every node holding it at once.
      return waitMs === undefined ? 0 : Math.floor(o.random() * o.longPollRespreadMs);
    }
    if (updateCount === 0 && (waitMs === undefined || heldToTheEnd)) {
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
    this.#deadline.dispose();
    this.#applying = undefined;
    this.#applyingUpdates = NO_UPDATES;
    this.#inflight?.abort(this.#o.signal.reason ?? new ClosedError('poller'));
  }
}
