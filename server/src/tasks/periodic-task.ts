import { type Clock, ClosedError, parseOrThrow, type TimerHandle } from '@meshpress/client';
import type { Logger } from 'pino';
import { z } from 'zod';
import { LeaseLostError } from './errors.js';
import { InProcessLeadership, type Leadership } from './leadership.js';

/** Lease length as a multiple of the interval: the leader renews every interval, with room for slow runs. */
export const DEFAULT_LEASE_INTERVALS = 3;

const periodicTaskOptionsSchema = z.object({
  /** Names the task in logs and in the leadership lock. */
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,99}$/, 'task names are 1-100 characters of a-z 0-9 . _ -'),
  intervalMs: z.number().int().positive(),
  /** Delay before the first scheduled run; defaults to intervalMs. */
  initialDelayMs: z.number().int().min(0).optional(),
  /** Defaults to DEFAULT_LEASE_INTERVALS × intervalMs; must outlast the gap between two runs. */
  leaseMs: z.number().int().positive().optional(),
});

/** What one iteration is told besides its signal. */
export interface TaskIteration {
  /**
   * Throws why the iteration must stop, if it must: the task closed, or the iteration runs as the lease
   * holder and the lease is lost or no longer surely held (a pause can outlast the lease before any
   * renewal notices). Call right before an effect that a successor's run could contradict.
   */
  assertCurrent(): void;
}

export interface PeriodicTaskOptions<T> extends z.input<typeof periodicTaskOptionsSchema> {
  /**
   * One iteration. `signal` aborts when the task is closed and, for an iteration run as the lease holder,
   * when the lease is lost (LeaseLostError as the reason): stop early then.
   */
  readonly run: (signal: AbortSignal, iteration: TaskIteration) => Promise<T>;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Defaults to InProcessLeadership (always the leader). */
  readonly leadership?: Leadership | undefined;
}

/** The iteration running now: its own abort, and whether it runs as the lease holder. */
interface Running {
  readonly controller: AbortController;
  readonly leased: boolean;
}

/**
 * Runs a task every `intervalMs` on the instance holding its lease. Iterations never overlap, scheduled or
 * forced (runNow): the next is scheduled only after the previous finished, counting the interval from its
 * start. A failing iteration is logged and the schedule goes on. When the leadership reports the lease
 * lost, an iteration running as its holder is aborted: another instance may be running the task already.
 */
export class PeriodicTask<T> {
  readonly name: string;
  readonly #intervalMs: number;
  readonly #initialDelayMs: number;
  readonly #leaseMs: number;
  readonly #run: (signal: AbortSignal, iteration: TaskIteration) => Promise<T>;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #leadership: Leadership;
  readonly #abort = new AbortController();
  /** Chain of iterations; each starts after the previous settles. */
  #tail: Promise<unknown> = Promise.resolve();
  #tick: Promise<void> | undefined;
  #timer: TimerHandle | undefined;
  readonly #unsubscribe: (() => void) | undefined;
  #running: Running | undefined;
  #leader = false;
  #started = false;
  #closing: Promise<void> | undefined;

  constructor(options: PeriodicTaskOptions<T>) {
    const parsed = parseOrThrow(periodicTaskOptionsSchema, options, 'periodic task options');
    this.name = parsed.name;
    this.#intervalMs = parsed.intervalMs;
    this.#initialDelayMs = parsed.initialDelayMs ?? parsed.intervalMs;
    this.#leaseMs = parsed.leaseMs ?? DEFAULT_LEASE_INTERVALS * parsed.intervalMs;
    this.#run = options.run;
    this.#clock = options.clock;
    this.#logger = options.logger.child({ task: parsed.name });
    this.#leadership = options.leadership ?? new InProcessLeadership();
    this.#unsubscribe = this.#leadership.onLost?.((task) => {
      if (task === this.name) this.#lost();
    });
  }

  /** Starts the schedule. Idempotent. */
  start(): void {
    if (this.#started || this.#closing) return;
    this.#started = true;
    this.#schedule(this.#initialDelayMs);
  }

  /**
   * Runs one iteration now, on this instance whatever the leadership (an explicit request: an operator,
   * startup, a test). Waits for a running iteration to finish first.
   */
  runNow(): Promise<T> {
    if (this.#closing) return Promise.reject(new ClosedError(`task ${this.name}`));
    return this.#exclusive();
  }

  /** Stops the schedule, aborts and awaits the running iteration, then releases the lease. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#timer) this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#unsubscribe?.();
      this.#abort.abort(new ClosedError(`task ${this.name}`));
      await this.#tick;
      await this.#tail;
      if (this.#leader) {
        this.#leader = false;
        await this.#leadership
          .release(this.name)
          .catch((err: unknown) => this.#logger.warn({ err }, 'could not release the task lease'));
      }
    })();
    return this.#closing;
  }

  #exclusive(): Promise<T> {
    const run = this.#tail.then(() => this.#iteration());
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #iteration(): Promise<T> {
    const closed = this.#abort.signal;
    const controller = new AbortController();
    const onClose = () => controller.abort(closed.reason);
    if (closed.aborted) onClose();
    else closed.addEventListener('abort', onClose, { once: true });
    // As the holder when this instance holds the lease now: every scheduled run, and a runNow on the leader.
    const running: Running = {
      controller,
      leased: this.#leader || (this.#leadership.holds?.(this.name) ?? false),
    };
    this.#running = running;
    try {
      return await this.#run(controller.signal, { assertCurrent: () => this.#assertCurrent(running) });
    } finally {
      closed.removeEventListener('abort', onClose);
      if (this.#running === running) this.#running = undefined;
    }
  }

  #assertCurrent(running: Running): void {
    const { controller, leased } = running;
    // The local deadline may pass before a renewal reports the loss (this process was paused).
    if (leased && !controller.signal.aborted && this.#leadership.holds?.(this.name) === false)
      controller.abort(new LeaseLostError(this.name));
    controller.signal.throwIfAborted();
  }

  #lost(): void {
    this.#leader = false;
    const running = this.#running;
    if (!running?.leased || running.controller.signal.aborted) return;
    this.#logger.warn('task lease lost; stopping the running iteration');
    running.controller.abort(new LeaseLostError(this.name));
  }

  #schedule(delayMs: number): void {
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#tick = this.#iterate();
    }, delayMs);
  }

  async #iterate(): Promise<void> {
    const started = this.#clock.now();
    try {
      if (!(await this.#acquire()) || this.#closing) return;
      await this.#exclusive();
    } catch (err) {
      if (err instanceof LeaseLostError) this.#logger.warn('iteration stopped: the task lease was lost');
      else if (!this.#closing)
        this.#logger.error({ err }, 'periodic task failed; retrying at the next interval');
    } finally {
      if (!this.#closing) this.#schedule(Math.max(0, this.#intervalMs - (this.#clock.now() - started)));
    }
  }

  async #acquire(): Promise<boolean> {
    let leader: boolean;
    try {
      leader = await this.#leadership.acquire(this.name, this.#leaseMs);
    } catch (err) {
      this.#logger.warn({ err }, 'task leadership check failed; skipping this iteration');
      leader = false;
    }
    if (leader !== this.#leader)
      this.#logger.info(leader ? 'took the task lease' : 'another instance holds the task lease');
    this.#leader = leader;
    return leader;
  }
}
