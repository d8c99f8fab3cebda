import type { SidecarCore } from './core.js';

/** GET /healthz: liveness, and which versions are in force. 503 while draining. */
export function healthView(core: SidecarCore): Record<string, unknown> {
  return {
    status: core.draining ? 'draining' : 'ok',
    routesVersion: core.outbound.state.version ?? null,
    policyVersion: core.inbound.state.version ?? null,
  };
}

/**
 * GET /admin: the version of each topic in force and where it came from, swap counts, counters per
 * route and per target (virtual node), sidecar-generated rejections by code, inbound denials, circuit
 * occupancy and ejected endpoints.
 */
export function adminView(
  core: SidecarCore,
  identity: Readonly<Record<string, string>>,
  topics: { readonly routes?: string | undefined; readonly policy?: string | undefined },
  startedAt: number,
): Record<string, unknown> {
  const routes = core.outbound.state;
  const policy = core.inbound.state;
  const counters = core.stats.toJSON();
  const circuits: Record<string, { active: number; pending: number }> = {};
  const ejected: Record<string, unknown>[] = [];
  for (const [name, node] of core.nodes.entries()) {
    circuits[name] = { active: node.circuit.active, pending: node.circuit.pending };
    for (const e of node.outliers.ejected())
      ejected.push({
        virtualNode: name,
        endpoint: e.endpoint,
        ejectedUntil: new Date(e.ejectedUntil).toISOString(),
        ejections: e.ejections,
      });
  }
  return {
    identity,
    uptimeMs: core.clock.now() - startedAt,
    draining: core.draining,
    inFlight: core.inFlight,
    topics: {
      routes: {
        topic: topics.routes ?? null,
        version: routes.version ?? null,
        pinned: routes.pinned,
        source: routes.source,
        virtualService: routes.snapshot.empty ? null : routes.snapshot.virtualService,
        routes: routes.snapshot.routes.length,
        swaps: core.stats.swaps.routes,
      },
      policy: {
        topic: topics.policy ?? null,
        version: policy.version ?? null,
        pinned: policy.pinned,
        source: policy.source,
        service: policy.snapshot.empty ? null : policy.snapshot.service,
        mtlsMode: policy.snapshot.mtlsMode,
        swaps: core.stats.swaps.policy,
      },
    },
    rateLimit:
      routes.bucket === undefined
        ? null
        : {
            requestsPerSecond: routes.bucket.requestsPerSecond,
            burst: routes.bucket.burst,
            tokens: Math.floor(routes.bucket.tokens),
          },
    ...counters,
    denied: core.stats.inbound.denied,
    circuits,
    ejected,
  };
}
