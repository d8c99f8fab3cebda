import { ValidationError } from '../core/errors.js';
import { deepFreeze } from './deep-freeze.js';
import {
  DEFAULT_MESH_MAX_CONNECTIONS,
  DEFAULT_MESH_MAX_PENDING_REQUESTS,
  DEFAULT_MESH_MAX_REQUESTS,
  DEFAULT_MESH_OUTLIER_BASE_EJECTION_MS,
  DEFAULT_MESH_OUTLIER_CONSECUTIVE_ERRORS,
  DEFAULT_MESH_OUTLIER_INTERVAL_MS,
  DEFAULT_MESH_OUTLIER_MAX_EJECTION_PERCENT,
  DEFAULT_MESH_RETRY_BACKOFF_BASE_MS,
  DEFAULT_MESH_RETRY_BACKOFF_MAX_FACTOR,
  DEFAULT_MESH_ROUTE_PRIORITY,
  DEFAULT_MESH_ROUTE_TIMEOUT_MS,
} from './defaults.js';
import { parseMeshEndpointUrl } from './endpoint-schema.js';
import { compileHeaderMatcher } from './header-matcher.js';
import { methodMask } from './methods.js';
import { CompiledRoute, RouteTable } from './route-matcher.js';
import { compareRoutePrecedence } from './route-precedence.js';
import type { MeshRetryPolicySpec, MeshVirtualNodeSpec, RoutesDocument } from './routes-schema.js';
import type {
  MeshEndpoint,
  MeshRateLimit,
  MeshRetryPolicy,
  MeshVirtualNode,
  RouteDecision,
  RoutesSnapshot,
  RouteTarget,
} from './snapshot-types.js';
import { aliasPick, buildAliasTable } from './weighted-picker.js';

/**
 * Compiles a validated routes document (see validateDocument) into a deeply frozen snapshot. Throws a
 * ValidationError if a target names a missing virtual node or a header regex is unsafe, so even an
 * unvalidated document cannot yield a snapshot that fails at request time.
 */
export function compileRoutes(doc: RoutesDocument): RoutesSnapshot {
  const nodes = doc.virtualNodes.map(compileVirtualNode);
  const nodeByName = new Map(nodes.map((node) => [node.name, node]));

  const order = doc.router.routes
    .map((route, index) => ({ route, index }))
    .sort((a, b) => compareRoutePrecedence(a.route, a.index, b.route, b.index));

  const entries = order.map(({ route, index }, rank) => {
    const path = `router.routes.${index}`;
    const targets = route.action.weightedTargets.map((target, t): RouteTarget => {
      const node = nodeByName.get(target.virtualNode);
      if (!node) {
        const message = `virtual node '${target.virtualNode}' is not defined`;
        throw new ValidationError(message, [
          { path: `${path}.action.weightedTargets.${t}.virtualNode`, message },
        ]);
      }
      return { virtualNode: target.virtualNode, weight: target.weight, node };
    });
    const decision: RouteDecision = deepFreeze({
      route: route.name,
      virtualService: doc.virtualService,
      rank,
      priority: route.priority ?? DEFAULT_MESH_ROUTE_PRIORITY,
      match: structuredClone(route.match),
      targets,
      aliasTable: buildAliasTable(targets.map((t) => t.weight)),
      retryPolicy: route.retryPolicy ? compileRetryPolicy(route.retryPolicy) : undefined,
      timeoutMs: route.timeoutMs ?? DEFAULT_MESH_ROUTE_TIMEOUT_MS,
    });
    const headers = (route.match.headers ?? []).map((h, i) =>
      compileHeaderMatcher(h, `${path}.match.headers.${i}`),
    );
    const compiled = new CompiledRoute(
      rank,
      methodMask(route.match.methods),
      Object.freeze(headers),
      decision,
    );
    return { route: compiled, path: route.match.path, prefix: route.match.prefix };
  });

  const table = new RouteTable(entries);
  const rateLimit: MeshRateLimit | undefined = doc.rateLimit && {
    requestsPerSecond: doc.rateLimit.requestsPerSecond,
    burst: doc.rateLimit.burst ?? Math.max(1, Math.ceil(doc.rateLimit.requestsPerSecond)),
  };

  return deepFreeze({
    kind: 'mesh.routes.v1',
    empty: false,
    virtualService: doc.virtualService,
    routes: entries.map((e) => e.route.decision),
    virtualNodes: nodes,
    rateLimit,
    route: (method: string, path: string, headers: (name: string) => string | undefined) =>
      table.find(method, path, headers),
    virtualNode: (name: string) => nodeByName.get(name),
  });
}

/** Chooses one of the decision's targets with probability weight / sum; `rnd` is uniform in [0, 1). */
export function pickTarget(decision: RouteDecision, rnd: number): RouteTarget {
  return decision.targets[aliasPick(decision.aliasTable, rnd)]!;
}

function compileVirtualNode(spec: MeshVirtualNodeSpec): MeshVirtualNode {
  const endpoints = spec.endpoints.map((e): MeshEndpoint => {
    if (e.url !== undefined) {
      const parsed = parseMeshEndpointUrl(e.url);
      if (parsed) return parsed;
    }
    return { host: e.host ?? '', port: e.port ?? 0, scheme: 'http' };
  });
  const pool = spec.connectionPool ?? {};
  const outlier = spec.outlierDetection;
  return deepFreeze({
    name: spec.name,
    endpoints,
    connectionPool: {
      maxConnections: pool.maxConnections ?? DEFAULT_MESH_MAX_CONNECTIONS,
      maxPendingRequests: pool.maxPendingRequests ?? DEFAULT_MESH_MAX_PENDING_REQUESTS,
      maxRequests: pool.maxRequests ?? DEFAULT_MESH_MAX_REQUESTS,
    },
    outlierDetection: outlier && {
      consecutiveErrors: outlier.consecutiveErrors ?? DEFAULT_MESH_OUTLIER_CONSECUTIVE_ERRORS,
      intervalMs: outlier.intervalMs ?? DEFAULT_MESH_OUTLIER_INTERVAL_MS,
      baseEjectionMs: outlier.baseEjectionMs ?? DEFAULT_MESH_OUTLIER_BASE_EJECTION_MS,
      maxEjectionPercent: outlier.maxEjectionPercent ?? DEFAULT_MESH_OUTLIER_MAX_EJECTION_PERCENT,
    },
  });
}

function compileRetryPolicy(spec: MeshRetryPolicySpec): MeshRetryPolicy {
  const base = spec.backoff?.baseIntervalMs ?? DEFAULT_MESH_RETRY_BACKOFF_BASE_MS;
  return {
    maxRetries: spec.maxRetries,
    perTryTimeoutMs: spec.perTryTimeoutMs,
    retryOn: [...spec.retryOn],
    backoff: {
      baseIntervalMs: base,
      maxIntervalMs: spec.backoff?.maxIntervalMs ?? base * DEFAULT_MESH_RETRY_BACKOFF_MAX_FACTOR,
    },
  };
}

const NO_ROUTES: readonly RouteDecision[] = Object.freeze([]);

/** The routes snapshot before any document arrives (and after close): no request matches a route. */
export const EMPTY_ROUTES_SNAPSHOT: RoutesSnapshot = deepFreeze({
  kind: 'mesh.routes.v1',
  empty: true,
  virtualService: '',
  routes: NO_ROUTES,
  virtualNodes: Object.freeze([]),
  rateLimit: undefined,
  route: () => undefined,
  virtualNode: () => undefined,
});
