import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { asksToWait } from '../core/poll-input.js';
import { callerName } from '../core/request-id.js';
import type { AppConcurrencyLimiter } from './app-concurrency-limiter.js';
import { ANONYMOUS_APP, retryAfterSeconds } from './app-key.js';
import type { Listener } from './listener.js';

/** Probes and scrapers are never refused: a 429 on /healthz would look like an outage. */
export const DEFAULT_UNLIMITED_ROUTES: readonly string[] = ['/healthz', '/metrics', '/openapi.json'];

export interface RestLimiterOptions {
  /** The partition a request counts against; undefined leaves it unlimited. Default: `appKeyOf`. */
  readonly keyOf?: (request: FastifyRequest) => string | undefined;
  /** Whether a request was held on purpose (its duration is not a latency sample). Default: `isHeldPoll`. */
  readonly isHeld?: (request: FastifyRequest) => boolean;
}

/** The caller's app from `x-meshpress-app` (as the REST adapter reads it); undefined for unlimited routes. */
export function appKeyOf(request: FastifyRequest): string | undefined {
  const route = request.routeOptions.url;
  if (route !== undefined && DEFAULT_UNLIMITED_ROUTES.includes(route)) return undefined;
  return callerName(request.headers['x-meshpress-app']) ?? ANONYMOUS_APP;
}

/**
 * A poll with `waitMs > 0` may have been held until a change or the deadline, so its duration is excluded
 * from latency samples; one that happened to answer at once is excluded too, which costs one sample.
 */
export function isHeldPoll(request: FastifyRequest): boolean {
  return request.routeOptions.url === '/v1/poll' && asksToWait(request.body);
}

/**
 * Limits a Fastify app per calling app. Install before the app is ready (listen/inject): an `onRequest`
 * hook admits the request or throws TooManyRequestsError, which the meshpress error handler answers with
 * 429, code TOO_MANY_REQUESTS and Retry-After.
 */
export function installRestLimiter(
  app: FastifyInstance,
  limiter: AppConcurrencyLimiter,
  options: RestLimiterOptions = {},
): void {
  const keyOf = options.keyOf ?? appKeyOf;
  const isHeld = options.isHeld ?? isHeldPoll;
  // Callback style: an async hook costs a promise and a microtask per request.
  app.addHook('onRequest', (request, reply, done) => {
    const key = keyOf(request);
    if (key === undefined) return done();
    const listener = limiter.acquire(key);
    if (!listener) {
      reply.header('retry-after', retryAfterSeconds(limiter.retryAfterMs));
      return done(limiter.tooManyRequests(key));
    }
    releaseWhenDone(reply.raw, listener, () => isHeld(request));
    done();
  });
}

/**
 * Reports an admitted request's outcome from its raw response's events, not from an `onResponse` hook:
 * Fastify runs `onResponse` on 'finish' only, and a caller that hangs up on a held long-poll never gets
 * a 'finish', so its slot would leak. Every response ends with 'close': ended by then means answered
 * (the outcome is reported, even if the caller left before the last bytes were flushed), not ended
 * means abandoned. One listener rather than one per event: every poll pays for what is registered here,
 * and a held long-poll keeps it until answered.
 */
export function releaseWhenDone(response: ServerResponse, listener: Listener, isHeld: () => boolean): void {
  response.once('close', () => {
    if (response.writableEnded) report(listener, response.statusCode, isHeld());
    else listener.onIgnore();
  });
}

function report(listener: Listener, status: number, held: boolean): void {
  // 5xx and request timeouts mean the server could not keep up; a 4xx is the caller's mistake, answered
  // promptly, so it is an ordinary sample.
  if (status >= 500 || status === 408) listener.onDropped();
  else listener.onSuccess({ held });
}
