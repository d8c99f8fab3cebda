import {
  ClosedError,
  ConflictError,
  type ErrorCode,
  ForbiddenError,
  IntegrityError,
  InternalError,
  MalformedRequestError,
  MeshpressError,
  MisdirectedError,
  PayloadTooLargeError,
  TooManyRequestsError,
  TopicNotFoundError,
  UnauthenticatedError,
  UnavailableError,
  ValidationError,
  VersionNotFoundError,
} from './errors.js';

interface Details {
  readonly topic?: unknown;
  readonly version?: unknown;
  readonly issues?: unknown;
  readonly retryAfterMs?: unknown;
  readonly size?: unknown;
  readonly limit?: unknown;
}

/**
 * The error class for a stable code read off the wire (REST error body, gRPC trailers), so callers can
 * `instanceof`-check whichever transport they use. Unknown codes become INTERNAL.
 */
export function errorFromWire(code: string, message: string, details: unknown): MeshpressError {
  const d = (typeof details === 'object' && details !== null ? details : {}) as Details;
  switch (code as ErrorCode) {
    case 'VALIDATION_FAILED':
      return new ValidationError(message, Array.isArray(d.issues) ? d.issues : []);
    case 'MALFORMED_REQUEST':
      return new MalformedRequestError(message);
    case 'TOPIC_NOT_FOUND':
      return new TopicNotFoundError(String(d.topic ?? ''));
    case 'VERSION_NOT_FOUND':
      return new VersionNotFoundError(String(d.topic ?? ''), Number(d.version ?? 0));
    case 'PAYLOAD_TOO_LARGE':
      return new PayloadTooLargeError(Number(d.size ?? -1), Number(d.limit ?? -1));
    case 'INTEGRITY_MISMATCH':
      return new IntegrityError(message, details);
    case 'FORBIDDEN':
      return new ForbiddenError(message, details);
    case 'UNAUTHENTICATED':
      return new UnauthenticatedError(message);
    case 'TOO_MANY_REQUESTS':
      return new TooManyRequestsError(message, typeof d.retryAfterMs === 'number' ? d.retryAfterMs : 1000);
    case 'CONFLICT':
      return new ConflictError(message, details);
    case 'UNAVAILABLE':
      return new UnavailableError(message);
    case 'MISDIRECTED':
      return new MisdirectedError(message, details);
    case 'CLOSED':
      // The server is shutting down: for a client that is "the service is unavailable right now".
      return new UnavailableError(message, { cause: new ClosedError('meshpress server') });
    default:
      return new InternalError(message || `server error ${code}`);
  }
}

/** Keeps MeshpressErrors; anything else (network failure, abort) becomes UnavailableError with it as cause. */
export function asTransportError(error: unknown, what: string): MeshpressError {
  if (error instanceof MeshpressError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new UnavailableError(`${what} failed: ${reason}`, { cause: error });
}
