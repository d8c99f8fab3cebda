import { clampLimit, type LimitAlgorithm, type LimitBounds, type LimitSample } from './limit-algorithm.js';

/** Applied at most once per round trip (see below), so it can be steeper than concurrency-limits' 0.9 per sample. */
export const DEFAULT_AIMD_BACKOFF_RATIO = 0.8;
export const DEFAULT_AIMD_TOLERANCE = 2;
export const DEFAULT_AIMD_MIN_THRESHOLD_MS = 200;
export const DEFAULT_AIMD_SMOOTHING = 0.05;

export interface AimdOptions extends LimitBounds {
  /** The limit is multiplied by this on a drop or a slow sample (0 < ratio < 1). */
  readonly backoffRatio: number;
  /** A sample slower than `tolerance` times the smoothed baseline RTT counts as latency growth. */
  readonly tolerance: number;
  /** Never call a sample slow below this many ms: sub-millisecond baselines would make noise look like load. */
  readonly minThresholdMs: number;
  /** Weight of a new normal sample in the smoothed baseline RTT (0 < smoothing <= 1). */
  readonly smoothing: number;
}

/**
 * Additive increase, multiplicative decrease, as in Netflix concurrency-limits' AIMDLimit, with two
 * changes. The "too slow" threshold follows a smoothed baseline instead of a fixed timeout, so it fits an
 * app whose requests are all sub-millisecond cache reads as well as one downloading payloads. And one
 * back-off per round: requests admitted before the last decrease were admitted under the old limit, so
 * their bad news is already accounted for; without this a burst of 100 slow answers would cut the limit
 * 100 times.
 */
export class AimdLimit implements LimitAlgorithm {
  readonly #options: AimdOptions;
  #limit: number;
  #baselineRtt: number | undefined;
  #lastDecreaseAt = Number.NEGATIVE_INFINITY;

  constructor(options: AimdOptions) {
    this.#options = options;
    this.#limit = clampLimit(options.initialLimit, options);
  }

  get limit(): number {
    return this.#limit;
  }

  /** The smoothed RTT that "slow" is measured against; undefined before the first measured sample. */
  get baselineRttMs(): number | undefined {
    return this.#baselineRtt;
  }

  update(sample: LimitSample): void {
    const slow = sample.rttMs !== undefined && this.#isSlow(sample.rttMs);
    if (sample.rttMs !== undefined) this.#learn(sample.rttMs, slow);
    if (sample.dropped || slow) {
      if (sample.startedAt <= this.#lastDecreaseAt) return;
      this.#limit = clampLimit(Math.floor(this.#limit * this.#options.backoffRatio), this.#options);
      this.#lastDecreaseAt = sample.completedAt;
      return;
    }
    // Only an app that uses its limit earns a higher one; otherwise the limit would drift to the maximum
    // while the app is idle and protect nothing when it starts to flood.
    if (sample.inflight * 2 >= this.#limit) this.#limit = clampLimit(this.#limit + 1, this.#options);
  }

  #isSlow(rttMs: number): boolean {
    if (this.#baselineRtt === undefined) return false;
    return rttMs > Math.max(this.#options.minThresholdMs, this.#options.tolerance * this.#baselineRtt);
  }

  /**
   * Slow samples move the baseline ten times more slowly than normal ones: a flood must not teach the
   * limiter that flooded latency is normal, yet a lasting change in cost (bigger payloads) is accepted
   * after a few hundred samples instead of shrinking the limit forever.
   */
  #learn(rttMs: number, slow: boolean): void {
    if (this.#baselineRtt === undefined) {
      this.#baselineRtt = rttMs;
      return;
    }
    const weight = slow ? this.#options.smoothing / 10 : this.#options.smoothing;
    this.#baselineRtt += (rttMs - this.#baselineRtt) * weight;
  }
}
