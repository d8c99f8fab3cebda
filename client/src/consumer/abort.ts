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
 * Resolves true once `promise` settles, or false after `ms` on `clock` if it has not by then (it is not
 * cancelled: for waiting on work that takes no signal).
 */
export function settlesWithin(promise: Promise<unknown>, clock: Clock, ms: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const timer = clock.setTimeout(() => resolve(false), ms);
    const settled = () => {
      clock.clearTimeout(timer);
      resolve(true);
    };
    promise.then(settled, settled);
  });
}

/** What `watchAbort` tells when its signal aborts. */
export interface AbortWatcher {
  aborted(): void;
}

/** One abort listener on a signal, telling the watchers registered at that moment. */
class AbortFanOut {
  readonly watchers = new Set<AbortWatcher>();
  // A watcher removes itself as it handles the abort; a Set allows that while it is being iterated.
  readonly listener = (): void => {
    for (const watcher of this.watchers) watcher.aborted();
  };
}

/**
 * The watchers of each signal. A poller's controller serves poll after poll until something aborts it
 * (`isReusable`), and adding then removing a listener on Node's EventTarget cost 2 to 3 µs per request,
 * a few percent of a subscriber's CPU per applied update: one listener per signal instead, added the
 * first time a request watches it.
 */
const fanOuts = new WeakMap<AbortSignal, AbortFanOut>();

/** Tells `watcher` when `signal` aborts, until `unwatchAbort`. The signal must not have aborted yet. */
export function watchAbort(signal: AbortSignal, watcher: AbortWatcher): void {
  let fanOut = fanOuts.get(signal);
  if (fanOut === undefined) {
    fanOut = new AbortFanOut();
    fanOuts.set(signal, fanOut);
    signal.addEventListener('abort', fanOut.listener, { once: true });
  }
  fanOut.watchers.add(watcher);
}

export function unwatchAbort(signal: AbortSignal, watcher: AbortWatcher): void {
  fanOuts.get(signal)?.watchers.delete(watcher);
}

/**
 * Whether a controller is as good as new, so the next request may use it: its signal never aborted and
 * nothing listens to it any more but `watchAbort`'s own listener with no watcher left (whoever was handed
 * it removed what it added, as this library's transports do). A new AbortSignal is an EventTarget: a few
 * microseconds and about a kilobyte of garbage, per poll of every subscriber.
 */
export function isReusable(controller: AbortController): boolean {
  const { signal } = controller;
  if (signal.aborted) return false;
  const listeners = getEventListeners(signal, 'abort');
  if (listeners.length === 0) return true;
  const fanOut = fanOuts.get(signal);
  return (
    listeners.length === 1 &&
    fanOut !== undefined &&
    listeners[0] === fanOut.listener &&
    fanOut.watchers.size === 0
  );
}
