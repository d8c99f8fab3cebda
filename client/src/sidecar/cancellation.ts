/**
 * The request path's cancellation signal. AbortController + AbortSignal (an EventTarget) cost about a
 * tenth of the proxy's CPU per request; an EventEmitter less, but still a `once` wrapper per listener.
 * This keeps its listeners in a plain array. undici accepts it as a request `signal` (it reads `aborted`
 * and `reason` and calls addEventListener / removeEventListener).
 */
export class Cancellation {
  aborted = false;
  reason: unknown = undefined;
  // Usually zero to two listeners: an array, created on first use.
  #listeners: (() => void)[] | undefined = undefined;

  /** Aborts once, with `reason`; later calls do nothing. Listeners run in the order they were added. */
  abort(reason?: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.#listeners;
    if (listeners === undefined) return;
    this.#listeners = undefined;
    for (const listener of listeners) listener();
  }

  /** Runs `listener` once when aborted (at once if already); remove it with `removeAbortListener`. */
  addAbortListener(listener: () => void): void {
    if (this.aborted) {
      listener();
      return;
    }
    if (this.#listeners === undefined) this.#listeners = [listener];
    else this.#listeners.push(listener);
  }

  removeAbortListener(listener: () => void): void {
    const listeners = this.#listeners;
    if (listeners === undefined) return;
    // Two or three listeners at most: shifting by hand is cheaper than splice.
    const last = listeners.length - 1;
    const i = listeners.lastIndexOf(listener);
    if (i < 0) return;
    for (let j = i; j < last; j++) listeners[j] = listeners[j + 1]!;
    listeners.pop();
  }

  /** Runs `listener` once when aborted (at once if already); returns a function that removes it. */
  onAbort(listener: () => void): () => void {
    if (this.aborted) {
      listener();
      return noop;
    }
    this.addAbortListener(listener);
    return () => this.removeAbortListener(listener);
  }

  /** The EventTarget shape undici uses for a request `signal` ('abort' only, always once). */
  addEventListener(type: string, listener: () => void): void {
    if (type === 'abort' && !this.aborted) this.addAbortListener(listener);
  }

  removeEventListener(type: string, listener: () => void): void {
    if (type === 'abort') this.removeAbortListener(listener);
  }
}

const noop = () => undefined;
