import { status as GrpcStatus } from '@grpc/grpc-js';
import { type ErrorCode, InternalError, MeshpressError } from '@meshpress/client';

/** How each stable error code surfaces on each transport. */
export const ERROR_STATUS: Record<ErrorCode, { http: number; grpc: GrpcStatus }> = {
  VALIDATION_FAILED: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  MALFORMED_REQUEST: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  TOPIC_NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND },
  VERSION_NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND },
  PAYLOAD_TOO_LARGE: { http: 413, grpc: GrpcStatus.RESOURCE_EXHAUSTED },
  INTEGRITY_MISMATCH: { http: 422, grpc: GrpcStatus.FAILED_PRECONDITION },
  FORBIDDEN: { http: 403, grpc: GrpcStatus.PERMISSION_DENIED },
  UNAUTHENTICATED: { http: 401, grpc: GrpcStatus.UNAUTHENTICATED },
  TOO_MANY_REQUESTS: { http: 429, grpc: GrpcStatus.RESOURCE_EXHAUSTED },
  CONFLICT: { http: 409, grpc: GrpcStatus.ABORTED },
  UNAVAILABLE: { http: 503, grpc: GrpcStatus.UNAVAILABLE },
  MISDIRECTED: { http: 421, grpc: GrpcStatus.UNIMPLEMENTED },
  CLOSED: { http: 503, grpc: GrpcStatus.UNAVAILABLE },
  INTERNAL: { http: 500, grpc: GrpcStatus.INTERNAL },
};

/** Any thrown value as a MeshpressError; unknown failures become INTERNAL without leaking their text. */
export function asMeshpressError(err: unknown): MeshpressError {
  if (err instanceof MeshpressError) return err;
  return new InternalError('internal error', { cause: err });
}
