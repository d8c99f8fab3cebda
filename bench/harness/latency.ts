import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

/** Latency summary in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** Records durations in nanoseconds (HDR histogram from perf_hooks: constant memory, any count). */
export class LatencyRecorder {
  readonly #histogram: RecordableHistogram = createHistogram();

  recordNs(ns: bigint | number): void {
    const value = typeof ns === 'bigint' ? Number(ns) : Math.round(ns);
    this.#histogram.record(Math.max(1, value));
  }

  recordMs(ms: number): void {
    this.recordNs(ms * 1e6);
  }

  get count(): number {
    return this.#histogram.count;
  }

  summary(): LatencySummary {
    const h = this.#histogram;
    const ms = (ns: number) => Math.round((ns / 1e6) * 1000) / 1000;
    if (h.count === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 };
    return {
      count: h.count,
      mean: ms(h.mean),
      p50: ms(h.percentile(50)),
      p90: ms(h.percentile(90)),
      p99: ms(h.percentile(99)),
      max: ms(h.max),
    };
  }
}
