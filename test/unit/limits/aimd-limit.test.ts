import { describe, expect, it } from 'vitest';
import { AimdLimit, type AimdOptions } from '../../../server/src/limits/aimd-limit.js';
import type { LimitSample } from '../../../server/src/limits/limit-algorithm.js';

const options = (overrides: Partial<AimdOptions> = {}): AimdOptions => ({
  initialLimit: 10,
  minLimit: 2,
  maxLimit: 20,
  backoffRatio: 0.5,
  tolerance: 2,
  minThresholdMs: 50,
  smoothing: 0.5,
  ...overrides,
});

let time = 1_000;
/** A request admitted now and answered after `rttMs` (undefined: a held long-poll). */
const sample = (overrides: Partial<LimitSample> & { rttMs?: number | undefined } = {}): LimitSample => {
  const startedAt = overrides.startedAt ?? time;
  time = startedAt + (overrides.rttMs ?? 1) + 1;
  return { startedAt, completedAt: time, rttMs: 10, inflight: 10, dropped: false, ...overrides };
};

describe('AimdLimit', () => {
  it('grows by one per good completion while the app uses at least half its limit', () => {
    const limit = new AimdLimit(options());
    limit.update(sample({ inflight: 5 }));
    limit.update(sample({ inflight: 6 }));
    expect(limit.limit).toBe(12);
  });

  it('does not grow an app that uses less than half its limit', () => {
    const limit = new AimdLimit(options());
    for (let i = 0; i < 5; i++) limit.update(sample({ inflight: 4 }));
    expect(limit.limit).toBe(10);
  });

  it('backs off multiplicatively on a drop', () => {
    const limit = new AimdLimit(options({ initialLimit: 16 }));
    limit.update(sample({ dropped: true }));
    expect(limit.limit).toBe(8);
  });

  it('backs off when latency grows well past the smoothed baseline', () => {
    const limit = new AimdLimit(options({ initialLimit: 16 }));
    for (let i = 0; i < 4; i++) limit.update(sample({ rttMs: 10, inflight: 1 }));
    expect(limit.baselineRttMs).toBe(10);
    limit.update(sample({ rttMs: 200 }));
    expect(limit.limit).toBe(8);
  });

  it('does not call a sample slow below the minimum threshold, however small the baseline', () => {
    const limit = new AimdLimit(options({ initialLimit: 16, maxLimit: 16 }));
    for (let i = 0; i < 4; i++) limit.update(sample({ rttMs: 1, inflight: 1 }));
    limit.update(sample({ rttMs: 40 }));
    expect(limit.limit).toBe(16);
  });

  it('backs off once per round: answers admitted before the last decrease do not cut it again', () => {
    const limit = new AimdLimit(options({ initialLimit: 16 }));
    const burstStart = time;
    for (let i = 0; i < 5; i++) limit.update(sample({ startedAt: burstStart, dropped: true }));
    expect(limit.limit).toBe(8);
    // A request admitted under the new limit that also fails is new information.
    limit.update(sample({ startedAt: time + 1, dropped: true }));
    expect(limit.limit).toBe(4);
  });

  it('grows from held long-polls without ever reading their duration as latency', () => {
    const limit = new AimdLimit(options());
    for (let i = 0; i < 4; i++) limit.update(sample({ rttMs: 5, inflight: 1 }));
    limit.update(sample({ rttMs: undefined, inflight: 10 }));
    expect(limit.limit).toBe(11);
    expect(limit.baselineRttMs).toBe(5);
  });

  it('stays within its bounds', () => {
    const limit = new AimdLimit(options({ initialLimit: 19 }));
    for (let i = 0; i < 5; i++) limit.update(sample({ inflight: 20 }));
    expect(limit.limit).toBe(20);
    for (let i = 0; i < 10; i++) limit.update(sample({ startedAt: time + 1, dropped: true }));
    expect(limit.limit).toBe(2);
  });

  it('accepts a lasting change in cost instead of shrinking forever', () => {
    const limit = new AimdLimit(
      options({ initialLimit: 20, maxLimit: 500, smoothing: 0.2, minThresholdMs: 0 }),
    );
    for (let i = 0; i < 10; i++) limit.update(sample({ rttMs: 10, inflight: 1 }));
    const seen: number[] = [];
    for (let i = 0; i < 300; i++) {
      limit.update(sample({ startedAt: time + 1, rttMs: 100, inflight: limit.limit }));
      seen.push(limit.limit);
    }
    expect(Math.min(...seen)).toBe(2);
    expect(limit.limit).toBeGreaterThan(50);
  });
});
