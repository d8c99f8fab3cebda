export { adminView, healthView } from './admin.js';
export { Cancellation } from './cancellation.js';
export { type Admission, NodeCircuit, Waiter } from './circuit-breaker.js';
export {
  clientServers,
  DEFAULT_ADMIN_PORT,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_INBOUND_PORT,
  DEFAULT_INBOUND_TIMEOUT_MS,
  DEFAULT_LISTENER_KEEP_ALIVE_MS,
  DEFAULT_LOCAL_APP_MAX_CONNECTIONS,
  DEFAULT_MAX_REQUEST_BODY_BYTES,
  DEFAULT_OUTBOUND_PORT,
  DEFAULT_UPSTREAM_CONNECT_TIMEOUT_MS,
  DEFAULT_UPSTREAM_KEEP_ALIVE_MS,
  parseSidecarConfig,
  type SidecarConfig,
  type SidecarConfigInput,
  sidecarConfigSchema,
} from './config.js';
export { SidecarCore, type SidecarCoreOptions, sidecarCoreOptionsSchema } from './core.js';
export type { OverflowLimit, Rejection, SidecarErrorCode } from './errors.js';
export { configInputFromArgs, SIDECAR_FLAGS, usage as sidecarUsage } from './flags.js';
export * from './headers.js';
export { InboundGuard, type LocalAppOptions, type PolicyState } from './inbound-guard.js';
export { jsonLogger, type LogLevel } from './logger.js';
export { NodeRegistry, type NodeRuntime } from './node-registry.js';
export { type OutboundPlan, OutboundProxy, type OutboundRequest } from './outbound-proxy.js';
export { type EjectedEndpoint, endpointOrigin, OutlierDetector } from './outlier-detector.js';
export {
  type AttemptFailure,
  classifyUpstreamError,
  isRetriableFailure,
  isRetriableStatus,
} from './retry-policy.js';
export {
  AttemptAbort,
  type AttemptResult,
  CANCELLED,
  PER_TRY_TIMEOUT,
  type RetryOutcome,
  type RetryParams,
  ROUTE_TIMEOUT,
  runWithRetries,
} from './retry-runner.js';
export { type AppliedVersion, INITIAL_ROUTES_STATE, type RoutesState } from './routes-state.js';
export { type RunningSidecar, type SidecarDeps, startSidecar } from './sidecar.js';
export { type RouteCounters, SidecarStats, type TargetCounters } from './stats.js';
export { TokenBucket } from './token-bucket.js';
export { UndiciUpstream, type UndiciUpstreamOptions } from './undici-upstream.js';
export {
  discardBody,
  readableBody,
  type Upstream,
  type UpstreamBody,
  type UpstreamRequest,
  type UpstreamResponse,
} from './upstream.js';
export { UpstreamExchange } from './upstream-exchange.js';
