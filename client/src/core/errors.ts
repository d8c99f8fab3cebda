/**
 * Every failure meshpress reports has one class with a stable `code`. The server maps codes to
 * HTTP and gRPC statuses; clients map error bodies back to the same classes, so callers can
 * `instanceof`-check or switch on `code` whichever transport they use.
 */

export interface FieldIssue {
  /** Dotted path of the offending field, e.g. `scopes.1` or `body.metadata.owner`. */
  readonly path: string;
  readonly message: string;
}

export type ErrorCode =
  | 'VALIDATION_FAILED'
  | 'MALFORMED_REQUEST'
  | 'TOPIC_NOT_FOUND'
  | 'VERSION_NOT_FOUND'
  | 'PAYLOAD_TOO_LARGE'
  | 'INTEGRITY_MISMATCH'
  | 'FORBIDDEN'
  | 'UNAUTHENTICATED'
  | 'TOO_MANY_REQUESTS'
  | 'CONFLICT'
  | 'UNAVAILABLE'
  | 'MISDIRECTED'
  | 'CLOSED'
  | 'INTERNAL';

export class MeshpressError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details;
  }

  toJSON(): { code: ErrorCode; message: string; details?: unknown } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

/** Input that fails validation; `issues` names each bad field. */
export class ValidationError extends MeshpressError {
  readonly issues: readonly FieldIssue[];
  constructor(message: string, issues: readonly FieldIssue[], options: { cause?: unknown } = {}) {
    super('VALIDATION_FAILED', message, { ...options, details: { issues } });
    this.issues = issues;
  }
}

/** Bytes that cannot be parsed at all (malformed JSON, protobuf, YAML). */
export class MalformedRequestError extends MeshpressError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('MALFORMED_REQUEST', message, options);
  }
}

export class TopicNotFoundError extends MeshpressError {
  constructor(readonly topic: string) {
    super('TOPIC_NOT_FOUND', `topic '${topic}' does not exist`, { details: { topic } });
  }
}

export class VersionNotFoundError extends MeshpressError {
  constructor(
    readonly topic: string,
    readonly version: number,
  ) {
    super('VERSION_NOT_FOUND', `version ${version} of topic '${topic}' does not exist`, {
      details: { topic, version },
    });
  }
}

export class PayloadTooLargeError extends MeshpressError {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super('PAYLOAD_TOO_LARGE', `payload of ${size} bytes exceeds the limit of ${limit} bytes`, {
      details: { size, limit },
    });
  }
}

/** Downloaded bytes whose sha256 or size does not match the version record. */
export class IntegrityError extends MeshpressError {
  constructor(message: string, details?: unknown) {
    super('INTEGRITY_MISMATCH', message, { details });
  }
}

export class ForbiddenError extends MeshpressError {
  constructor(message: string, details?: unknown) {
    super('FORBIDDEN', message, { details });
  }
}

export class UnauthenticatedError extends MeshpressError {
  constructor(message: string) {
    super('UNAUTHENTICATED', message);
  }
}

export class TooManyRequestsError extends MeshpressError {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super('TOO_MANY_REQUESTS', message, { details: { retryAfterMs } });
  }
}

export class ConflictError extends MeshpressError {
  constructor(message: string, details?: unknown) {
    super('CONFLICT', message, { details });
  }
}

/** A dependency (store, blob store, the service itself) cannot be reached. */
export class UnavailableError extends MeshpressError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('UNAVAILABLE', message, options);
  }
}

/** A request sent to an instance that does not serve its role (e.g. a publish to a consume-only instance). */
export class MisdirectedError extends MeshpressError {
  constructor(message: string, details?: unknown) {
    super('MISDIRECTED', message, { details });
  }
}

/** An operation on something already closed. */
export class ClosedError extends MeshpressError {
  constructor(what: string) {
    super('CLOSED', `${what} is closed`);
  }
}

export class InternalError extends MeshpressError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('INTERNAL', message, options);
  }
}
