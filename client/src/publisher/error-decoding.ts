import {
  ConflictError,
  type FieldIssue,
  ForbiddenError,
  IntegrityError,
  InternalError,
  MalformedRequestError,
  type MeshpressError,
  PayloadTooLargeError,
  TooManyRequestsError,
  TopicNotFoundError,
  UnauthenticatedError,
  UnavailableError,
  ValidationError,
  VersionNotFoundError,
} from '../core/errors.js';
import { errorView } from '../wire/rest-views.js';

/** What the request was about, to fill in details an error body may lack. */
export interface ErrorContext {
  readonly topic?: string | undefined;
  readonly version?: number | undefined;
  /** e.g. `GET /v1/topics/x`, for messages about answers that are not meshpress errors. */
  readonly operation: string;
}

type Details = Record<string, unknown> | undefined;

/**
 * Turns a non-2xx answer into the MeshpressError subclass the server threw, so callers can
 * `instanceof`-check whatever transport carried it. Answers without a meshpress error body (a proxy's
 * HTML page, a wrong base URL) are classified by status alone.
 */
export function decodeErrorResponse(
  status: number,
  bodyText: string,
  headers: { get(name: string): string | null },
  context: ErrorContext,
): MeshpressError {
  const parsed = errorView.safeParse(parseJson(bodyText));
  if (!parsed.success) return byStatus(status, bodyText, context);
  const { code, message, details: rawDetails } = parsed.data.error;
  const details = isRecord(rawDetails) ? rawDetails : undefined;
  switch (code) {
    case 'VALIDATION_FAILED':
      return new ValidationError(message, issuesOf(details));
    case 'MALFORMED_REQUEST':
      return new MalformedRequestError(message);
    case 'TOPIC_NOT_FOUND':
      return new TopicNotFoundError(stringOr(details?.topic, context.topic ?? '?'));
    case 'VERSION_NOT_FOUND':
      return new VersionNotFoundError(
        stringOr(details?.topic, context.topic ?? '?'),
        numberOr(details?.version, context.version ?? 0),
      );
    case 'PAYLOAD_TOO_LARGE':
      return new PayloadTooLargeError(numberOr(details?.size, -1), numberOr(details?.limit, -1));
    case 'INTEGRITY_MISMATCH':
      return new IntegrityError(message, rawDetails);
    case 'FORBIDDEN':
      return new ForbiddenError(message, rawDetails);
    case 'UNAUTHENTICATED':
      return new UnauthenticatedError(message);
    case 'TOO_MANY_REQUESTS':
      return new TooManyRequestsError(message, retryAfterMs(details, headers));
    case 'CONFLICT':
      return new ConflictError(message, rawDetails);
    case 'UNAVAILABLE':
    case 'CLOSED':
      return new UnavailableError(message);
    default:
      return byStatus(status, `${code}: ${message}`, context);
  }
}

function byStatus(status: number, text: string, context: ErrorContext): MeshpressError {
  const excerpt = text.replace(/\s+/g, ' ').trim().slice(0, 200);
  const what = `${context.operation} answered HTTP ${status}${excerpt ? `: ${excerpt}` : ''}`;
  if (status === 502 || status === 503 || status === 504) return new UnavailableError(what);
  if (status === 429) return new TooManyRequestsError(what, 1000);
  if (status === 404) return new InternalError(`${what} (is the base URL a meshpress server?)`);
  return new InternalError(what);
}

function issuesOf(details: Details): FieldIssue[] {
  const raw = details?.issues;
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((issue) =>
    isRecord(issue) && typeof issue.path === 'string' && typeof issue.message === 'string'
      ? [{ path: issue.path, message: issue.message }]
      : [],
  );
}

function retryAfterMs(details: Details, headers: { get(name: string): string | null }): number {
  if (typeof details?.retryAfterMs === 'number') return details.retryAfterMs;
  const seconds = Number(headers.get('retry-after'));
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 1000;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const stringOr = (value: unknown, fallback: string) => (typeof value === 'string' ? value : fallback);
const numberOr = (value: unknown, fallback: number) => (typeof value === 'number' ? value : fallback);
