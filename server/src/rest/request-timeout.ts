import { z } from 'zod';

/**
 * How long a request may take to arrive in full, headers and body. Past it Node answers 408 and closes the
 * connection, so a caller that stops sending mid-body (network gone without FIN or RST) frees its
 * limiter permit instead of holding it for the life of the process. Node's own default; Fastify turns it
 * off. Generous because publishes carry up to MESHPRESS_MAX_PAYLOAD_BYTES over links of any speed.
 *
 * It never cuts a long-poll short: Node stops timing a request once its last byte has arrived, and a
 * held poll has arrived in full before it is held.
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 300_000;
/** Node's timers hold at most a signed 32-bit count of milliseconds. */
export const MAX_REQUEST_TIMEOUT_MS = 2 ** 31 - 1;

export const requestTimeoutSchema = z
  .number()
  .int()
  .min(1)
  .max(MAX_REQUEST_TIMEOUT_MS)
  .default(DEFAULT_REQUEST_TIMEOUT_MS);

/**
 * Node looks for expired requests on an interval (30 s by default), so a timeout is enforced up to one
 * interval late; a quarter of the timeout keeps that within 25 % without polling faster than needed.
 */
export function connectionsCheckingInterval(requestTimeoutMs: number): number {
  return Math.min(30_000, Math.max(10, Math.floor(requestTimeoutMs / 4)));
}
