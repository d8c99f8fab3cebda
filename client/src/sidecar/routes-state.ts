import type { Clock } from '../core/clock.js';
import { EMPTY_ROUTES_SNAPSHOT, type RoutesSnapshot } from '../mesh/index.js';
import { TokenBucket } from './token-bucket.js';

/** Which version a snapshot came from, as the subscription reported it. */
export interface AppliedVersion {
  /** Undefined while on the default (empty) snapshot. */
  readonly version: number | undefined;
  readonly pinned?: boolean;
  /** Where the version came from: service, fallback-cache, disk-cache, history, default. */
  readonly source?: string;
}

/**
 * Everything an outbound request needs from the configuration, as one frozen value: the snapshot, its
 * version and its rate-limit bucket. The proxy swaps the whole state in one assignment and each request
 * reads it once, so route, target, limits and version always come from the same snapshot.
 */
export interface RoutesState {
  readonly snapshot: RoutesSnapshot;
  readonly version: number | undefined;
  readonly pinned: boolean;
  readonly source: string;
  /** x-meshpress-routes-version; undefined on the empty snapshot. */
  readonly versionHeader: string | undefined;
  /** Undefined: no rate limit in this snapshot. */
  readonly bucket: TokenBucket | undefined;
}

export const INITIAL_ROUTES_STATE: RoutesState = Object.freeze({
  snapshot: EMPTY_ROUTES_SNAPSHOT,
  version: undefined,
  pinned: false,
  source: 'default',
  versionHeader: undefined,
  bucket: undefined,
});

/**
 * The state for a new snapshot. The bucket carries over from `previous` (same tokens, new limits), so a
 * republished document never hands out a fresh burst.
 */
export function nextRoutesState(
  previous: RoutesState,
  snapshot: RoutesSnapshot,
  applied: AppliedVersion,
  clock: Clock,
): RoutesState {
  const limit = snapshot.rateLimit;
  const bucket =
    limit === undefined
      ? undefined
      : (previous.bucket?.reconfigured(limit.requestsPerSecond, limit.burst) ??
        new TokenBucket(limit.requestsPerSecond, limit.burst, clock));
  return Object.freeze({
    snapshot,
    version: applied.version,
    pinned: applied.pinned ?? false,
    source: applied.source ?? (applied.version === undefined ? 'default' : 'service'),
    versionHeader: applied.version === undefined ? undefined : String(applied.version),
    bucket,
  });
}
