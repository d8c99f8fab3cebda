import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createBackoff, jitteredInterval } from '../../../client/src/consumer/index.js';

const TOP = 1 - Number.EPSILON;

describe('createBackoff', () => {
  it('doubles the ceiling per attempt from the base until the cap', () => {
    const highest = createBackoff({ baseMs: 100, capMs: 5_000, random: () => TOP });
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(highest)).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000]);
  });

  it('is full jitter: anywhere from 0 to the ceiling', () => {
    expect(createBackoff({ baseMs: 100, capMs: 5_000, random: () => 0 })(5)).toBe(0);
    expect(createBackoff({ baseMs: 100, capMs: 5_000, random: () => 0.5 })(2)).toBe(200);
  });

  it('never exceeds the cap, even for huge attempts or a misbehaving random source', () => {
    for (const random of [() => 1, () => 7, () => Number.NaN, () => -1]) {
      const backoff = createBackoff({ baseMs: 250, capMs: 30_000, random });
      for (const attempt of [0, 10, 60, 1100, 10_000]) {
        const delay = backoff(attempt);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(30_000);
      }
    }
  });

  it('stays within [0, min(cap, base·2^attempt)] for any input', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 600_000 }),
        fc.integer({ min: 0, max: 200 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (base, cap, attempt, r) => {
          const delay = createBackoff({ baseMs: base, capMs: cap, random: () => r })(attempt);
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(Math.min(cap, base * 2 ** attempt));
        },
      ),
    );
  });

  it('is a pure function of attempt and the random source', () => {
    const a = createBackoff({ baseMs: 100, capMs: 10_000, random: () => 0.37 });
    const b = createBackoff({ baseMs: 100, capMs: 10_000, random: () => 0.37 });
    expect([0, 1, 2, 3].map(a)).toEqual([0, 1, 2, 3].map(b));
  });

  it('rejects negative or fractional attempts', () => {
    const backoff = createBackoff({ baseMs: 100, capMs: 1_000, random: () => 0.5 });
    expect(() => backoff(-1)).toThrow(RangeError);
    expect(() => backoff(1.5)).toThrow(RangeError);
  });
});

describe('jitteredInterval', () => {
  it('spreads the interval by ±ratio', () => {
    expect(jitteredInterval(30_000, 0.1, () => 0)).toBe(27_000);
    expect(jitteredInterval(30_000, 0.1, () => 0.5)).toBe(30_000);
    expect(jitteredInterval(30_000, 0.1, () => TOP)).toBe(33_000);
    expect(jitteredInterval(30_000, 0, () => 0.9)).toBe(30_000);
  });

  it('stays within the bounds for any random value', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3_600_000 }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (interval, ratio, r) => {
          const delay = jitteredInterval(interval, ratio, () => r);
          expect(delay).toBeGreaterThanOrEqual(Math.floor(interval * (1 - ratio)));
          expect(delay).toBeLessThanOrEqual(Math.ceil(interval * (1 + ratio)));
        },
      ),
    );
  });
});
