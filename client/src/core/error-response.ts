import { errorView } from '../wire/rest-views.js';
import { InternalError, type MeshpressError, TooManyRequestsError, UnavailableError } from './errors.js';
import { errorFromWire } from './wire-error.js';

/** What the request was about, to fill in details an error body may lack. */
export interface ErrorContext {
  readonly topic?: string | undefined;
  readonly version?: number | undefined;
  /** e.g. `GET /v1/topics/x`, for messages about answers that are not meshpress errors. */
  readonly operation: string;
  /**
   * How an answer without a meshpress error body (a proxy's page, a wrong base URL) is classified:
   * `by-status` (default; the publisher API, where a wrong URL is the caller's to fix) or `unavailable`
   * (the consumer: whatever answered, the service is not usable right now; try the next server later).
   */
  readonly foreignAnswers?: 'by-status' | 'unavailable';
}

/**
 * Turns a non-2xx answer into the MeshpressError subclass the server threw, so callers can
 * `instanceof`-check whatever transport carried it (the publisher API and the consumer's REST transport
 * both use it). Answers without a meshpress error body (a proxy's HTML page, a wrong base URL) are
 * classified by status alone, or as unavailable (see ErrorContext.foreignAnswers). A 429 carries the
 * body's retryAfterMs, else the Retry-After header, else 1 s.
 */
export function decodeErrorResponse(
  status: number,
  bodyText: string,
  headers: { get(name: string): string | null },
  context: ErrorContext,
): MeshpressError {
  const parsed = errorView.safeParse(parseJson(bodyText));
  if (!parsed.success)
    return context.foreignAnswers === 'unavailable'
      ? new UnavailableError(`${context.operation} answered HTTP ${status}`)
      : byStatus(status, bodyText, context);
  const { code, message, details: rawDetails } = parsed.data.error;
  const details = isRecord(rawDetails) ? rawDetails : {};
  if (code === 'INTERNAL' || !KNOWN_CODES.has(code)) return byStatus(status, `${code}: ${message}`, context);
  // Fill in what the request was about when the body leaves it out, and Retry-After for 429s.
  return errorFromWire(code, message, {
    ...details,
    topic: details.topic ?? context.topic,
    version: details.version ?? context.version,
    retryAfterMs: retryAfterMs(details, headers),
  });
}

const KNOWN_CODES: ReadonlySet<string> = new Set([
  'VALIDATION_FAILED',
  'MALFORMED_REQUEST',
  'TOPIC_NOT_FOUND',
  'VERSION_NOT_FOUND',
  'PAYLOAD_TOO_LARGE',
  'INTEGRITY_MISMATCH',
  'FORBIDDEN',
  'UNAUTHENTICATED',
  'TOO_MANY_REQUESTS',
  'CONFLICT',
  'UNAVAILABLE',
  'MISDIRECTED',
  'CLOSED',
]);

function byStatus(status: number, text: string, context: ErrorContext): MeshpressError {
  const excerpt = text.replace(/\s+/g, ' ').trim().slice(0, 200);
  const what = `${context.operation} answered HTTP ${status}${excerpt ? `: ${excerpt}` : ''}`;
  if (status === 502 || status === 503 || status === 504) return new UnavailableError(what);
  if (status === 429) return new TooManyRequestsError(what, 1000);
  if (status === 404) return new InternalError(`${what} (is the base URL a meshpress server?)`);
  return new InternalError(what);
}

function retryAfterMs(
  details: Record<string, unknown>,
  headers: { get(name: string): string | null },
): number {
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
