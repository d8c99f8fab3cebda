/** Capped exponential backoff with full jitter (AWS "Exponential Backoff and Jitter"). */
export interface BackoffPolicy {
  /** Ceiling of the first retry's delay; each further attempt doubles it. */
  readonly baseMs: number;
  /** No delay ever exceeds this. */
  readonly capMs: number;
  /** Uniform random source in [0, 1); injected so tests are deterministic. */
  readonly random: () => number;
}

/**
 * `(attempt) => ms` for attempt 0, 1, 2, …: a uniformly random delay in [0, min(cap, base·2^attempt)].
 * Full jitter spreads a fleet's retries over the whole window, so thousands of proxies that lost the
 * service at the same instant do not come back in lockstep. Pure given `random`.
 */
export function createBackoff(policy: BackoffPolicy): (attempt: number) => number {
  const { baseMs, capMs, random } = policy;
  if (!(baseMs >= 0) || !(capMs >= 0)) throw new RangeError('backoff base and cap must be >= 0');
  return (attempt) => {
    if (!Number.isInteger(attempt) || attempt < 0)
      throw new RangeError(`backoff attempt must be an integer >= 0, got ${attempt}`);
    // 2 ** 1100 is Infinity and min() takes the cap, so large attempts cannot overflow into NaN.
    const ceiling = Math.min(capMs, baseMs * 2 ** attempt);
    return Math.min(ceiling, Math.floor(clampUnit(random()) * (ceiling + 1)));
  };
}

/**
 * The poll interval spread by ±`ratio`: uniformly in [interval·(1-ratio), interval·(1+ratio)]. Keeps a
 * fleet started at the same moment from polling in waves.
 */
export function jitteredInterval(intervalMs: number, ratio: number, random: () => number): number {
  const spread = intervalMs * ratio;
  return Math.round(intervalMs - spread + clampUnit(random()) * 2 * spread);
}

/** A source returning exactly 1 (or garbage) must not push a delay past its bound. */
function clampUnit(value: number): number {
  if (!(value > 0)) return 0;
  return value >= 1 ? 1 - Number.EPSILON : value;
}
