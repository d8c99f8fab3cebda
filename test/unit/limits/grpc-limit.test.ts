import { status as GrpcStatus } from '@grpc/grpc-js';
import { ManualClock, TooManyRequestsError, UnavailableError, ValidationError } from '@meshpress/client';
import { describe, expect, it } from 'vitest';
import { ERROR_CODE_KEY, ERROR_DETAILS_KEY, toGrpcStatus } from '../../../server/src/grpc/errors.js';
import { ANONYMOUS_APP, AppConcurrencyLimiter, withGrpcLimit } from '../../../server/src/limits/index.js';

function setup() {
  const clock = new ManualClock();
  const limiter = new AppConcurrencyLimiter({
    clock,
    initialLimit: 2,
    minLimit: 1,
    maxLimit: 8,
    totalLimit: 100,
    algorithm: { kind: 'aimd', backoffRatio: 0.5, minThresholdMs: 50 },
  });
  return { clock, limiter };
}

/** A handler body that stays pending until the test resolves it. */
function pending<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('withGrpcLimit', () => {
  it('refuses a call over the app limit with TooManyRequestsError, which gRPC answers RESOURCE_EXHAUSTED with the retry delay', async () => {
    const { limiter } = setup();
    const gates = [pending<string>(), pending<string>()];
    const running = gates.map((gate) => withGrpcLimit(limiter, 'flood', () => gate.promise, { held: true }));
    const refused = await withGrpcLimit(limiter, 'flood', async () => 'ran').catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(TooManyRequestsError);
    // Another app is not affected.
    expect(await withGrpcLimit(limiter, 'calm', async () => 'served')).toBe('served');

    const status = toGrpcStatus(refused as TooManyRequestsError, 'req-1');
    expect(status.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(status.metadata?.get(ERROR_CODE_KEY)).toEqual(['TOO_MANY_REQUESTS']);
    expect(JSON.parse(String(status.metadata?.get(ERROR_DETAILS_KEY)[0]))).toEqual({
      retryAfterMs: limiter.retryAfterMs,
    });

    for (const gate of gates) gate.resolve('done');
    expect(await Promise.all(running)).toEqual(['done', 'done']);
    expect(limiter.inflightOf('flood')).toBe(0);
  });

  it('backs the app off when its calls fail with overload errors, but not for caller mistakes', async () => {
    const { clock, limiter } = setup();
    await withGrpcLimit(limiter, 'app', async () => {
      clock.advance(1);
      throw new ValidationError('bad', []);
    }).catch(() => undefined);
    const afterMistake = limiter.limitOf('app');
    expect(afterMistake).toBeGreaterThanOrEqual(2);
    await withGrpcLimit(limiter, 'app', async () => {
      clock.advance(1);
      throw new UnavailableError('store down');
    }).catch(() => undefined);
    expect(limiter.limitOf('app')).toBe(Math.floor(afterMistake / 2));
    expect(limiter.inflightOf('app')).toBe(0);
  });

  it('excludes held calls from latency samples', async () => {
    const { clock, limiter } = setup();
    for (let i = 0; i < 3; i++) await withGrpcLimit(limiter, 'poller', async () => clock.advance(5));
    const before = limiter.limitOf('poller');
    const gates = [pending<void>(), pending<void>()];
    const held = gates.map((gate) => withGrpcLimit(limiter, 'poller', () => gate.promise, { held: true }));
    clock.advance(60_000);
    for (const gate of gates) gate.resolve();
    await Promise.all(held);
    expect(limiter.limitOf('poller')).toBeGreaterThanOrEqual(before);
  });

  it('limits calls without an app together', async () => {
    const { limiter } = setup();
    const gate = pending<void>();
    const running = [
      withGrpcLimit(limiter, undefined, () => gate.promise),
      withGrpcLimit(limiter, undefined, () => gate.promise),
    ];
    expect(limiter.inflightOf(ANONYMOUS_APP)).toBe(2);
    await expect(withGrpcLimit(limiter, undefined, async () => undefined)).rejects.toBeInstanceOf(
      TooManyRequestsError,
    );
    gate.resolve();
    await Promise.all(running);
  });
});
