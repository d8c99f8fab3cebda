import { createBackoff } from '../consumer/backoff.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { MeshRetryPolicy } from '../mesh/index.js';
import { Cancellation } from './cancellation.js';
import type { Rejection } from './errors.js';
import { type AttemptFailure, isRetriableFailure, isRetriableStatus } from './retry-policy.js';

/** Why an attempt's signal was aborted: the reason object tells attempts and the runner apart. */
export class AttemptAbort extends Error {
  constructor(readonly why: 'per-try-timeout' | 'route-timeout' | 'cancelled') {
    super(`attempt aborted: ${why}`);
    this.name = 'AttemptAbort';
  }
}

// Shared instances: an abort costs no allocation and is recognised by identity.
export const PER_TRY_TIMEOUT = new AttemptAbort('per-try-timeout');
export const ROUTE_TIMEOUT = new AttemptAbort('route-timeout');
export const CANCELLED = new AttemptAbort('cancelled');

/** What one attempt produced. `local` is a refusal by the sidecar itself (overflow, no healthy endpoint). */
export type AttemptResult<R> =
  | { readonly kind: 'response'; readonly status: number; readonly response: R }
  | { readonly kind: 'failure'; readonly failure: AttemptFailure; readonly error?: unknown }
  | { readonly kind: 'local'; readonly rejection: Rejection };

export type RetryOutcome<R> =
  | {
      readonly kind: 'response';
      readonly status: number;
      readonly response: R;
      readonly attempts: number;
      /** The attempt's signal: aborted if a timeout fires (or the caller leaves) while the body streams. */
      readonly signal: Cancellation;
      /** Call once the response body is done: disarms the timers still covering it. */
      readonly settle: () => void;
    }
  | {
      readonly kind: 'failure';
      readonly failure: AttemptFailure;
      readonly attempts: number;
      readonly error?: unknown;
    }
  | { readonly kind: 'local'; readonly rejection: Rejection; readonly attempts: number }
  /** The route timeout passed. */
  | { readonly kind: 'timeout'; readonly attempts: number }
  /** The downstream caller went away. */
  | { readonly kind: 'cancelled'; readonly attempts: number };

export interface RetryParams<R> {
  readonly clock: Clock;
  readonly random: () => number;
  /** Whole-request budget, retries and backoff included. */
  readonly timeoutMs: number;
  /** Undefined: one attempt, bounded by `timeoutMs` only. */
  readonly policy: MeshRetryPolicy | undefined;
  /**
   * The request's cancellation, shared to save an allocation per request: the caller aborts it (with
   * CANCELLED, or any reason) when the downstream goes away; the runner aborts it with ROUTE_TIMEOUT.
   */
  readonly controller: Cancellation;
  /** Runs attempt `attempt` (1-based); must give up when `signal` aborts. */
  readonly attempt: (attempt: number, signal: Cancellation) => Promise<AttemptResult<R>>;
  /** Throws away a response that will not be used (its body must be released). */
  readonly discard: (response: R) => void;
  /** Called before each retry (for counters). */
  readonly onRetry?: (attempt: number, reason: AttemptFailure | number) => void;
}

const ABORTED = Symbol('aborted');

/**
 * Runs attempts until one gives a response that is not retried, the retries run out, or the route
 * timeout passes. Each attempt runs under its per-try timeout (capped by the time left); retries wait a
 * fully jittered exponential backoff (Envoy's: uniform in [0, min(max, base·2^n)]), never past the
 * route timeout. The timers of the final attempt stay armed while its body streams, until `settle()`.
 */
export async function runWithRetries<R>(p: RetryParams<R>): Promise<RetryOutcome<R>> {
  const overall = p.controller;
  if (overall.aborted) return { kind: endedBy(overall)!, attempts: 0 };
  const run = new Timers(p.clock, overall, p.timeoutMs, p.policy);
  const maxAttempts = 1 + (p.policy?.maxRetries ?? 0);

  for (let attempts = 1; ; attempts++) {
    const ended = endedBy(overall);
    if (ended) {
      run.finish();
      return { kind: ended, attempts: attempts - 1 };
    }
    const tryCtl = run.startAttempt();
    const result = await raceAbort(p.attempt(attempts, tryCtl), tryCtl, p.discard);

    if (result === ABORTED || (result.kind === 'failure' && tryCtl.aborted)) {
      run.endAttempt();
      if (tryCtl.reason !== PER_TRY_TIMEOUT) {
        run.finish();
        return { kind: endedBy(tryCtl)!, attempts };
      }
      // The per-try timeout ended this attempt.
      if (attempts < maxAttempts && isRetriableFailure('timeout', p.policy!.retryOn)) {
        p.onRetry?.(attempts, 'timeout');
        if (await run.backoff(attempts - 1, p.random)) continue;
        run.finish();
        return { kind: endedBy(overall) ?? 'timeout', attempts };
      }
      run.finish();
      return { kind: 'failure', failure: 'timeout', attempts };
    }

    if (result.kind === 'local') {
      run.settle();
      return { kind: 'local', rejection: result.rejection, attempts };
    }

    if (result.kind === 'response') {
      if (attempts < maxAttempts && isRetriableStatus(result.status, p.policy!.retryOn)) {
        p.discard(result.response);
        run.endAttempt();
        p.onRetry?.(attempts, result.status);
        if (await run.backoff(attempts - 1, p.random)) continue;
        run.finish();
        return { kind: endedBy(overall) ?? 'timeout', attempts };
      }
      return {
        kind: 'response',
        status: result.status,
        response: result.response,
        attempts,
        signal: tryCtl,
        settle: run.settle,
      };
    }

    run.endAttempt();
    if (attempts < maxAttempts && isRetriableFailure(result.failure, p.policy!.retryOn)) {
      p.onRetry?.(attempts, result.failure);
      if (await run.backoff(attempts - 1, p.random)) continue;
      run.finish();
      return { kind: endedBy(overall) ?? 'timeout', attempts };
    }
    run.finish();
    return result.error === undefined
      ? { kind: 'failure', failure: result.failure, attempts }
      : { kind: 'failure', failure: result.failure, attempts, error: result.error };
  }
}

/**
 * The timers and controllers of one request's attempts, as one object rather than a closure each (on a
 * proxy's request path they were a large share of its allocations).
 *
 * The route timer is armed only once something could outlive the deadline: an attempt without a shorter
 * per-try timeout of its own, or a backoff. An attempt whose per-try timer falls due before the deadline
 * is ended by that timer first, so a request that succeeds at once arms one timer.
 */
class Timers {
  readonly #clock: Clock;
  readonly #overall: Cancellation;
  readonly #deadline: number;
  readonly #policy: MeshRetryPolicy | undefined;
  #routeTimer: TimerHandle | undefined = undefined;
  /** The current attempt's own controller, when it has a per-try timeout. */
  #try: Cancellation | undefined = undefined;
  #tryTimer: TimerHandle | undefined = undefined;
  #forward: (() => void) | undefined = undefined;
  #onTryTimeout: (() => void) | undefined = undefined;
  #backoff: ((retry: number) => number) | undefined = undefined;
  #settled = false;

  constructor(clock: Clock, overall: Cancellation, timeoutMs: number, policy: MeshRetryPolicy | undefined) {
    this.#clock = clock;
    this.#overall = overall;
    this.#deadline = clock.now() + timeoutMs;
    this.#policy = policy;
  }

  /** The signal of the next attempt: its own under a per-try timeout shorter than the time left. */
  startAttempt(): Cancellation {
    const policy = this.#policy;
    if (policy === undefined || policy.perTryTimeoutMs >= this.#deadline - this.#clock.now()) {
      this.#armRouteTimer();
      return this.#overall;
    }
    const own = new Cancellation();
    this.#try = own;
    this.#forward ??= () => this.#try?.abort(this.#overall.reason);
    this.#onTryTimeout ??= () => this.#try?.abort(PER_TRY_TIMEOUT);
    this.#overall.addAbortListener(this.#forward);
    this.#tryTimer = this.#clock.setTimeout(this.#onTryTimeout, policy.perTryTimeoutMs);
    return own;
  }

  /** Disarms the current attempt's per-try timer. */
  endAttempt(): void {
    if (this.#try === undefined) return;
    this.#clock.clearTimeout(this.#tryTimer!);
    this.#overall.removeAbortListener(this.#forward!);
    this.#try = undefined;
    this.#tryTimer = undefined;
  }

  /** Disarms the route timer: the request is over (or its body is). */
  finish(): void {
    if (this.#routeTimer !== undefined) this.#clock.clearTimeout(this.#routeTimer);
    this.#routeTimer = undefined;
  }

  /** Ends the last attempt and the request; idempotent. Bound, as the outcome's `settle`. */
  readonly settle = (): void => {
    if (this.#settled) return;
    this.#settled = true;
    this.endAttempt();
    this.finish();
  };

  /** Waits the backoff before retry `retry` (0-based); false when the request ended first. */
  backoff(retry: number, random: () => number): Promise<boolean> {
    this.#armRouteTimer();
    const policy = this.#policy!;
    // Made on the first retry: most requests never need it.
    this.#backoff ??= createBackoff({
      baseMs: policy.backoff.baseIntervalMs,
      capMs: policy.backoff.maxIntervalMs,
      random,
    });
    return pause(this.#backoff(retry), this.#overall, this.#clock);
  }

  #armRouteTimer(): void {
    if (this.#routeTimer !== undefined) return;
    const overall = this.#overall;
    this.#routeTimer = this.#clock.setTimeout(
      () => overall.abort(ROUTE_TIMEOUT),
      this.#deadline - this.#clock.now(),
    );
  }
}

/** Whether, and why, the whole request ended: only the route timeout is a timeout, anything else the caller. */
function endedBy(signal: Cancellation): 'timeout' | 'cancelled' | undefined {
  if (!signal.aborted) return undefined;
  return signal.reason === ROUTE_TIMEOUT ? 'timeout' : 'cancelled';
}

/**
 * The attempt's result, or ABORTED as soon as its signal aborts, even if the attempt ignores the signal.
 * A response that arrives after that is discarded, so its connection and circuit slot are released.
 */
function raceAbort<R>(
  work: Promise<AttemptResult<R>>,
  signal: Cancellation,
  discard: (response: R) => void,
): Promise<AttemptResult<R> | typeof ABORTED> {
  return new Promise((resolve) => {
    let done = false;
    const onAbort = () => {
      if (done) return;
      done = true;
      resolve(ABORTED);
    };
    signal.addAbortListener(onAbort);
    work.then(
      (result) => {
        if (done) {
          if (result.kind === 'response') discard(result.response);
          return;
        }
        done = true;
        signal.removeAbortListener(onAbort);
        resolve(result);
      },
      (error: unknown) => {
        if (done) return;
        done = true;
        signal.removeAbortListener(onAbort);
        resolve({ kind: 'failure', failure: 'reset', error });
      },
    );
  });
}

/** Waits `ms` on the clock; false when `signal` aborts first. */
function pause(ms: number, signal: Cancellation, clock: Clock): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = clock.setTimeout(() => {
      remove();
      resolve(true);
    }, ms);
    const remove = signal.onAbort(() => {
      clock.clearTimeout(timer);
      resolve(false);
    });
  });
}
