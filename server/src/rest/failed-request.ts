import type { MeshpressError } from '@meshpress/client';
import type { Logger } from 'pino';
import { asMeshpressError, ERROR_STATUS } from '../core/error-status.js';
import { retryAfterSeconds } from '../limits/app-key.js';
import type { ServerMetrics } from '../metrics.js';

/** What a failed REST request is answered with. */
export interface FailedRequest {
  readonly status: number;
  readonly body: { readonly error: ReturnType<MeshpressError['toJSON']> };
  /** Whole seconds, for 429 only. */
  readonly retryAfter: string | undefined;
}

/**
 * Maps a failure to its stable code and status, counts it and logs it: 5xx at error (with the cause),
 * a caller's mistake at info. Shared by the Fastify error handler and the poll fast path, so a failure
 * reads the same whichever of them served the request.
 */
export function failedRequest(
  raw: unknown,
  metrics: ServerMetrics,
  log: Pick<Logger, 'error' | 'info'>,
): FailedRequest {
  const error = asMeshpressError(raw);
  const status = ERROR_STATUS[error.code].http;
  metrics.errors.inc({ code: error.code, transport: 'rest' });
  if (status >= 500) log.error({ err: raw, code: error.code }, 'request failed');
  else log.info({ code: error.code, message: error.message }, 'request rejected');
  const retryAfterMs =
    error.code === 'TOO_MANY_REQUESTS'
      ? ((error.details as { retryAfterMs?: number } | undefined)?.retryAfterMs ?? 1000)
      : undefined;
  return {
    status,
    body: { error: error.toJSON() },
    retryAfter: retryAfterMs === undefined ? undefined : retryAfterSeconds(retryAfterMs),
  };
}
