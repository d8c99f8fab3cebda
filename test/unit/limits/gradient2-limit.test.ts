import { describe, expect, it } from 'vitest';
import { Gradient2Limit, type Gradient2Options } from '../../../server/src/limits/gradient2-limit.js';
import type { LimitSample } from '../../../server/src/limits/limit-algorithm.js';

const options = (overrides: Partial<Gradient2Options> = {}): Gradient2Options => ({
  initialLimit: 20,
  minLimit: 2,
  maxLimit: 200,
  tolerance: 1.5,
  smoothing: 0.2,
  longWindow: 100,
  queueSize: 4,
  ...overrides,
});

const sample = (rttMs: number | undefined, inflight: number, dropped = false): LimitSample => ({
  startedAt: 0,
  completedAt: rttMs ?? 0,
  rttMs,
  inflight,
  dropped,
});

describe('Gradient2Limit', () => {
  it('grows while latency holds steady and the app uses its limit', () => {
    const limit = new Gradient2Limit(options());
    for (let i = 0; i < 50; i++) limit.update(sample(10, limit.limit));
    expect(limit.limit).toBeGreaterThan(40);
    expect(limit.longRttMs).toBeCloseTo(10);
  });

  it('shrinks when latency grows past the tolerated gradient', () => {
    const limit = new Gradient2Limit(options({ initialLimit: 100 }));
    for (let i = 0; i < 20; i++) limit.update(sample(10, 100));
    const before = limit.limit;
    for (let i = 0; i < 10; i++) limit.update(sample(60, 100));
    expect(limit.limit).toBeLessThan(before * 0.6);
  });

  it('shrinks on drops', () => {
    const limit = new Gradient2Limit(options({ initialLimit: 100 }));
    for (let i = 0; i < 5; i++) limit.update(sample(undefined, 1, true));
    expect(limit.limit).toBeLessThan(65);
  });

  it('leaves the limit alone for an app using less than half of it', () => {
    const limit = new Gradient2Limit(options({ initialLimit: 100 }));
    for (let i = 0; i < 20; i++) limit.update(sample(10, 10));
    for (let i = 0; i < 20; i++) limit.update(sample(100, 10));
    expect(limit.limit).toBe(100);
  });

  it('is not moved by held long-polls, whose duration is not a latency sample', () => {
    const limit = new Gradient2Limit(options());
    for (let i = 0; i < 20; i++) limit.update(sample(undefined, 20));
    expect(limit.limit).toBe(20);
    expect(limit.longRttMs).toBeUndefined();
  });

  it('grows again once latency is back to normal after an overload', () => {
    const limit = new Gradient2Limit(options({ initialLimit: 50 }));
    for (let i = 0; i < 50; i++) limit.update(sample(10, limit.limit));
    for (let i = 0; i < 30; i++) limit.update(sample(100, limit.limit));
    const low = limit.limit;
    expect(low).toBeLessThan(50);
    for (let i = 0; i < 30; i++) limit.update(sample(10, limit.limit));
    expect(limit.limit).toBeGreaterThan(low + 10);
  });

  it('stays within its bounds', () => {
    const limit = new Gradient2Limit(options({ initialLimit: 10, maxLimit: 12, minLimit: 8 }));
    for (let i = 0; i < 100; i++) limit.update(sample(10, 12));
    expect(limit.limit).toBe(12);
    for (let i = 0; i < 100; i++) limit.update(sample(undefined, 12, true));
    expect(limit.limit).toBe(8);
  });
});
