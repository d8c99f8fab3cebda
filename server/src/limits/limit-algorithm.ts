/** One completed request, as a limit algorithm sees it. */
export interface LimitSample {
  /** When the request was admitted (clock ms): lets an algorithm discount requests admitted under an older limit. */
  readonly startedAt: number;
  /** When it completed (clock ms). */
  readonly completedAt: number;
  /**
   * Round-trip time in ms, or undefined when the duration says nothing about load: a held long-poll is slow
   * on purpose, so it only tells the algorithm that the request completed.
   */
  readonly rttMs: number | undefined;
  /** Requests of the same app in flight when this one was admitted, itself included. */
  readonly inflight: number;
  /** The request failed in a way that signals overload (a 5xx, a timeout). */
  readonly dropped: boolean;
}

/**
 * Estimates how many concurrent requests one app may have in flight. Pure: everything it needs arrives in
 * the sample (time included), so a test drives it with plain numbers.
 */
export interface LimitAlgorithm {
  /** The current limit: an integer within the algorithm's bounds. */
  readonly limit: number;
  update(sample: LimitSample): void;
}

/** Bounds every algorithm keeps its limit within. */
export interface LimitBounds {
  readonly initialLimit: number;
  readonly minLimit: number;
  readonly maxLimit: number;
}

export function clampLimit(value: number, bounds: LimitBounds): number {
  return Math.min(bounds.maxLimit, Math.max(bounds.minLimit, value));
}
