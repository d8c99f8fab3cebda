import type { Clock, TimerHandle } from '@meshpress/client';
import type { AbortLike } from './hang-up.js';
import type { Waiter, WaiterRegistry } from './waiters.js';

/**
 * Interest in changes to some topics, registered when created: `wait` resolves on the first change since
 * registration (at once if one already happened), when `ms` pass, on abort, or on shutdown (the service's
 * close() wakes every registered waiter, so no listener on a shutdown signal is needed: one per held poll
 * made each new long-poll cost O(held polls) to register).
 *
 * One object per held poll, its own registry entry and abort listener (`handleEvent`): thousands are held
 * at once and each survives the young-generation collections that run while a fleet re-polls after a
 * publish, where the closures this replaced (registration, wake, wait, finish and their contexts) had to
 * be copied too.
 */
export class TopicWatch implements Waiter {
  registered = false;
  #fired = false;
  #resolve: (() => void) | undefined;
  #timer: TimerHandle | undefined;
  #signal: AbortLike | undefined;
  readonly #registry: WaiterRegistry;
  readonly #clock: Clock;

  constructor(
    readonly topics: readonly string[],
    registry: WaiterRegistry,
    clock: Clock,
  ) {
    this.#registry = registry;
    this.#clock = clock;
    registry.add(this);
  }

  wait(ms: number, signal?: AbortLike): Promise<void> {
    if (this.#fired) {
      this.cancel();
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      this.#resolve = resolve;
      this.#timer = this.#clock.setTimeout(() => this.#finish(), ms);
      if (signal) {
        this.#signal = signal;
        signal.addEventListener('abort', this, { once: true });
      }
    });
  }

  /** Unregisters without resolving anything (the poll answered without waiting). */
  cancel(): void {
    this.#registry.remove(this);
  }

  /** Called by the registry on a change to one of the topics (it has removed this watch already). */
  wake(): void {
    this.#fired = true;
    this.#finish();
  }

  /** The abort listener. */
  handleEvent(): void {
    this.#finish();
  }

  #finish(): void {
    const resolve = this.#resolve;
    if (resolve === undefined) return;
    this.#resolve = undefined;
    this.cancel();
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#signal?.removeEventListener('abort', this);
    resolve();
  }
}
