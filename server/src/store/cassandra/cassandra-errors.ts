import { InternalError, MeshpressError, UnavailableError } from '@meshpress/client';
import { errors, types } from 'cassandra-driver';

const codes = types.responseErrorCodes;

/** Server responses that say "not now" (replicas down, overloaded, slow): worth retrying later. */
const TRANSIENT_RESPONSES: ReadonlySet<number> = new Set([
  codes.unavailableException,
  codes.overloaded,
  codes.isBootstrapping,
  codes.writeTimeout,
  codes.readTimeout,
]);

/** True for failures that say nothing about the request itself: the cluster could not be reached in time. */
export function isTransient(error: unknown): boolean {
  return (
    error instanceof errors.NoHostAvailableError ||
    error instanceof errors.OperationTimedOutError ||
    error instanceof errors.BusyConnectionError ||
    (error instanceof errors.ResponseError && TRANSIENT_RESPONSES.has(error.code))
  );
}

/**
 * A timeout of a lightweight transaction leaves its outcome unknown (it may still be applied). Callers
 * that compare-and-set can retry: the comparison tells them what happened.
 */
export function isTimeout(error: unknown): boolean {
  return (
    error instanceof errors.OperationTimedOutError ||
    (error instanceof errors.ResponseError &&
      (error.code === codes.writeTimeout || error.code === codes.readTimeout))
  );
}

/**
 * Turns what cassandra-driver throws into meshpress errors: an unreachable or overloaded cluster is
 * UNAVAILABLE (callers may retry); anything else (bad CQL, schema mismatch, protocol errors) is a fault of
 * ours, INTERNAL. The driver error stays as `cause`.
 */
export function toMeshpressError(error: unknown): MeshpressError {
  if (error instanceof MeshpressError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (isTransient(error)) return new UnavailableError(`Cassandra unavailable: ${message}`, { cause: error });
  return new InternalError(`Cassandra config store failed: ${message}`, { cause: error });
}
