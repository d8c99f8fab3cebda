import { ERROR_HEADER, OVERFLOW_HEADER } from './headers.js';

/**
 * Codes of the responses the sidecar answers itself (never an upstream's). Each is a stable value a
 * caller can switch on, sent both in the body (`error.code`) and in the `x-meshpress-error` header.
 */
export type SidecarErrorCode =
  /** No routes document has been received yet (the empty snapshot). */
  | 'NO_ROUTES'
  /** No route of the current snapshot matches the request. */
  | 'ROUTE_NOT_FOUND'
  /** The virtual service's token bucket is empty. */
  | 'RATE_LIMITED'
  /** A circuit-breaker limit of the target virtual node is reached. */
  | 'OVERFLOW'
  /** Every endpoint of the target virtual node is ejected. */
  | 'NO_HEALTHY_UPSTREAM'
  /** The route timeout, or the last attempt's per-try timeout, passed. */
  | 'UPSTREAM_TIMEOUT'
  /** The last attempt could not connect. */
  | 'UPSTREAM_CONNECT_FAILURE'
  /** The last attempt's connection was reset before a response. */
  | 'UPSTREAM_RESET'
  /** The inbound policy denies the caller. */
  | 'FORBIDDEN'
  /** The request body exceeds the sidecar's limit. */
  | 'BODY_TOO_LARGE'
  /** The request could not be read (malformed, or the caller went away). */
  | 'BAD_REQUEST'
  /** Inbound: the request target is not a path (`http://host/path`, `OPTIONS *`, `//host/path`). */
  | 'INVALID_REQUEST_TARGET'
  /** The HTTP client refused to send the request on as it is (a repeated Host, a header value HTTP does not allow). */
  | 'INVALID_REQUEST'
  /** The sidecar is shutting down. */
  | 'DRAINING';

export type OverflowLimit = 'max-requests' | 'max-pending-requests';

/** A response the sidecar generates instead of forwarding. Immutable; shared where nothing varies. */
export interface Rejection {
  readonly status: number;
  readonly code: SidecarErrorCode;
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>>;
  /** Headers specific to this rejection (e.g. retry-after, x-meshpress-overflow). */
  readonly headers?: Readonly<Record<string, string>>;
}

export function rejection(
  status: number,
  code: SidecarErrorCode,
  message: string,
  extra: Pick<Rejection, 'details' | 'headers'> = {},
): Rejection {
  return Object.freeze({ status, code, message, ...extra });
}

export const NO_ROUTES = rejection(503, 'NO_ROUTES', 'no routes document has been received yet');
export const DRAINING = rejection(503, 'DRAINING', 'the sidecar is shutting down');

export function routeNotFound(method: string, path: string): Rejection {
  return rejection(404, 'ROUTE_NOT_FOUND', `no route matches ${method} ${path}`, {
    details: { method, path },
  });
}

export function rateLimited(retryAfterMs: number): Rejection {
  return rejection(429, 'RATE_LIMITED', 'the virtual service rate limit is exceeded', {
    details: { retryAfterMs },
    headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) },
  });
}

export function overflow(virtualNode: string, limit: OverflowLimit): Rejection {
  return rejection(503, 'OVERFLOW', `circuit breaker of '${virtualNode}': ${limit} reached`, {
    details: { virtualNode, limit },
    headers: { [OVERFLOW_HEADER]: limit },
  });
}

export function noHealthyUpstream(virtualNode: string): Rejection {
  return rejection(503, 'NO_HEALTHY_UPSTREAM', `every endpoint of '${virtualNode}' is ejected`, {
    details: { virtualNode },
  });
}

export function forbidden(app: string | undefined, method: string, path: string, empty: boolean): Rejection {
  return rejection(
    403,
    'FORBIDDEN',
    empty
      ? 'no policy document has been received yet: every request is denied'
      : `the policy denies ${app === undefined ? 'an unidentified caller' : `app '${app}'`} ${method} ${path}`,
    { details: { app: app ?? null, method, path } },
  );
}

/** Serialises a rejection in the meshpress error shape: `{ "error": { code, message, details } }`. */
export function rejectionBody(r: Rejection): string {
  return JSON.stringify({
    error:
      r.details === undefined
        ? { code: r.code, message: r.message }
        : { code: r.code, message: r.message, details: r.details },
  });
}

/** Every header a rejection response carries besides the caller's extras. */
export function rejectionHeaders(r: Rejection, body: string): Record<string, string> {
  return {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    [ERROR_HEADER]: r.code,
    ...r.headers,
  };
}
