import { ManualClock } from '@meshpress/client';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppConcurrencyLimiter } from '../../../server/src/limits/index.js';
import { restAppOn } from '../../support/rest-app.js';
import { caller, serviceHarness, text } from '../../support/service-harness.js';

type Harness = Awaited<ReturnType<typeof serviceHarness>>;
let h: Harness;
let app: FastifyInstance;
let limiter: AppConcurrencyLimiter;
let limiterClock: ManualClock;

beforeEach(async () => {
  h = await serviceHarness();
  await h.service.putTopic(caller, { name: 'routes' });
  await h.service.publish(caller, { topic: 'routes', payload: text('v1') });
  limiterClock = new ManualClock();
  limiter = new AppConcurrencyLimiter({
    clock: limiterClock,
    initialLimit: 3,
    minLimit: 2,
    maxLimit: 10,
    totalLimit: 100,
    retryAfterMs: 2_500,
    algorithm: { kind: 'aimd', backoffRatio: 0.5, minThresholdMs: 50 },
  });
  app = restAppOn(h, { limiter });
  await app.ready();
});
afterEach(async () => {
  await app.close();
  await h.close();
});

/** Lets injected requests run up to the point where they wait (a held poll, the limiter). */
async function settle() {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

const poll = (appName: string, waitMs: number) =>
  app.inject({
    method: 'POST',
    url: '/v1/poll',
    headers: { 'x-meshpress-app': appName },
    payload: { identity: { app: appName }, topics: [{ topic: 'routes', currentVersion: 1 }], waitMs },
  });

describe('installRestLimiter', () => {
  it('answers an app over its limit with 429, TOO_MANY_REQUESTS and Retry-After, while another app is served', async () => {
    const held = [poll('flood', 10_000), poll('flood', 10_000), poll('flood', 10_000)];
    await settle();
    expect(limiter.inflightOf('flood')).toBe(3);

    const refused = await poll('flood', 10_000);
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['retry-after']).toBe('3');
    expect(refused.json().error).toMatchObject({
      code: 'TOO_MANY_REQUESTS',
      details: { retryAfterMs: 2_500 },
    });

    expect((await poll('calm', 0)).statusCode).toBe(204);

    h.clock.advance(10_000);
    expect((await Promise.all(held)).map((r) => r.statusCode)).toEqual([204, 204, 204]);
    expect(limiter.inflightOf('flood')).toBe(0);
    expect((await poll('flood', 0)).statusCode).toBe(204);
  });

  it('does not read the duration of held long-polls as latency, so holding them never shrinks the limit', async () => {
    for (let i = 0; i < 3; i++) {
      const quick = poll('poller', 0);
      await quick;
    }
    const before = limiter.limitOf('poller');
    const held = Array.from({ length: before }, () => poll('poller', 30_000));
    await settle();
    limiterClock.advance(30_000);
    h.clock.advance(30_000);
    await Promise.all(held);
    expect(limiter.limitOf('poller')).toBeGreaterThan(before);
  });

  it('frees the slots of held polls released at shutdown', async () => {
    const inject = app.inject({
      method: 'POST',
      url: '/v1/poll',
      headers: { 'x-meshpress-app': 'drained' },
      payload: { identity: {}, topics: [{ topic: 'routes', currentVersion: 1 }], waitMs: 60_000 },
    });
    await settle();
    expect(limiter.inflightOf('drained')).toBe(1);
    h.service.close();
    await inject;
    expect(limiter.inflightOf('drained')).toBe(0);
  });

  it('never limits health checks and metrics scrapes', async () => {
    const held = [poll('flood', 10_000), poll('flood', 10_000), poll('flood', 10_000)];
    await settle();
    const probe = await app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-meshpress-app': 'flood' },
    });
    expect(probe.statusCode).toBe(200);
    h.clock.advance(10_000);
    await Promise.all(held);
  });

  it('limits callers without an app header together', async () => {
    const anonymous = () =>
      app.inject({
        method: 'POST',
        url: '/v1/poll',
        payload: { identity: {}, topics: [{ topic: 'routes', currentVersion: 1 }], waitMs: 10_000 },
      });
    const held = [anonymous(), anonymous(), anonymous()];
    await settle();
    expect((await anonymous()).statusCode).toBe(429);
    h.clock.advance(10_000);
    await Promise.all(held);
  });
});
