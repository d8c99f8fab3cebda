import type { Clock } from '../core/clock.js';
import type { MeshEndpoint, MeshOutlierDetection, MeshVirtualNode } from '../mesh/index.js';

// Endpoints are frozen snapshot objects: their origin string is built once, not per request.
const origins = new WeakMap<MeshEndpoint, string>();

/** Where an endpoint of a virtual node is sent, e.g. `http://10.0.0.1:8080`. */
export function endpointOrigin(endpoint: MeshEndpoint): string {
  let origin = origins.get(endpoint);
  if (origin === undefined) {
    const { host } = endpoint;
    const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    origin = `${endpoint.scheme}://${bracketed}:${endpoint.port}`;
    origins.set(endpoint, origin);
  }
  return origin;
}

interface EndpointHealth {
  consecutiveErrors: number;
  /** Ejections so far, decayed by one per `intervalMs` spent healthy (Envoy's ejection multiplier). */
  ejections: number;
  ejectedUntil: number;
}

export interface EjectedEndpoint {
  readonly endpoint: string;
  readonly ejectedUntil: number;
  readonly ejections: number;
}

/**
 * Outlier ejection and endpoint choice for one virtual node. An endpoint that fails `consecutiveErrors`
 * times in a row (5xx responses, connect failures, resets, timeouts) is ejected for
 * `baseEjectionMs × ejections`; it returns by itself when that time is over (checked when picking, so
 * there are no timers). Each `intervalMs` an endpoint spends back in service takes one off its
 * multiplier. At most `maxEjectionPercent` of the node's endpoints are ejected at once, and at least
 * one when the percentage is above 0, as in Envoy. Health is kept per endpoint address, so it survives
 * snapshot swaps that keep the endpoint.
 */
export class OutlierDetector {
  readonly #health = new Map<string, EndpointHealth>();
  #next = 0;

  constructor(readonly clock: Clock) {}

  /**
   * The next endpoint in round-robin order that is not ejected; undefined when all are. Without
   * outlier detection in the node's (snapshot's) configuration every endpoint is eligible.
   */
  pick(node: MeshVirtualNode): MeshEndpoint | undefined {
    const endpoints = node.endpoints;
    const n = endpoints.length;
    const start = this.#next++ % n;
    if (this.#next >= Number.MAX_SAFE_INTEGER) this.#next = 0;
    if (node.outlierDetection === undefined || this.#health.size === 0) return endpoints[start];
    const now = this.clock.now();
    for (let i = 0; i < n; i++) {
      const endpoint = endpoints[(start + i) % n]!;
      const health = this.#health.get(endpointOrigin(endpoint));
      if (health === undefined || health.ejectedUntil <= now) return endpoint;
    }
    return undefined;
  }

  recordSuccess(endpoint: MeshEndpoint): void {
    if (this.#health.size === 0) return;
    const health = this.#health.get(endpointOrigin(endpoint));
    if (health) health.consecutiveErrors = 0;
  }

  /** Counts an error; returns true when it ejected the endpoint. */
  recordError(endpoint: MeshEndpoint, node: MeshVirtualNode): boolean {
    const config = node.outlierDetection;
    if (config === undefined) return false;
    const origin = endpointOrigin(endpoint);
    let health = this.#health.get(origin);
    if (!health) {
      health = { consecutiveErrors: 0, ejections: 0, ejectedUntil: 0 };
      this.#health.set(origin, health);
    }
    const now = this.clock.now();
    if (health.ejectedUntil > now) return false;
    health.consecutiveErrors++;
    if (health.consecutiveErrors < config.consecutiveErrors) return false;
    if (this.#ejectedCount(node, now) >= maxEjectable(node.endpoints.length, config)) return false;
    health.ejections = decayed(health, config, now) + 1;
    health.ejectedUntil = now + config.baseEjectionMs * health.ejections;
    health.consecutiveErrors = 0;
    return true;
  }

  /** Endpoints ejected now, for the admin endpoint. */
  ejected(): EjectedEndpoint[] {
    const now = this.clock.now();
    const out: EjectedEndpoint[] = [];
    for (const [endpoint, h] of this.#health)
      if (h.ejectedUntil > now) out.push({ endpoint, ejectedUntil: h.ejectedUntil, ejections: h.ejections });
    return out;
  }

  #ejectedCount(node: MeshVirtualNode, now: number): number {
    let count = 0;
    for (const endpoint of node.endpoints) {
      const h = this.#health.get(endpointOrigin(endpoint));
      if (h !== undefined && h.ejectedUntil > now) count++;
    }
    return count;
  }
}

function maxEjectable(endpoints: number, config: MeshOutlierDetection): number {
  if (config.maxEjectionPercent <= 0) return 0;
  return Math.max(1, Math.floor((endpoints * config.maxEjectionPercent) / 100));
}

/** The multiplier after the healthy time since the last ejection ended. */
function decayed(health: EndpointHealth, config: MeshOutlierDetection, now: number): number {
  if (health.ejections === 0) return 0;
  const healthyFor = now - health.ejectedUntil;
  return Math.max(0, health.ejections - Math.floor(healthyFor / config.intervalMs));
}
