import type { HeaderLookup } from './header-matcher.js';
import type { MeshPolicyRule, MtlsMode, PolicyAction } from './policy-schema.js';
import type { MeshRetryEvent, MeshRouteMatch } from './routes-schema.js';
import type { AliasTable } from './weighted-picker.js';

export interface MeshEndpoint {
  readonly host: string;
  readonly port: number;
  readonly scheme: 'http' | 'https';
}

export interface MeshConnectionPool {
  readonly maxConnections: number;
  readonly maxPendingRequests: number;
  readonly maxRequests: number;
}

export interface MeshOutlierDetection {
  readonly consecutiveErrors: number;
  readonly intervalMs: number;
  readonly baseEjectionMs: number;
  readonly maxEjectionPercent: number;
}

/** A virtual node with every default filled in. */
export interface MeshVirtualNode {
  readonly name: string;
  readonly endpoints: readonly MeshEndpoint[];
  readonly connectionPool: MeshConnectionPool;
  /** Undefined: outlier ejection is off for this node. */
  readonly outlierDetection: MeshOutlierDetection | undefined;
}

export interface MeshRetryPolicy {
  readonly maxRetries: number;
  readonly perTryTimeoutMs: number;
  readonly retryOn: readonly MeshRetryEvent[];
  readonly backoff: { readonly baseIntervalMs: number; readonly maxIntervalMs: number };
}

export interface MeshRateLimit {
  readonly requestsPerSecond: number;
  readonly burst: number;
}

export interface RouteTarget {
  readonly virtualNode: string;
  readonly weight: number;
  readonly node: MeshVirtualNode;
}

/** What to do with a request that matched a route. One frozen object per route, shared by all requests. */
export interface RouteDecision {
  readonly route: string;
  readonly virtualService: string;
  /** Position in precedence order (0 is tried first). */
  readonly rank: number;
  /** The route's priority, or DEFAULT_MESH_ROUTE_PRIORITY when the document gives none. */
  readonly priority: number;
  readonly match: MeshRouteMatch;
  readonly targets: readonly RouteTarget[];
  /** Alias table over `targets`' weights, for pickTarget. */
  readonly aliasTable: AliasTable;
  readonly retryPolicy: MeshRetryPolicy | undefined;
  readonly timeoutMs: number;
}

export interface RoutesSnapshot {
  readonly kind: 'mesh.routes.v1';
  /** True only for EMPTY_ROUTES_SNAPSHOT (nothing received yet, or closed). */
  readonly empty: boolean;
  readonly virtualService: string;
  /** Every route's decision, in precedence order. */
  readonly routes: readonly RouteDecision[];
  readonly virtualNodes: readonly MeshVirtualNode[];
  /** Undefined: no rate limit. */
  readonly rateLimit: MeshRateLimit | undefined;
  /**
   * The decision of the first route, in precedence order, whose path, method and header conditions all
   * hold; undefined when none does. `path` may carry a query string (ignored). Does not allocate unless
   * the path has a query string.
   */
  route(method: string, path: string, headers: HeaderLookup): RouteDecision | undefined;
  virtualNode(name: string): MeshVirtualNode | undefined;
}

export interface PolicySnapshot {
  readonly kind: 'mesh.policy.v1';
  /** True only for EMPTY_POLICY_SNAPSHOT (nothing received yet, or closed); it denies everything. */
  readonly empty: boolean;
  readonly service: string;
  readonly mtlsMode: MtlsMode;
  readonly defaultAction: PolicyAction;
  readonly rules: readonly MeshPolicyRule[];
  /**
   * ALLOW or DENY for one inbound request. `sourceApp` is the caller's app (undefined when unknown);
   * `principal` its verified certificate identity (undefined or '' without one). With mtls STRICT a
   * request without a principal is denied before any rule; with DISABLE the principal is ignored.
   * Otherwise the first rule (document order) that matches decides, else `defaultAction`.
   */
  decide(
    sourceApp: string | undefined,
    principal: string | undefined,
    method: string,
    path: string,
  ): PolicyAction;
}
