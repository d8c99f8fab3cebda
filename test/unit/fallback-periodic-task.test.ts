import { ClosedError, ManualClock, ValidationError } from '@meshpress/client';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { LeaseLostError } from '../../server/src/tasks/errors.js';
import type { Leadership } from '../../server/src/tasks/leadership.js';
import { PeriodicTask, type TaskIteration } from '../../server/src/tasks/periodic-task.js';

const INTERVAL = 1_000;

/** Lets every pending promise callback run (no timers involved, so no real time passes). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function capturingLogger() {
  const lines: { level: number; msg: string; task?: string; err?: { message: string } }[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

/** Leadership whose answer the test sets; records each call. */
class ScriptedLeadership implements Leadership {
  answer: boolean | Error = true;
  readonly acquired: { task: string; leaseMs: number }[] = [];
  released = 0;
  async acquire(task: string, leaseMs: number): Promise<boolean> {
    this.acquired.push({ task, leaseMs });
    if (this.answer instanceof Error) throw this.answer;
    return this.answer;
  }
  async release(): Promise<void> {
    this.released++;
  }
}

/** ScriptedLeadership that can also lose a lease, noticed (onLost) or not yet (holds() false). */
class LosableLeadership extends ScriptedLeadership {
  held = true;
  readonly #listeners = new Set<(task: string) => void>();
  holds(): boolean {
    return this.held;
  }
  onLost(listener: (task: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  lose(task: string): void {
    this.held = false;
    for (const listener of this.#listeners) listener(task);
  }
  get listeners(): number {
    return this.#listeners.size;
  }
}

function setup(
  run: (signal: AbortSignal, iteration: TaskIteration) => Promise<unknown>,
  leadership = new ScriptedLeadership(),
) {
  const clock = new ManualClock();
  const { logger, lines } = capturingLogger();
  const task = new PeriodicTask({ name: 'test-task', intervalMs: INTERVAL, run, clock, logger, leadership });
  const tick = async (ms = INTERVAL) => {
    clock.advance(ms);
    await settle();
  };
  return { clock, task, lines, leadership, tick };
}

describe('PeriodicTask', () => {
  it('runs once per interval after start, asking for a lease of three intervals', async () => {
    let runs = 0;
    const { task, leadership, tick } = setup(async () => {
      runs++;
    });
    await tick(5 * INTERVAL);
    expect(runs).toBe(0);
    task.start();
    task.start();
    await tick(INTERVAL - 1);
    expect(runs).toBe(0);
    for (let i = 1; i <= 4; i++) {
      await tick(i === 1 ? 1 : INTERVAL);
      expect(runs).toBe(i);
    }
    expect(leadership.acquired[0]).toEqual({ task: 'test-task', leaseMs: 3 * INTERVAL });
    await task.close();
  });

  it('never overlaps runs: a slow run delays the next instead of running beside it', async () => {
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const gates: ReturnType<typeof deferred<void>>[] = [];
    const { task, tick } = setup(async () => {
      runs++;
      active++;
      maxActive = Math.max(maxActive, active);
      const gate = deferred();
      gates.push(gate);
      await gate.promise;
      active--;
    });
    task.start();
    await tick();
    expect(runs).toBe(1);
    // Five more intervals pass while the first run hangs: nothing else starts, scheduled or forced.
    const forced = task.runNow();
    for (let i = 0; i < 5; i++) await tick();
    expect(runs).toBe(1);
    gates[0]!.resolve();
    await settle();
    expect(runs).toBe(2); // the forced run, queued behind the first
    gates[1]!.resolve();
    await forced;
    await tick(0);
    expect(runs).toBe(3); // the overdue scheduled run, with no delay, as the interval has long passed
    gates[2]!.resolve();
    await settle();
    expect(maxActive).toBe(1);
    await task.close();
  });

  it('logs a failing run and keeps to the schedule', async () => {
    let runs = 0;
    const { task, lines, tick } = setup(async () => {
      runs++;
      if (runs === 1) throw new Error('store down');
    });
    task.start();
    await tick();
    await tick();
    expect(runs).toBe(2);
    const failure = lines.find((l) => l.level === 50);
    expect(failure).toMatchObject({ task: 'test-task', err: { message: 'store down' } });
    await task.close();
  });

  it('does not run on an instance that is not the leader, and runs once it becomes one', async () => {
    let runs = 0;
    const leadership = new ScriptedLeadership();
    leadership.answer = false;
    const { task, tick, lines } = setup(async () => {
      runs++;
    }, leadership);
    task.start();
    for (let i = 0; i < 3; i++) await tick();
    expect(runs).toBe(0);
    expect(leadership.acquired).toHaveLength(3);
    leadership.answer = new Error('redis unreachable');
    await tick();
    expect(runs).toBe(0);
    expect(lines.some((l) => l.level === 40 && l.err?.message === 'redis unreachable')).toBe(true);
    leadership.answer = true;
    await tick();
    expect(runs).toBe(1);
    await task.close();
    expect(leadership.released).toBe(1);
  });

  it('close() aborts and awaits the running iteration, stops the schedule, and is idempotent', async () => {
    const gate = deferred();
    let signal: AbortSignal | undefined;
    const { task, clock, tick, leadership } = setup(async (s) => {
      signal = s;
      await gate.promise;
    });
    task.start();
    await tick();
    let closed = false;
    const closing = task.close().then(() => {
      closed = true;
    });
    await settle();
    expect(signal?.aborted).toBe(true);
    expect(closed).toBe(false);
    gate.resolve();
    await closing;
    expect(closed).toBe(true);
    await task.close();
    expect(leadership.released).toBe(1);
    expect(clock.pendingTimers).toBe(0);
    await expect(task.runNow()).rejects.toBeInstanceOf(ClosedError);
  });

  it('runNow() runs regardless of leadership and returns the result', async () => {
    const leadership = new ScriptedLeadership();
    leadership.answer = false;
    const { task } = setup(async () => 'done', leadership);
    await expect(task.runNow()).resolves.toBe('done');
    expect(leadership.acquired).toHaveLength(0);
    await task.close();
    expect(leadership.released).toBe(0);
  });

  it('rejects invalid options with the field path', () => {
    let error: any;
    try {
      new PeriodicTask({
        name: 'Bad Name',
        intervalMs: 0,
        run: async () => undefined,
        clock: new ManualClock(),
        logger: pino({ level: 'silent' }),
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.issues.map((i: any) => i.path)).toEqual(['name', 'intervalMs']);
  });

  it("aborts an iteration running as the lease holder when that task's lease is lost", async () => {
    const leadership = new LosableLeadership();
    const gate = deferred();
    let signal: AbortSignal | undefined;
    const { task, tick, lines } = setup(async (s) => {
      signal = s;
      await gate.promise;
      s.throwIfAborted();
    }, leadership);
    task.start();
    await tick();
    expect(signal?.aborted).toBe(false);
    leadership.lose('another-task');
    expect(signal?.aborted).toBe(false);
    leadership.lose('test-task');
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBeInstanceOf(LeaseLostError);
    expect(signal?.reason).toMatchObject({ code: 'CONFLICT', task: 'test-task' });
    gate.resolve();
    await settle();
    // Logged as a warning, not as a failure; the schedule goes on.
    expect(lines.some((l) => l.level === 50)).toBe(false);
    expect(lines.some((l) => l.level === 40 && /lease was lost/.test(l.msg))).toBe(true);
    await task.close();
    expect(leadership.listeners).toBe(0);
  });

  it('a forced run on the lease holder is aborted too; one on another instance is not', async () => {
    const leadership = new LosableLeadership();
    const gate = deferred();
    const { task } = setup(async (s) => {
      await gate.promise;
      s.throwIfAborted();
      return 'done';
    }, leadership);
    const asHolder = task.runNow();
    await settle();
    leadership.lose('test-task');
    gate.resolve();
    await expect(asHolder).rejects.toBeInstanceOf(LeaseLostError);

    // Not holding the lease: an explicit request runs whatever the leadership says.
    const notHolding = task.runNow();
    leadership.lose('test-task');
    await expect(notHolding).resolves.toBe('done');
    await task.close();
  });

  it('assertCurrent() stops a holder whose lease may have run out before any renewal noticed', async () => {
    const leadership = new LosableLeadership();
    const checks: (string | undefined)[] = [];
    const check = (iteration: TaskIteration) => {
      try {
        iteration.assertCurrent();
        checks.push(undefined);
      } catch (error) {
        checks.push((error as Error).constructor.name);
      }
    };
    const { task } = setup(async (signal, iteration) => {
      check(iteration);
      leadership.held = false; // the local deadline passed; no onLost yet
      check(iteration);
      return signal.aborted;
    }, leadership);
    await expect(task.runNow()).resolves.toBe(true);
    expect(checks).toEqual([undefined, 'LeaseLostError']);

    // A run on an instance that does not hold the lease is not stopped by it.
    checks.length = 0;
    await expect(task.runNow()).resolves.toBe(false);
    expect(checks).toEqual([undefined, undefined]);
    await task.close();
  });
});
