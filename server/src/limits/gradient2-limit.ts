import { clampLimit, type LimitAlgorithm, type LimitBounds, type LimitSample } from './limit-algorithm.js';

export const DEFAULT_GRADIENT2_TOLERANCE = 1.5;
export const DEFAULT_GRADIENT2_SMOOTHING = 0.2;
export const DEFAULT_GRADIENT2_LONG_WINDOW = 600;
export const DEFAULT_GRADIENT2_QUEUE_SIZE = 4;

/** Samples averaged plainly before the exponential average takes over, so one early outlier cannot skew it. */
const WARMUP_SAMPLES = 10;

export interface Gradient2Options extends LimitBounds {
  /** How much slower than the long-term RTT a sample may be before the limit shrinks (>= 1). */
  readonly tolerance: number;
  /** Weight of each new estimate in the limit (0 < smoothing <= 1). */
  readonly smoothing: number;
  /** Samples in the long-term RTT's exponential window. */
  readonly longWindow: number;
  /** Headroom added to the estimate, so the limit can probe upwards while latency holds. */
  readonly queueSize: number;
}

/**
 * Netflix concurrency-limits' Gradient2Limit: the ratio of the long-term RTT to the latest one says whether
 * requests are queueing; the limit follows `limit * gradient + queueSize`, smoothed. One addition: a drop
 * counts as the steepest gradient (0.5), since the original ignores drops and meshpress answers overload
 * with 5xx, not only with slowness. Samples without an RTT (held long-polls) do not move it at all.
 */
export class Gradient2Limit implements LimitAlgorithm {
  readonly #options: Gradient2Options;
  #estimate: number;
  #longRtt = 0;
  #longSamples = 0;

  constructor(options: Gradient2Options) {
    this.#options = options;
    this.#estimate = clampLimit(options.initialLimit, options);
  }

  get limit(): number {
    return Math.floor(this.#estimate);
  }

  /** The long-term (exponentially averaged) RTT; undefined before the first measured sample. */
  get longRttMs(): number | undefined {
    return this.#longSamples === 0 ? undefined : this.#longRtt;
  }

  update(sample: LimitSample): void {
    if (sample.dropped) {
      this.#move(0.5);
      return;
    }
    if (sample.rttMs === undefined) return;
    // A zero RTT (a sub-millisecond answer on a millisecond clock) would make the ratio infinite.
    const shortRtt = Math.max(sample.rttMs, 0.001);
    const longRtt = this.#observe(shortRtt);
    // After a long overload the long-term RTT is far above the present one; decay it rather than wait for
    // the window, so the limit can grow again once latency is back to normal.
    if (longRtt / shortRtt > 2) this.#longRtt *= 0.95;
    // An app using less than half its limit says nothing about what it could use.
    if (sample.inflight < this.#estimate / 2) return;
    // Never halve on a single outlier; never grow from the gradient alone (queueSize does the probing).
    this.#move(Math.max(0.5, Math.min(1, (this.#options.tolerance * longRtt) / shortRtt)));
  }

  #move(gradient: number): void {
    const target = this.#estimate * gradient + this.#options.queueSize;
    const smoothed = this.#estimate * (1 - this.#options.smoothing) + target * this.#options.smoothing;
    this.#estimate = clampLimit(smoothed, this.#options);
  }

  #observe(rttMs: number): number {
    this.#longSamples += 1;
    if (this.#longSamples <= WARMUP_SAMPLES) {
      this.#longRtt += (rttMs - this.#longRtt) / this.#longSamples;
    } else {
      const factor = 2 / (this.#options.longWindow + 1);
      this.#longRtt = this.#longRtt * (1 - factor) + rttMs * factor;
    }
    return this.#longRtt;
  }
}
