import {
  type Clock,
  ClosedError,
  ConflictError,
  TopicNotFoundError,
  UnavailableError,
} from '@meshpress/client';
import { jitteredBackoff } from './backoff.js';
import { isTimeout } from './cassandra-errors.js';
import { latestOf } from './rows.js';
import type { CqlSession } from './session.js';
import type { Cql } from './statements.js';

/** Largest block one round claims; larger queues take several rounds. */
const MAX_BLOCK = 1_000;
/** Rounds of compare-and-set one claim may take before it reports the store unavailable. */
const MAX_ATTEMPTS = 64;
const BACKOFF = { baseMs: 2, capMs: 200 } as const;
/** `int` column: the largest version number the schema holds. */
const MAX_VERSION = 2_147_483_647;

interface Waiter {
  readonly resolve: (version: number) => void;
  readonly reject: (error: unknown) => void;
}

export interface VersionAllocatorDeps {
  readonly session: CqlSession;
  readonly cql: Cql;
  readonly clock: Clock;
  /** Aborted when the store closes: waits end and queued allocations fail with ClosedError. */
  readonly signal: AbortSignal;
  /** Jitter source; Math.random unless a test needs determinism. */
  readonly random?: (() => number) | undefined;
}

/**
 * Hands out version numbers from `version_counters` by lightweight transaction:
 * `UPDATE … SET latest = expected + n IF latest = expected`. The number `latest` only grows, and only by a
 * transaction that saw the value it replaces, so no number is handed out twice across every process that
 * shares the keyspace.
 *
 * Allocations of one topic in this process queue up, and each round claims the whole queue as one block
 * (n numbers for n waiters) in one transaction: 50 concurrent publishes cost one Paxos round, not 50
 * contending ones (Paxos on one partition serialises; contention multiplies its cost). A failed comparison
 * returns the current value, so the next try needs no read; repeated failures (other instances winning)
 * back off with jitter. A timeout leaves the outcome unknown; the retry's comparison settles it, at worst
 * skipping the block the timed-out try took (numbers may be skipped, never reused).
 */
export class VersionAllocator {
  readonly #deps: VersionAllocatorDeps;
  readonly #random: () => number;
  readonly #queues = new Map<string, Waiter[]>();
  /** Last value of `latest` seen per topic: the first guess of the next claim, saving a read. */
  readonly #known = new Map<string, number>();

  constructor(deps: VersionAllocatorDeps) {
    this.#deps = deps;
    this.#random = deps.random ?? Math.random;
  }

  allocate(topic: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const queue = this.#queues.get(topic);
      if (queue) {
        queue.push({ resolve, reject });
        return;
      }
      this.#queues.set(topic, [{ resolve, reject }]);
      // Start on the next microtask, so that allocations requested together share the first round.
      queueMicrotask(() => void this.#drain(topic));
    });
  }

  async #drain(topic: string): Promise<void> {
    for (;;) {
      const queue = this.#queues.get(topic);
      if (!queue || queue.length === 0) {
        // Nothing awaited between the check and the delete: no waiter can slip in unseen.
        this.#queues.delete(topic);
        return;
      }
      const round = queue.splice(0, MAX_BLOCK);
      try {
        const first = await this.#claim(topic, round.length);
        for (const [i, waiter] of round.entries()) waiter.resolve(first + i);
      } catch (error) {
        for (const waiter of round) waiter.reject(error);
      }
    }
  }

  /** Claims `count` consecutive numbers; returns the first. */
  async #claim(topic: string, count: number): Promise<number> {
    const { session, cql } = this.#deps;
    let expected = this.#known.get(topic);
    if (expected === undefined)
      expected = latestOf((await session.execute(cql.counterGet, [topic], { idempotent: true })).first());
    let misses = 0;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (this.#deps.signal.aborted) throw new ClosedError('config store');
      if (expected === undefined) {
        expected = await this.#createCounter(topic);
        continue;
      }
      const next = expected + count;
      if (next > MAX_VERSION)
        throw new ConflictError(`topic '${topic}' has run out of version numbers`, {
          topic,
          latest: expected,
        });
      let result: Awaited<ReturnType<CqlSession['execute']>>;
      try {
        // Not marked idempotent: a resend after an applied first try fails its comparison and reads as a
        // miss. This loop resends itself and treats every answer by what the comparison returned.
        result = await session.execute(cql.counterAdvance, [next, topic, expected], { idempotent: false });
      } catch (error) {
        if (!isTimeout(error)) throw error;
        await this.#sleep(jitteredBackoff(misses++, BACKOFF, this.#random));
        continue;
      }
      if (result.wasApplied()) {
        this.#known.set(topic, next);
        return expected + 1;
      }
      expected = latestOf(result.first());
      // The first miss retries at once with the value in hand; later ones mean a crowd, so spread out.
      if (misses++ > 0) await this.#sleep(jitteredBackoff(misses - 2, BACKOFF, this.#random));
    }
    this.#known.delete(topic);
    throw new UnavailableError(
      `could not allocate a version of topic '${topic}' in ${MAX_ATTEMPTS} attempts (contention or timeouts)`,
    );
  }

  /** A topic's counter row is created with the topic; this covers a topic whose creation was cut short. */
  async #createCounter(topic: string): Promise<number> {
    const { session, cql } = this.#deps;
    const exists = (await session.execute(cql.topicExists, [topic], { idempotent: true })).rowLength > 0;
    if (!exists) throw new TopicNotFoundError(topic);
    const result = await session.execute(cql.counterCreate, [topic], { idempotent: true });
    return result.wasApplied() ? 0 : (latestOf(result.first()) ?? 0);
  }

  #sleep(ms: number): Promise<void> {
    const { clock, signal } = this.#deps;
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(new ClosedError('config store'));
        return;
      }
      const onAbort = () => {
        clock.clearTimeout(timer);
        reject(new ClosedError('config store'));
      };
      const timer = clock.setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
