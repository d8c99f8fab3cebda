import type { IncomingHttpHeaders } from 'node:http';
import type { Caller } from '../core/caller.js';
import { callerName } from '../core/request-id.js';

/** The caller a REST request names in its headers (asserted, not authenticated: the authorizer decides). */
export function callerFromHeaders(headers: IncomingHttpHeaders, requestId: string): Caller {
  return {
    principal: callerName(headers['x-meshpress-principal']) ?? 'anonymous',
    app: callerName(headers['x-meshpress-app']),
    requestId,
  };
}
