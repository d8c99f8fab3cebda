/** Time as the rest of meshpress sees it. Inject a ManualClock in tests; never read Date.now() directly. */
export interface Clock {
  now(): number;
  /**
   * Runs `fn` after `ms` (negative or NaN: as soon as possible). Timers never keep the process alive.
   * systemClock waits at most MAX_TIMER_DELAY_MS.
   */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export interface TimerHandle {
  readonly id: unknown;
}

/**
 * The longest delay Node's timers take (2^31 − 1 ms, about 24.8 days). Node fires a timer asked for more
 * after 1 ms, which would turn a long wait into a busy loop; systemClock clamps to this instead.
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const delay = Number.isNaN(ms) ? 0 : Math.min(MAX_TIMER_DELAY_MS, Math.max(0, ms));
    const id = setTimeout(fn, delay);
    id.unref();
    return { id };
  },
  clearTimeout(handle) {
    clearTimeout(handle.id as NodeJS.Timeout);
  },
};

interface ManualTimer {
  readonly id: number;
  readonly due: number;
  readonly fn: () => void;
}

const MAX_TIMERS_PER_INSTANT = 10_000;

/** A clock that moves only when told to; timers fire in due order during `advance`. */
export class ManualClock implements Clock {
  #now: number;
  #nextId = 1;
  #timers = new Map<number, ManualTimer>();

  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.#nextId++;
    // As Node does, a NaN delay means "as soon as possible"; left as NaN it would never fall due.
    const delay = Number.isNaN(ms) ? 0 : Math.max(0, ms);
    this.#timers.set(id, { id, due: this.#now + delay, fn });
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle.id as number);
  }

  /** Number of timers waiting to fire. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`cannot advance a clock by ${ms} ms`);
    const target = this.#now + ms;
    let firedAtInstant = 0;
    for (;;) {
      let next: ManualTimer | undefined;
      for (const timer of this.#timers.values()) {
        if (
          timer.due <= target &&
          (!next || timer.due < next.due || (timer.due === next.due && timer.id < next.id))
        )
          next = timer;
      }
      if (!next) break;
      firedAtInstant = next.due === this.#now ? firedAtInstant + 1 : 1;
      // A timer that re-arms itself with no delay would otherwise spin here forever, and a synchronous
      // loop cannot be interrupted by a test timeout: the whole worker hangs.
      if (firedAtInstant > MAX_TIMERS_PER_INSTANT)
        throw new Error(
          `more than ${MAX_TIMERS_PER_INSTANT} timers fired at instant ${this.#now}: a timer keeps rescheduling itself with no delay`,
        );
      this.#timers.delete(next.id);
      this.#now = Math.max(this.#now, next.due);
      next.fn();
    }
    // A timer may itself have advanced the clock past `target`; time never goes backwards.
    this.#now = Math.max(this.#now, target);
  }

  /** Advances in steps, letting pending promise callbacks run between timers. */
  async advanceAsync(ms: number, step = ms): Promise<void> {
    let left = ms;
    while (left > 0) {
      const delta = Math.min(step, left);
      this.advance(delta);
      left -= delta;
      for (let i = 0; i < 10; i++) await Promise.resolve();
    }
  }
}
