import { setTimeout as sleep } from 'node:timers/promises';
import type { z } from 'zod';
import { serveWorker } from './runtime.js';

/**
 * The worker side shared by the propagation benchmark's two kinds of subscriber fleets (meshpress
 * client-library subscribers, etcd watchers): the parent grows the fleet, asks for the time each member
 * applied a revision, and finally stops it. Both kinds answer the same commands, so the parent drives
 * them with the same code and the two sets of figures are taken the same way.
 */

/**
 * Wall-clock milliseconds with sub-millisecond resolution, comparable across processes of one machine:
 * every process's timeOrigin is read from the same system clock, and performance.now() is monotonic.
 * The parent also measures each worker's offset over IPC (the `clock` command) and reports it.
 */
export const wallNow = (): number => performance.timeOrigin + performance.now();

/** Parent -> worker. `total` is this worker's share of the fleet, not the whole fleet. */
export type FleetCommand =
  | { readonly op: 'grow'; readonly total: number; readonly revision: number; readonly timeoutMs: number }
  | { readonly op: 'clock' }
  | { readonly op: 'idle' }
  | { readonly op: 'collect'; readonly revision: number; readonly timeoutMs: number }
  | { readonly op: 'stop' };

export interface GrowReply {
  readonly op: 'grow';
  readonly members: number;
  /** Members that hold `revision` (all of them unless the wait timed out). */
  readonly onRevision: number;
  readonly ms: number;
  readonly problems: readonly string[];
}

export interface ClockReply {
  readonly op: 'clock';
  readonly now: number;
}

export interface CollectReply {
  readonly op: 'collect';
  readonly revision: number;
  /** wallNow() at which each member that got there applied `revision`. */
  readonly appliedAt: readonly number[];
  readonly missing: number;
  /** Counters since the previous collect (polls that found nothing, errors): disturbances, if any. */
  readonly counters: Record<string, number>;
}

export interface FleetResult {
  readonly members: number;
  readonly rssBytes: number;
  readonly counters: Record<string, number>;
  readonly problems: readonly string[];
}

export type FleetMessage =
  | ({ type: 'reply' } & (GrowReply | ClockReply | CollectReply | { readonly op: 'idle' }))
  | { type: 'result'; result: FleetResult }
  | { type: 'error'; message: string };

/** One kind of fleet inside a worker process. */
export interface Fleet {
  /** Adds members until there are `total`, each subscribed and on `revision`; bounded by `deadline`. */
  grow(total: number, revision: number, deadline: number): Promise<{ problems: string[] }>;
  readonly size: number;
  /** Members currently holding `revision`. */
  onRevision(revision: number): number;
  /** Bounded; idempotent. */
  close(): Promise<void>;
  /** Running counters (cumulative); the loop reports differences. */
  counters(): Record<string, number>;
  readonly problems: readonly string[];
}

/**
 * Records, per revision, when each member applied it. Members are numbered densely from 0; a revision is
 * recorded once per member (the first time).
 */
export class ApplyLog {
  readonly #byRevision = new Map<number, { times: Float64Array; count: number }>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  record(revision: number, member: number, at: number): void {
    let entry = this.#byRevision.get(revision);
    if (!entry) {
      entry = { times: new Float64Array(this.#capacity).fill(Number.NaN), count: 0 };
      this.#byRevision.set(revision, entry);
    }
    if (!Number.isNaN(entry.times[member]!)) return;
    entry.times[member] = at;
    entry.count++;
  }

  count(revision: number): number {
    return this.#byRevision.get(revision)?.count ?? 0;
  }

  /** Times of members 0 .. members-1 that applied `revision`, and how many did not; forgets it. */
  take(revision: number, members: number): { appliedAt: number[]; missing: number } {
    const entry = this.#byRevision.get(revision);
    this.#byRevision.delete(revision);
    const appliedAt: number[] = [];
    for (let i = 0; i < members; i++) {
      const t = entry?.times[i] ?? Number.NaN;
      if (!Number.isNaN(t)) appliedAt.push(t);
    }
    return { appliedAt, missing: members - appliedAt.length };
  }
}

/** Waits (checking every 20 ms, at most until `deadline` on wallNow) until `done()` holds. */
export async function waitUntil(done: () => boolean, deadline: number): Promise<boolean> {
  while (!done()) {
    if (wallNow() >= deadline) return false;
    await sleep(20);
  }
  return true;
}

/**
 * Serves the fleet commands: `start` carries the config, then `cmd` messages arrive one at a time until
 * `stop`, which closes the fleet and ends the worker with its FleetResult.
 */
export function serveFleet<C>(
  schema: z.ZodType<C>,
  create: (config: C) => { fleet: Fleet; log: ApplyLog },
): void {
  serveWorker(schema, async (config, io): Promise<FleetResult> => {
    const { fleet, log } = create(config);
    let lastCounters = fleet.counters();
    try {
      for (;;) {
        const command = (await io.next('cmd')) as unknown as { command: FleetCommand };
        const c = command.command;
        if (c.op === 'stop') break;
        if (c.op === 'clock') {
          io.report({ type: 'reply', op: 'clock', now: wallNow() });
        } else if (c.op === 'idle') {
          // What a node's quiet minutes between publishes give its garbage collector (fleet workers run
          // with --expose-gc).
          (globalThis as { gc?: () => void }).gc?.();
          io.report({ type: 'reply', op: 'idle' });
        } else if (c.op === 'grow') {
          const started = wallNow();
          const deadline = started + c.timeoutMs;
          const { problems } = await fleet.grow(c.total, c.revision, deadline);
          await waitUntil(() => fleet.onRevision(c.revision) >= fleet.size, deadline);
          const reply: GrowReply = {
            op: 'grow',
            members: fleet.size,
            onRevision: fleet.onRevision(c.revision),
            ms: Math.round(wallNow() - started),
            problems,
          };
          io.report({ type: 'reply', ...reply });
        } else {
          await waitUntil(() => log.count(c.revision) >= fleet.size, wallNow() + c.timeoutMs);
          const { appliedAt, missing } = log.take(c.revision, fleet.size);
          const now = fleet.counters();
          const counters = Object.fromEntries(
            Object.entries(now).map(([k, v]) => [k, v - (lastCounters[k] ?? 0)]),
          );
          lastCounters = now;
          const reply: CollectReply = { op: 'collect', revision: c.revision, appliedAt, missing, counters };
          io.report({ type: 'reply', ...reply });
        }
      }
    } finally {
      await fleet.close();
    }
    return {
      members: fleet.size,
      rssBytes: process.memoryUsage().rss,
      counters: fleet.counters(),
      problems: [...fleet.problems],
    };
  });
}
