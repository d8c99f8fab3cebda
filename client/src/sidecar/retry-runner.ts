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
  const { clock, policy } = p;
  const overall = p.controller;
  if (overall.aborted) return { kind: endedBy(overall)!, attempts: 0 };
  const deadline = clock.now() + p.timeoutMs;
  // The route timer is armed only once something could outlive the deadline: an attempt without a
  // shorter per-try timeout of its own, or a backoff. An attempt whose per-try timer falls due before
  // the deadline is ended by that timer first, so a request that succeeds at once arms one timer.
  let routeTimer: TimerHandle | undefined;
  const armRouteTimer = () => {
    routeTimer ??= clock.setTimeout(() => overall.abort(ROUTE_TIMEOUT), deadline - clock.now());
  };
  const finish = () => {
    if (routeTimer !== undefined) clock.clearTimeout(routeTimer);
  };
  const maxAttempts = 1 + (policy?.maxRetries ?? 0);
  let backoff: ((retry: number) => number) | undefined;
  // Made on the first retry: most requests never need it.
  const backoffMs = (retry: number) =>
    (backoff ??= createBackoff({
      baseMs: policy!.backoff.baseIntervalMs,
      capMs: policy!.backoff.maxIntervalMs,
      random: p.random,
    }))(retry);
  const wait = (retry: number) => {
    armRouteTimer();
    return pause(backoffMs(retry), overall, clock);
  };

  for (let attempts = 1; ; attempts++) {
    const ended = endedBy(overall);
    if (ended) {
      finish();
      return { kind: ended, attempts: attempts - 1 };
    }
    const remaining = deadline - clock.now();
    // Only a per-try timeout shorter than the time left needs a timer, and a controller, of its own.
    const perTry =
      policy !== undefined && policy.perTryTimeoutMs < remaining ? policy.perTryTimeoutMs : undefined;
    let tryCtl = overall;
    let release = noop;
    if (perTry === undefined) armRouteTimer();
    else {
      const own = new Cancellation();
      const forward = () => own.abort(overall.reason);
      overall.addAbortListener(forward);
      const tryTimer = clock.setTimeout(() => own.abort(PER_TRY_TIMEOUT), perTry);
      tryCtl = own;
      release = () => {
        clock.clearTimeout(tryTimer);
        overall.removeAbortListener(forward);
      };
    }

    const result = await raceAbort(p.attempt(attempts, tryCtl), tryCtl, p.discard);

    if (result === ABORTED || (result.kind === 'failure' && tryCtl.aborted)) {
      release();
      if (tryCtl.reason !== PER_TRY_TIMEOUT) {
        finish();
        return { kind: endedBy(tryCtl)!, attempts };
      }
      // The per-try timeout ended this attempt.
      if (attempts < maxAttempts && isRetriableFailure('timeout', policy!.retryOn)) {
        p.onRetry?.(attempts, 'timeout');
        if (await wait(attempts - 1)) continue;
        finish();
        return { kind: endedBy(overall) ?? 'timeout', attempts };
      }
      finish();
      return { kind: 'failure', failure: 'timeout', attempts };
    }

    if (result.kind === 'local') {
      release();
      finish();
      return { kind: 'local', rejection: result.rejection, attempts };
    }

    if (result.kind === 'response') {
      if (attempts < maxAttempts && isRetriableStatus(result.status, policy!.retryOn)) {
        p.discard(result.response);
        release();
        p.onRetry?.(attempts, result.status);
        if (await wait(attempts - 1)) continue;
        finish();
        return { kind: endedBy(overall) ?? 'timeout', attempts };
      }
      let settled = false;
      return {
        kind: 'response',
        status: result.status,
        response: result.response,
        attempts,
        signal: tryCtl,
        settle: () => {
          if (settled) return;
          settled = true;
          release();
          finish();
        },
      };
    }

    release();
    if (attempts < maxAttempts && isRetriableFailure(result.failure, policy!.retryOn)) {
      p.onRetry?.(attempts, result.failure);
      if (await wait(attempts - 1)) continue;
      finish();
      return { kind: endedBy(overall) ?? 'timeout', attempts };
    }
    finish();
    return result.error === undefined
      ? { kind: 'failure', failure: result.failure, attempts }
      : { kind: 'failure', failure: result.failure, attempts, error: result.error };
  }
}

const noop = () => undefined;

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
