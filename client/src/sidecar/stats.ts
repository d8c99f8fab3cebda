import type { SidecarErrorCode } from './errors.js';

export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx';

export interface RouteCounters {
  /** Requests that matched the route. */
  requests: number;
  /** Responses sent for the route, by status class (upstream's and the sidecar's own). */
  readonly responses: Record<StatusClass, number>;
  /** Attempts beyond the first. */
  retries: number;
  /** Requests refused by the rate limit. */
  rateLimited: number;
  /** Requests that hit the route timeout (or the last attempt's per-try timeout). */
  timeouts: number;
}

export interface TargetCounters {
  /** Requests sent to the virtual node (one per request, whatever the number of attempts). */
  requests: number;
  /** Attempts that reached an endpoint. */
  attempts: number;
  /** Attempts that ended in a 5xx, connect failure, reset or timeout. */
  errors: number;
  /** Attempts refused by the node's circuit breaker. */
  overflow: number;
  /** Attempts refused because every endpoint was ejected. */
  noHealthyUpstream: number;
  /** Endpoint ejections. */
  ejections: number;
}

export interface InboundCounters {
  allowed: number;
  denied: number;
  /** Allowed requests the local app could not answer (connect failure, reset, timeout). */
  upstreamErrors: number;
  /**
   * Requests refused as malformed before they reached the app: a target that is not a path, or a
   * request the HTTP client would not send on (a repeated Host).
   */
  badRequests: number;
}

/**
 * Counters shown by the admin endpoint. Plain mutable numbers on the request path (no locks needed on
 * one event loop); per-route and per-target entries are created on first use and kept, so totals
 * survive swaps.
 */
export class SidecarStats {
  readonly routes = new Map<string, RouteCounters>();
  readonly targets = new Map<string, TargetCounters>();
  /** Outbound responses the sidecar generated itself, by code. */
  readonly rejected = new Map<SidecarErrorCode, number>();
  readonly inbound: InboundCounters = { allowed: 0, denied: 0, upstreamErrors: 0, badRequests: 0 };
  readonly swaps = { routes: 0, policy: 0 };

  route(name: string): RouteCounters {
    let counters = this.routes.get(name);
    if (!counters) {
      counters = {
        requests: 0,
        responses: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
        retries: 0,
        rateLimited: 0,
        timeouts: 0,
      };
      this.routes.set(name, counters);
    }
    return counters;
  }

  target(name: string): TargetCounters {
    let counters = this.targets.get(name);
    if (!counters) {
      counters = { requests: 0, attempts: 0, errors: 0, overflow: 0, noHealthyUpstream: 0, ejections: 0 };
      this.targets.set(name, counters);
    }
    return counters;
  }

  reject(code: SidecarErrorCode): void {
    this.rejected.set(code, (this.rejected.get(code) ?? 0) + 1);
  }

  toJSON(): Record<string, unknown> {
    return {
      swaps: { ...this.swaps },
      routes: Object.fromEntries(this.routes),
      targets: Object.fromEntries(this.targets),
      rejected: Object.fromEntries(this.rejected),
      inbound: { ...this.inbound },
    };
  }
}

export function statusClass(status: number): StatusClass {
  if (status < 200) return '1xx';
  if (status < 300) return '2xx';
  if (status < 400) return '3xx';
  if (status < 500) return '4xx';
  return '5xx';
}
