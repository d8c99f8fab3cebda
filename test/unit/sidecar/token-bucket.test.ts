import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../client/src/core/clock.js';
import { TokenBucket } from '../../../client/src/sidecar/token-bucket.js';

describe('TokenBucket (the virtual service rate limit)', () => {
  it('lets a burst through at once, then refuses until tokens refill at the configured rate', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(10, 3, clock);
    expect([bucket.tryTake(), bucket.tryTake(), bucket.tryTake(), bucket.tryTake()]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(bucket.msUntilToken()).toBe(100);
    clock.advance(99);
    expect(bucket.tryTake()).toBe(false);
    clock.advance(1);
    expect(bucket.tryTake()).toBe(true);
    expect(bucket.tryTake()).toBe(false);
  });

  it('never holds more than the burst however long it idles', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(1000, 5, clock);
    for (let i = 0; i < 5; i++) bucket.tryTake();
    clock.advance(60_000);
    expect(bucket.tokens).toBe(5);
    let taken = 0;
    while (bucket.tryTake()) taken++;
    expect(taken).toBe(5);
  });

  it('admits requestsPerSecond × elapsed requests over a long run, fractional rates included', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(2.5, 1, clock, 0);
    let admitted = 0;
    for (let ms = 0; ms < 10_000; ms += 10) {
      clock.advance(10);
      if (bucket.tryTake()) admitted++;
    }
    expect(admitted).toBe(25);
  });

  it('keeps its tokens across a swap: same limits → same bucket; new limits → tokens carried, capped by the new burst', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(10, 10, clock);
    for (let i = 0; i < 7; i++) bucket.tryTake();
    expect(bucket.reconfigured(10, 10)).toBe(bucket);
    const wider = bucket.reconfigured(100, 50);
    expect(wider.tokens).toBe(3);
    const narrower = new TokenBucket(10, 10, clock).reconfigured(10, 2);
    expect(narrower.tokens).toBe(2);
  });

  it('does not drain when the clock steps backwards', () => {
    const clock = new ManualClock();
    let now = 1_000_000;
    const stepped = {
      ...clock,
      now: () => now,
      setTimeout: clock.setTimeout.bind(clock),
      clearTimeout: clock.clearTimeout.bind(clock),
    };
    const bucket = new TokenBucket(10, 2, stepped);
    bucket.tryTake();
    now -= 5_000;
    expect(bucket.tokens).toBe(1);
    now += 100;
    expect(bucket.tokens).toBe(2);
  });
});
