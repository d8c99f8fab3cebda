import type { Clock, TimerHandle } from '../core/clock.js';

/**
 * Enforces one deadline at a time with one timer that outlives the deadlines it watches. Arming a later
 * deadline than the timer's leaves the timer as it is: when it fires early it re-arms for what is left.
 * A poll loop that sets a deadline per request and nearly always clears it long before (a long-poll
 * answered after a second, bounded at minutes) thus costs no timer per request: the timer fires about
 * once per bound instead.
 *
 * `onExpired` runs at exactly the deadline on the clock (never before), as a timer armed for it would.
 */
export class DeadlineWatch {
  readonly #clock: Clock;
  readonly #onExpired: () => void;
  /** When the current deadline expires; undefined when nothing is watched. */
  #deadline: number | undefined;
  #timer: TimerHandle | undefined;
  /** When the timer fires. */
  #timerDue = 0;

  constructor(clock: Clock, onExpired: () => void) {
    this.#clock = clock;
    this.#onExpired = onExpired;
  }

  /** Watches a deadline `ms` from now, replacing the previous one. */
  set(ms: number): void {
    const deadline = this.#clock.now() + ms;
    this.#deadline = deadline;
    // A timer due no later than the deadline will get there (re-arming if early); a later one would not.
    if (this.#timer && this.#timerDue <= deadline) return;
    this.#arm(deadline);
  }

  /** Stops watching the deadline; the timer, if any, stays until it fires or is disposed. */
  clear(): void {
    this.#deadline = undefined;
  }

  /** Stops watching and clears the timer. */
  dispose(): void {
    this.#deadline = undefined;
    if (this.#timer) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(due: number): void {
    if (this.#timer) this.#clock.clearTimeout(this.#timer);
    this.#timerDue = due;
    this.#timer = this.#clock.setTimeout(this.#fire, due - this.#clock.now());
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const deadline = this.#deadline;
    if (deadline === undefined) return;
    if (this.#clock.now() < deadline) {
      this.#arm(deadline);
      return;
    }
    this.#deadline = undefined;
    this.#onExpired();
  };
}
