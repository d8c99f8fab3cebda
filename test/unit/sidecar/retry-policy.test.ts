import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../client/src/core/clock.js';
import type { MeshRetryEvent, MeshRetryPolicy } from '../../../client/src/mesh/index.js';
import { Cancellation } from '../../../client/src/sidecar/cancellation.js';
import {
  classifyUpstreamError,
  isRetriableFailure,
  isRetriableStatus,
} from '../../../client/src/sidecar/retry-policy.js';
import {
  type AttemptResult,
  PER_TRY_TIMEOUT,
  type RetryOutcome,
  runWithRetries,
} from '../../../client/src/sidecar/retry-runner.js';

describe('retry-on conditions (Envoy semantics)', () => {
  it('maps statuses to events', () => {
    const retried = (status: number, on: MeshRetryEvent[]) => isRetriableStatus(status, on);
    expect([500, 502, 503, 504, 599].map((s) => retried(s, ['5xx']))).toEqual([true, true, true, true, true]);
    expect([500, 501, 502, 503, 504].map((s) => retried(s, ['gateway-error']))).toEqual([
      false,
      false,
      true,
      true,
      true,
    ]);
    expect([409, 429, 404].map((s) => retried(s, ['retriable-4xx']))).toEqual([true, false, false]);
    expect([200, 409, 503].map((s) => retried(s, ['reset', 'connect-failure']))).toEqual([
      false,
      false,
      false,
    ]);
  });

  it('maps failures without a response to events', () => {
    const table = (on: MeshRetryEvent[]) =>
      (['connect-failure', 'reset', 'timeout', 'refused-stream'] as const).map((f) =>
        isRetriableFailure(f, on),
      );
    expect(table(['5xx'])).toEqual([true, true, true, true]);
    expect(table(['gateway-error'])).toEqual([true, true, true, true]);
    expect(table(['reset'])).toEqual([false, true, true, false]);
    expect(table(['connect-failure'])).toEqual([true, false, false, false]);
    expect(table(['refused-stream'])).toEqual([false, false, false, true]);
    expect(table(['retriable-4xx'])).toEqual([false, false, false, false]);
  });

  it('classifies upstream client errors', () => {
    const err = (code: string) => Object.assign(new Error(code), { code });
    expect(classifyUpstreamError(err('ECONNREFUSED'))).toBe('connect-failure');
    expect(classifyUpstreamError(err('UND_ERR_CONNECT_TIMEOUT'))).toBe('connect-failure');
    expect(classifyUpstreamError(err('UND_ERR_SOCKET'))).toBe('reset');
    expect(classifyUpstreamError(err('ECONNRESET'))).toBe('reset');
    expect(classifyUpstreamError(err('UND_ERR_HEADERS_TIMEOUT'))).toBe('timeout');
    expect(classifyUpstreamError(new Error('no code'))).toBe('reset');
  });
});

/** An attempt the test settles by hand, watching its signal. */
interface Pending {
  readonly n: number;
  readonly signal: Cancellation;
  resolve(result: AttemptResult<string>): void;
}

function harness(options: {
  policy?: Partial<MeshRetryPolicy> | null;
  timeoutMs?: number;
  random?: () => number;
}) {
  const clock = new ManualClock();
  const attempts: Pending[] = [];
  const discarded: string[] = [];
  const caller = new Cancellation();
  const policy: MeshRetryPolicy | undefined =
    options.policy === null
      ? undefined
      : {
          maxRetries: 2,
          perTryTimeoutMs: 100,
          retryOn: ['5xx'],
          backoff: { baseIntervalMs: 10, maxIntervalMs: 100 },
          ...options.policy,
        };
  let outcome: RetryOutcome<string> | undefined;
  const done = runWithRetries<string>({
    clock,
    random: options.random ?? (() => 0),
    timeoutMs: options.timeoutMs ?? 1_000,
    policy,
    controller: caller,
    attempt: (n, signal) =>
      new Promise((resolve) => {
        attempts.push({ n, signal, resolve });
      }),
    discard: (r) => discarded.push(r),
  }).then((o) => {
    outcome = o;
    return o;
  });
  const flush = async () => {
    for (let i = 0; i < 20; i++) await Promise.resolve();
  };
  return { clock, attempts, discarded, caller, done, flush, outcome: () => outcome };
}

const response = (status: number, body = `r${status}`): AttemptResult<string> => ({
  kind: 'response',
  status,
  response: body,
});

describe('runWithRetries', () => {
  it('without a retry policy makes one attempt and returns even a 5xx as is', async () => {
    const h = harness({ policy: null });
    await h.flush();
    h.attempts[0]!.resolve(response(503));
    const o = await h.done;
    expect(o).toMatchObject({ kind: 'response', status: 503, attempts: 1 });
    expect(h.attempts).toHaveLength(1);
  });

  it('retries retriable statuses up to maxRetries, discarding the responses it drops', async () => {
    const h = harness({ policy: { maxRetries: 2, retryOn: ['gateway-error'] } });
    await h.flush();
    h.attempts[0]!.resolve(response(503, 'first'));
    await h.flush();
    h.attempts[1]!.resolve(response(502, 'second'));
    await h.flush();
    h.attempts[2]!.resolve(response(504, 'third'));
    const o = await h.done;
    // Retries exhausted: the last response goes to the caller.
    expect(o).toMatchObject({ kind: 'response', status: 504, response: 'third', attempts: 3 });
    expect(h.discarded).toEqual(['first', 'second']);
    expect(h.attempts.map((a) => a.n)).toEqual([1, 2, 3]);
  });

  it('does not retry a status its retry-on conditions do not name', async () => {
    const h = harness({ policy: { retryOn: ['gateway-error'] } });
    await h.flush();
    h.attempts[0]!.resolve(response(500));
    expect(await h.done).toMatchObject({ kind: 'response', status: 500, attempts: 1 });
  });

  it('waits the jittered backoff between attempts (full ceiling when random is ~1)', async () => {
    const h = harness({
      policy: { maxRetries: 2, backoff: { baseIntervalMs: 10, maxIntervalMs: 15 } },
      random: () => 0.9999,
    });
    await h.flush();
    h.attempts[0]!.resolve(response(500));
    await h.flush();
    h.clock.advance(9);
    await h.flush();
    expect(h.attempts).toHaveLength(1);
    h.clock.advance(1);
    await h.flush();
    expect(h.attempts).toHaveLength(2);
    h.attempts[1]!.resolve(response(500));
    await h.flush();
    // base·2 = 20 is capped at maxIntervalMs = 15.
    h.clock.advance(14);
    await h.flush();
    expect(h.attempts).toHaveLength(2);
    h.clock.advance(1);
    await h.flush();
    expect(h.attempts).toHaveLength(3);
    h.attempts[2]!.resolve(response(200));
    expect(await h.done).toMatchObject({ kind: 'response', status: 200, attempts: 3 });
  });

  it('aborts an attempt at its per-try timeout and retries it when retry-on covers timeouts', async () => {
    const h = harness({ policy: { maxRetries: 1, perTryTimeoutMs: 100, retryOn: ['reset'] } });
    await h.flush();
    h.clock.advance(99);
    await h.flush();
    expect(h.attempts[0]!.signal.aborted).toBe(false);
    h.clock.advance(1);
    await h.flush();
    expect(h.attempts[0]!.signal.reason).toBe(PER_TRY_TIMEOUT);
    expect(h.attempts).toHaveLength(2);
    h.clock.advance(100);
    const o = await h.done;
    expect(o).toMatchObject({ kind: 'failure', failure: 'timeout', attempts: 2 });
  });

  it('does not retry a per-try timeout when retry-on names only connect failures', async () => {
    const h = harness({ policy: { maxRetries: 3, retryOn: ['connect-failure'] } });
    await h.flush();
    h.clock.advance(100);
    expect(await h.done).toMatchObject({ kind: 'failure', failure: 'timeout', attempts: 1 });
  });

  it('retries connect failures under connect-failure, but not resets', async () => {
    const h = harness({ policy: { maxRetries: 3, retryOn: ['connect-failure'] } });
    await h.flush();
    h.attempts[0]!.resolve({ kind: 'failure', failure: 'connect-failure' });
    await h.flush();
    h.attempts[1]!.resolve({ kind: 'failure', failure: 'reset' });
    expect(await h.done).toMatchObject({ kind: 'failure', failure: 'reset', attempts: 2 });
  });

  it('stops at the route timeout, whatever retries are left', async () => {
    const h = harness({ timeoutMs: 250, policy: { maxRetries: 10, perTryTimeoutMs: 100, retryOn: ['5xx'] } });
    await h.clock.advanceAsync(250, 5);
    const o = await h.done;
    expect(o.kind).toBe('timeout');
    // 100 + 100 + the rest: the third attempt is cut by the route timeout, not its own.
    expect(o.attempts).toBe(3);
    expect(h.attempts.every((a) => a.signal.aborted)).toBe(true);
    expect(h.clock.pendingTimers).toBe(0);
  });

  it('does not retry a refusal by the sidecar itself (overflow, no healthy endpoint)', async () => {
    const h = harness({ policy: { maxRetries: 3, retryOn: ['5xx'] } });
    await h.flush();
    const refusal = { status: 503, code: 'OVERFLOW', message: 'full' } as const;
    h.attempts[0]!.resolve({ kind: 'local', rejection: refusal });
    expect(await h.done).toEqual({ kind: 'local', rejection: refusal, attempts: 1 });
  });

  it('ends as cancelled when the caller goes away, aborting the attempt', async () => {
    const h = harness({});
    await h.flush();
    h.caller.abort();
    expect(await h.done).toMatchObject({ kind: 'cancelled', attempts: 1 });
    expect(h.attempts[0]!.signal.aborted).toBe(true);
  });

  it('keeps the final attempt’s timers armed while its body streams, until settle()', async () => {
    const h = harness({ timeoutMs: 300, policy: { perTryTimeoutMs: 100 } });
    await h.flush();
    h.attempts[0]!.resolve(response(200));
    const o = await h.done;
    if (o.kind !== 'response') throw new Error('expected a response');
    h.clock.advance(100);
    expect(o.signal.aborted).toBe(true);
    o.settle();
    expect(h.clock.pendingTimers).toBe(0);

    const h2 = harness({});
    await h2.flush();
    h2.attempts[0]!.resolve(response(200));
    const o2 = await h2.done;
    if (o2.kind !== 'response') throw new Error('expected a response');
    o2.settle();
    o2.settle();
    expect(h2.clock.pendingTimers).toBe(0);
    h2.clock.advance(10_000);
    expect(o2.signal.aborted).toBe(false);
  });

  it('discards a response that arrives after its attempt was abandoned', async () => {
    const h = harness({ policy: { maxRetries: 0, retryOn: ['5xx'] } });
    await h.flush();
    h.clock.advance(100);
    expect(await h.done).toMatchObject({ kind: 'failure', failure: 'timeout' });
    h.attempts[0]!.resolve(response(200, 'late'));
    await h.flush();
    expect(h.discarded).toEqual(['late']);
  });
});
