import { setTimeout as sleep } from 'node:timers/promises';
import { BUILT_LIBRARY_FLAGS, forkWorker, type Worker } from '../harness/processes.js';
import type {
  ClockReply,
  CollectReply,
  FleetCommand,
  FleetMessage,
  FleetResult,
  GrowReply,
} from './propagation-fleet.js';
import { wallNow } from './propagation-fleet.js';

/**
 * The parent side of the propagation benchmark (bench/propagation.ts): drives the subscriber fleets in
 * their worker processes and turns their apply times into latency figures. Kept apart from the fleets so
 * that meshpress and etcd are measured by exactly the same loop.
 */

/** What the loop needs from a system under test. */
export interface PropagationSystem {
  readonly name: string;
  readonly workerScript: string;
  /** The `start` config of worker `index` (of `workers`), able to hold `capacity` members. */
  workerConfig(index: number, capacity: number): unknown;
  /** Publishes the document of `revision`; resolves when the publish call has returned. */
  publish(revision: number): Promise<void>;
  /** Bounded wait until the server side is ready for the next publish with `members` subscribers. */
  settle(members: number, timeoutMs: number): Promise<{ ok: boolean; detail: string }>;
  /** Server process, for its memory and CPU (optional). */
  readonly serverPid?: number;
}

export interface LatencyStats {
  readonly count: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** Exact percentiles (nearest rank) of a list of milliseconds. */
export function latencyStats(values: readonly number[]): LatencyStats {
  if (values.length === 0) return { count: 0, min: 0, p50: 0, p90: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from(values).sort();
  const at = (p: number) =>
    round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!);
  return {
    count: sorted.length,
    min: round(sorted[0]!),
    p50: at(50),
    p90: at(90),
    p99: at(99),
    max: round(sorted[sorted.length - 1]!),
  };
}

const round = (ms: number) => Math.round(ms * 100) / 100;

export interface PublishOutcome {
  readonly revision: number;
  readonly warmup: boolean;
  /** Duration of the publish call (sent -> returned). */
  readonly publishMs: number;
  /** Applied time - publish-returned time, over every member that applied it. */
  readonly latencyMs: LatencyStats;
  /** Applied time - publish-sent time (includes the publish itself). */
  readonly fromSentMs: LatencyStats;
  /** Members that applied the revision before the publish call had returned (negative latency). */
  readonly appliedBeforeReturn: number;
  readonly missing: number;
  /** Server CPU over publish -> all applied, in ms (when the server pid is known). */
  readonly serverCpuMs?: number;
  /** CPU of the fleet's worker processes over the same window, in ms. */
  readonly fleetCpuMs?: number;
  readonly settle: string;
  /** Per-worker counters over the window (polls without update, errors...): disturbances if any. */
  readonly counters: Record<string, number>;
}

export interface SizeOutcome {
  readonly members: number;
  readonly target: number;
  readonly growMs: number;
  readonly settleMs: number;
  readonly publishes: readonly PublishOutcome[];
  /** Pooled over the measured (non-warm-up) publishes: applied - publish returned. */
  readonly latencyMs: LatencyStats;
  /** The same, applied - publish sent. */
  readonly fromSentMs: LatencyStats;
  /** Per measured publish: when the last member applied it (the "all applied" time). */
  readonly allAppliedMs: readonly number[];
  readonly missing: number;
  readonly serverRssBytes?: number;
  readonly problems: readonly string[];
}

/**
 * Every fleet's workers, whatever the system: one worker hosts thousands of members in one heap, whose
 * young generation then holds the in-flight state of all of them at once, and a scavenge copies that
 * state over and over, work that thousands of separate processes (what the members stand for) would
 * never do. A larger young generation keeps that artefact of the simulation small, alike for every
 * system measured.
 */
const FLEET_NODE_FLAGS = [...BUILT_LIBRARY_FLAGS, '--max-semi-space-size=64', '--expose-gc'];

/** Four (or so) worker processes of one fleet kind, commanded together. */
export class FleetDriver {
  readonly #workers: Worker<FleetMessage>[];
  readonly offsetsMs: number[] = [];

  constructor(
    readonly system: PropagationSystem,
    workers: number,
    readonly capacityPerWorker: number,
  ) {
    this.#workers = Array.from({ length: workers }, () =>
      forkWorker<FleetMessage>(system.workerScript, FLEET_NODE_FLAGS),
    );
    for (const [i, w] of this.#workers.entries())
      w.send({ type: 'start', config: system.workerConfig(i, capacityPerWorker) });
  }

  get workers(): number {
    return this.#workers.length;
  }

  get pids(): number[] {
    return this.#workers.map((w) => w.pid);
  }

  async #command<R extends FleetMessage>(
    worker: Worker<FleetMessage>,
    command: FleetCommand,
    timeoutMs: number,
  ): Promise<R> {
    worker.send({ type: 'cmd', command });
    return worker.next(
      (m): m is R => m.type === 'reply' && (m as { op: string }).op === command.op,
      timeoutMs,
    );
  }

  /**
   * Estimates each worker's clock offset from ours (worker - parent) from the IPC round trip with the
   * smallest delay: the figure the results file reports to show that the processes share one clock.
   */
  async measureClocks(rounds = 7): Promise<number[]> {
    this.offsetsMs.length = 0;
    for (const worker of this.#workers) {
      let best = { rtt: Number.POSITIVE_INFINITY, offset: 0 };
      for (let i = 0; i < rounds; i++) {
        const sent = wallNow();
        const reply = await this.#command<{ type: 'reply' } & ClockReply>(worker, { op: 'clock' }, 10_000);
        const back = wallNow();
        if (back - sent < best.rtt) best = { rtt: back - sent, offset: reply.now - (sent + back) / 2 };
      }
      this.offsetsMs.push(round(best.offset * 1000) / 1000);
    }
    return this.offsetsMs;
  }

  grow(total: number, revision: number, timeoutMs: number): Promise<GrowReply[]> {
    return Promise.all(
      this.#workers.map((w, i) =>
        this.#command<{ type: 'reply' } & GrowReply>(
          w,
          { op: 'grow', total: share(total, this.#workers.length, i), revision, timeoutMs },
          timeoutMs + 30_000,
        ),
      ),
    );
  }

  /**
   * Lets every worker collect its garbage before a publish. Thousands of members share a worker's heap,
   * so the garbage of the last update (and of growing the fleet) would otherwise be collected during the
   * next measurement, all at once; a real node collects it in the quiet time between publishes.
   */
  async idle(timeoutMs = 30_000): Promise<void> {
    await Promise.all(this.#workers.map((w) => this.#command<FleetMessage>(w, { op: 'idle' }, timeoutMs)));
  }

  collect(revision: number, timeoutMs: number): Promise<CollectReply[]> {
    return Promise.all(
      this.#workers.map((w) =>
        this.#command<{ type: 'reply' } & CollectReply>(
          w,
          { op: 'collect', revision, timeoutMs },
          timeoutMs + 30_000,
        ),
      ),
    );
  }

  /** Stops the fleets (bounded), then makes sure every worker process has exited. Idempotent. */
  async stop(timeoutMs = 30_000): Promise<FleetResult[]> {
    const results = await Promise.all(
      this.#workers.map(async (w) => {
        try {
          w.send({ type: 'cmd', command: { op: 'stop' } satisfies FleetCommand });
          const m = await w.next(
            (m): m is Extract<FleetMessage, { type: 'result' }> => m.type === 'result',
            timeoutMs,
          );
          return m.result;
        } catch {
          return undefined;
        } finally {
          await w.stop();
        }
      }),
    );
    return results.filter((r): r is FleetResult => r !== undefined);
  }
}

/** Worker `index`'s share of `total` members (shares differ by at most one). */
export function share(total: number, workers: number, index: number): number {
  return Math.floor(total / workers) + (index < total % workers ? 1 : 0);
}

/** Pieces of the measuring loop the caller supplies. */
export interface SizeRun {
  readonly driver: FleetDriver;
  readonly target: number;
  /** Revision the fleet holds now; the publishes continue from it. */
  readonly revision: number;
  readonly warmups: number;
  readonly publishes: number;
  readonly growTimeoutMs: number;
  readonly collectTimeoutMs: number;
  readonly settleTimeoutMs: number;
  /** Quiet time after the fleet is ready and before each publish. */
  readonly pauseMs: number;
  readonly cpuMsOf?: (pid: number) => number;
  readonly memoryOf?: (pid: number) => { rss: number };
  readonly log: (line: string) => void;
}

/**
 * Grows the fleet to `target`, waits until every member holds the current revision and the server is
 * settled, then publishes `warmups + publishes` times; after each publish it collects every member's
 * apply time and waits for the fleet to settle again. Returns the figures and the revision reached.
 */
export async function measureSize(run: SizeRun): Promise<{ outcome: SizeOutcome; revision: number }> {
  const { driver, target } = run;
  const system = driver.system;
  const problems: string[] = [];
  const growStarted = wallNow();
  const grown = await run.driver.grow(target, run.revision, run.growTimeoutMs);
  const members = grown.reduce((n, g) => n + g.members, 0);
  const onRevision = grown.reduce((n, g) => n + g.onRevision, 0);
  for (const g of grown) problems.push(...g.problems);
  const growMs = Math.round(wallNow() - growStarted);
  if (members < target || onRevision < members)
    problems.push(`${members} of ${target} members started, ${onRevision} on revision ${run.revision}`);
  const settleStarted = wallNow();
  const settled = await system.settle(members, run.settleTimeoutMs);
  const settleMs = Math.round(wallNow() - settleStarted);
  if (!settled.ok) problems.push(`not settled after growing: ${settled.detail}`);
  run.log(
    `  ${system.name}: ${members.toLocaleString('en-US')} members in ${(growMs / 1000).toFixed(1)} s, settled in ${(settleMs / 1000).toFixed(1)} s (${settled.detail})`,
  );
  const serverRssBytes = system.serverPid && run.memoryOf ? run.memoryOf(system.serverPid).rss : undefined;

  const cpuMsOf = run.cpuMsOf;
  const fleetCpu = () => (cpuMsOf ? driver.pids.reduce((n, pid) => n + cpuMsOf(pid), 0) : undefined);
  let revision = run.revision;
  const outcomes: PublishOutcome[] = [];
  const pooled: number[] = [];
  const pooledFromSent: number[] = [];
  const allApplied: number[] = [];
  for (let p = 0; p < run.warmups + run.publishes; p++) {
    const warmup = p < run.warmups;
    revision++;
    await driver.idle();
    await sleep(run.pauseMs);
    const cpuBefore = system.serverPid && run.cpuMsOf ? run.cpuMsOf(system.serverPid) : undefined;
    const fleetBefore = fleetCpu();
    const sentAt = wallNow();
    await system.publish(revision);
    const returnedAt = wallNow();
    const replies = await driver.collect(revision, run.collectTimeoutMs);
    const cpuAfter = system.serverPid && run.cpuMsOf ? run.cpuMsOf(system.serverPid) : undefined;
    const fleetAfter = fleetCpu();
    const latencies: number[] = [];
    const fromSent: number[] = [];
    let missing = 0;
    const counters: Record<string, number> = {};
    for (const reply of replies) {
      missing += reply.missing;
      for (const at of reply.appliedAt) {
        latencies.push(at - returnedAt);
        fromSent.push(at - sentAt);
      }
      for (const [k, v] of Object.entries(reply.counters)) counters[k] = (counters[k] ?? 0) + v;
    }
    const stats = latencyStats(latencies);
    const settle = await system.settle(members, run.settleTimeoutMs);
    if (!settle.ok) problems.push(`not settled after revision ${revision}: ${settle.detail}`);
    if (missing > 0)
      problems.push(
        `${missing} members had not applied revision ${revision} after ${run.collectTimeoutMs} ms`,
      );
    outcomes.push({
      revision,
      warmup,
      publishMs: round(returnedAt - sentAt),
      latencyMs: stats,
      fromSentMs: latencyStats(fromSent),
      appliedBeforeReturn: latencies.filter((l) => l < 0).length,
      missing,
      ...(cpuBefore !== undefined && cpuAfter !== undefined
        ? { serverCpuMs: Math.round(cpuAfter - cpuBefore) }
        : {}),
      ...(fleetBefore !== undefined && fleetAfter !== undefined
        ? { fleetCpuMs: Math.round(fleetAfter - fleetBefore) }
        : {}),
      settle: settle.detail,
      counters,
    });
    run.log(
      `    ${warmup ? 'warm-up ' : ''}revision ${revision}: publish ${(returnedAt - sentAt).toFixed(1)} ms; applied p50 ${stats.p50} ms, p99 ${stats.p99} ms, max ${stats.max} ms${missing ? `; ${missing} MISSING` : ''}` +
        (cpuBefore !== undefined &&
        cpuAfter !== undefined &&
        fleetBefore !== undefined &&
        fleetAfter !== undefined
          ? ` (CPU: server ${Math.round(cpuAfter - cpuBefore)} ms, subscribers ${Math.round(fleetAfter - fleetBefore)} ms)`
          : ''),
    );
    if (!warmup) {
      pooled.push(...latencies);
      pooledFromSent.push(...fromSent);
      allApplied.push(stats.max);
    }
  }
  return {
    revision,
    outcome: {
      members,
      target,
      growMs,
      settleMs,
      publishes: outcomes,
      latencyMs: latencyStats(pooled),
      fromSentMs: latencyStats(pooledFromSent),
      allAppliedMs: allApplied,
      missing: outcomes.filter((o) => !o.warmup).reduce((n, o) => n + o.missing, 0),
      ...(serverRssBytes === undefined ? {} : { serverRssBytes }),
      problems,
    },
  };
}
