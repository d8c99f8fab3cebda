import { asMeshpressError, ERROR_STATUS } from '../core/error-status.js';

/**
 * Callers that do not name their app share one partition: they are limited together, which is the nudge
 * to send `x-meshpress-app`.
 */
export const ANONYMOUS_APP = '(anonymous)';

/** Whether a failed request tells the limiter the server is overloaded (as opposed to a caller mistake). */
export function signalsOverload(err: unknown): boolean {
  return ERROR_STATUS[asMeshpressError(err).code].http >= 500;
}

/** Retry-After is whole seconds; never 0, which would invite an immediate retry. */
export function retryAfterSeconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}
