/**
 * Values the compiler fills in when a document leaves a field out. They follow Envoy's defaults where
 * Envoy has one, so a snapshot served later over xDS behaves the same as the one compiled here.
 */

/** Route timeout when `timeoutMs` is absent (Envoy's route timeout default). */
export const DEFAULT_MESH_ROUTE_TIMEOUT_MS = 15_000;
/** Effective priority of a route without `priority`: after every route that has one. */
export const DEFAULT_MESH_ROUTE_PRIORITY = 1001;
export const MAX_MESH_ROUTE_PRIORITY = 1000;

export const DEFAULT_MESH_RETRY_BACKOFF_BASE_MS = 25;
/** Envoy caps the backoff at ten times the base interval. */
export const DEFAULT_MESH_RETRY_BACKOFF_MAX_FACTOR = 10;

export const DEFAULT_MESH_MAX_CONNECTIONS = 1024;
export const DEFAULT_MESH_MAX_PENDING_REQUESTS = 1024;
export const DEFAULT_MESH_MAX_REQUESTS = 1024;

export const DEFAULT_MESH_OUTLIER_CONSECUTIVE_ERRORS = 5;
export const DEFAULT_MESH_OUTLIER_INTERVAL_MS = 10_000;
export const DEFAULT_MESH_OUTLIER_BASE_EJECTION_MS = 30_000;
export const DEFAULT_MESH_OUTLIER_MAX_EJECTION_PERCENT = 10;

/** Document size limits: generous for real meshes, small enough that a compile stays well under a second. */
export const MAX_MESH_ROUTES = 10_000;
export const MAX_MESH_VIRTUAL_NODES = 10_000;
export const MAX_MESH_ENDPOINTS_PER_NODE = 1_000;
export const MAX_MESH_WEIGHTED_TARGETS = 10;
export const MAX_MESH_TARGET_WEIGHT = 1000;
export const MAX_MESH_HEADER_MATCHERS = 16;
export const MAX_MESH_POLICY_RULES = 10_000;
export const MAX_MESH_RULE_ENTRIES = 1_000;
export const MAX_HEADER_REGEX_LENGTH = 256;
export const MAX_HEADER_VALUE_LENGTH = 4096;
