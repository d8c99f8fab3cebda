import type { AppConcurrencyLimiter } from './app-concurrency-limiter.js';
import { ANONYMOUS_APP, signalsOverload } from './app-key.js';

export interface GrpcLimitOptions {
  /** The call may be held on purpose (a Poll with waitMs > 0): its duration is not a latency sample. */
  readonly held?: boolean;
}

/**
 * Runs one gRPC handler body under `app`'s limit. A refused call throws TooManyRequestsError, which the
 * gRPC adapter answers with RESOURCE_EXHAUSTED and `retryAfterMs` in the meshpress-error-details trailer.
 * Failures signalling overload (UNAVAILABLE, INTERNAL) back the app's limit off; others are samples.
 */
export async function withGrpcLimit<T>(
  limiter: AppConcurrencyLimiter,
  app: string | undefined,
  fn: () => Promise<T>,
  options: GrpcLimitOptions = {},
): Promise<T> {
  const key = app ?? ANONYMOUS_APP;
  const listener = limiter.acquire(key);
  if (!listener) throw limiter.tooManyRequests(key);
  const held = options.held ?? false;
  try {
    const result = await fn();
    listener.onSuccess({ held });
    return result;
  } catch (err) {
    if (signalsOverload(err)) listener.onDropped();
    else listener.onSuccess({ held });
    throw err;
  }
}
