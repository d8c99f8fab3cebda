import { isThenable } from './thenable.js';

/**
 * Runs tasks one at a time, in the order they were queued.
 *
 * `run` always starts its task on a later turn: callers may rely on returning first (a new subscriber
 * registers its listeners before its first value arrives). `runNowIfIdle` starts the task at once when
 * nothing is queued or running, and hands back its result as is when it finished synchronously: that is
 * the poll path, where each subscriber applies an inline update without waiting for anything, and after
 * a publish a fleet of them does so at once, so every promise hop saved counts.
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();
  /** Tasks queued, or started and not yet settled. */
  #busy = 0;

  /** Whether a task is queued, or started and not yet settled. */
  get busy(): boolean {
    return this.#busy > 0;
  }

  run<T>(task: () => T | Promise<T>): Promise<T> {
    this.#busy++;
    const run = this.#tail.then(task, task);
    this.#tail = run.then(this.#settled, this.#settled);
    return run;
  }

  runNowIfIdle<T>(task: () => T | Promise<T>): T | Promise<T> {
    if (this.#busy > 0) return this.run(task);
    let result: T | Promise<T>;
    try {
      result = task();
    } catch (error) {
      return Promise.reject(error);
    }
    if (!isThenable(result)) return result;
    this.#busy++;
    const run = Promise.resolve(result);
    this.#tail = run.then(this.#settled, this.#settled);
    return run;
  }

  /** Resolves once every task queued so far has settled. */
  idle(): Promise<void> {
    return this.#tail.then(() => undefined);
  }

  readonly #settled = (): void => {
    this.#busy--;
  };
}
