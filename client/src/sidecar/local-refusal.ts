import { type Rejection, rejection } from './errors.js';

/**
 * undici's codes for a request it refuses to send (InvalidArgumentError, NotSupportedError), raised
 * before anything is written: a repeated Host, a header value HTTP does not allow, a path that is not one.
 */
const REFUSAL_CODES = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED']);

/**
 * The answer to a request undici refused to send, or undefined for any other failure. Such a request
 * says nothing about the upstream (it never left) and would be refused again on a retry, so it is
 * answered as the caller's mistake: 400, with undici's reason.
 */
export function localRefusal(error: unknown): Rejection | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !REFUSAL_CODES.has(code)) return undefined;
  const reason = String((error as Error).message);
  return rejection(400, 'INVALID_REQUEST', `the request cannot be sent on: ${reason}`, {
    details: { reason },
  });
}
