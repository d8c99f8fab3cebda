import { getEventListeners } from 'node:events';
import type { Clock, TimerHandle } from '../core/clock.js';
import { UnavailableError } from '../core/errors.js';

/** Thrown into a request the client gave up waiting for. */
export class RequestTimeoutError extends UnavailableError {
  constructor(what: string, ms: number) {
    super(`${what} timed out after ${ms} ms`);
  }
}

export interface ScopedSignal {
  readonly signal: AbortSignal;
  /** Clears the timer and detaches from the parent; call when the request settles. */
  dispose(): void;
}

/**
 * A signal that aborts when `parent` does or after `ms` on `clock` (the injected clock, so a request
 * that never answers is testable without real time passing).
 */
export function timeoutSignal(parent: AbortSignal, clock: Clock, ms: number, what: string): ScopedSignal {
  const controller = new AbortController();
  const onParent = () => controller.abort(parent.reason);
  if (parent.aborted) onParent();
  else parent.addEventListener('abort', onParent, { once: true });
  const timer: TimerHandle = clock.setTimeout(() => controller.abort(new RequestTimeoutError(what, ms)), ms);
  return {
    signal: controller.signal,
    dispose() {
      clock.clearTimeout(timer);
      parent.removeEventListener('abort', onParent);
    },
  };
}

/** Rejects as soon as `signal` aborts, with its reason: for awaiting something that ignores signals. */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Whether a controller is as good as new, so the next request may use it: its signal never aborted and
 * nothing listens to it any more (whoever was handed it removed what it added, as this library's
 * transports do). A new AbortSignal is an EventTarget: a few microseconds and about a kilobyte of
 * garbage, per poll of every subscriber.
 */
export function isReusable(controller: AbortController): boolean {
  return !controller.signal.aborted && getEventListeners(controller.signal, 'abort').length === 0;
}
