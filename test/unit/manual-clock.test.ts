import { setTimeout as delay } from 'node:timers/promises';
import { type Clock, MAX_TIMER_DELAY_MS, ManualClock, systemClock } from '@meshpress/client';
import { describe, expect, it } from 'vitest';

describe('ManualClock', () => {
  it('starts at the given instant and moves only when advanced', () => {
    const clock = new ManualClock(1_000);
    expect(clock.now()).toBe(1_000);
    expect(clock.now()).toBe(1_000);
    clock.advance(250);
    expect(clock.now()).toBe(1_250);
    clock.advance(0);
    expect(clock.now()).toBe(1_250);
    expect(new ManualClock().now()).toBe(1_700_000_000_000);
  });

  it('fires timers in due order during advance, at their due instant, and not before', () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    const at = (label: string) => () => fired.push(`${label}@${clock.now()}`);
    clock.setTimeout(at('c'), 30);
    clock.setTimeout(at('a'), 10);
    clock.setTimeout(at('b'), 20);
    clock.setTimeout(at('late'), 100);
    clock.advance(9);
    expect(fired).toEqual([]);
    clock.advance(21);
    expect(fired).toEqual(['a@10', 'b@20', 'c@30']);
    expect(clock.now()).toBe(30);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(70);
    expect(fired).toEqual(['a@10', 'b@20', 'c@30', 'late@100']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('fires timers due at the same instant in the order they were scheduled', () => {
    const clock = new ManualClock(0);
    const fired: number[] = [];
    for (let i = 0; i < 5; i++) clock.setTimeout(() => fired.push(i), 10);
    clock.advance(10);
    expect(fired).toEqual([0, 1, 2, 3, 4]);
  });

  it('clearTimeout prevents a timer from firing, even from inside another timer at the same instant', () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    const cancelled = clock.setTimeout(() => fired.push('cancelled'), 10);
    clock.setTimeout(() => fired.push('kept'), 10);
    clock.clearTimeout(cancelled);
    expect(clock.pendingTimers).toBe(1);
    let victim: ReturnType<Clock['setTimeout']> | undefined;
    clock.setTimeout(() => {
      fired.push('killer');
      if (victim) clock.clearTimeout(victim);
    }, 20);
    victim = clock.setTimeout(() => fired.push('victim'), 20);
    clock.advance(100);
    expect(fired).toEqual(['kept', 'killer']);
    // Clearing twice, or clearing a timer that already fired, is harmless.
    clock.clearTimeout(cancelled);
    clock.clearTimeout(victim);
    expect(clock.pendingTimers).toBe(0);
  });

  it('a timer scheduled by a firing timer fires in the same advance when it falls within the window', () => {
    const clock = new ManualClock(0);
    const fired: number[] = [];
    // A retry loop: every firing schedules the next one 10 ms after its own due instant.
    const tick = () => {
      fired.push(clock.now());
      if (fired.length < 10) clock.setTimeout(tick, 10);
    };
    clock.setTimeout(tick, 10);
    clock.advance(35);
    expect(fired).toEqual([10, 20, 30]);
    expect(clock.now()).toBe(35);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(5);
    expect(fired).toEqual([10, 20, 30, 40]);
  });

  it('a zero-delay timer scheduled while firing runs in the same advance, after earlier-due ones', () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    clock.setTimeout(() => {
      fired.push(`first@${clock.now()}`);
      clock.setTimeout(() => fired.push(`follow-up@${clock.now()}`), 0);
    }, 10);
    clock.setTimeout(() => fired.push(`second@${clock.now()}`), 15);
    clock.advance(20);
    expect(fired).toEqual(['first@10', 'follow-up@10', 'second@15']);
  });

  it('treats negative and NaN delays as zero, so the timer fires on the next advance', () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('negative'), -5);
    clock.setTimeout(() => fired.push('nan'), Number.NaN);
    clock.advance(0);
    expect(fired).toEqual(['negative', 'nan']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('refuses to move time backwards or to an infinite instant', () => {
    const clock = new ManualClock(100);
    expect(() => clock.advance(-1)).toThrow(RangeError);
    expect(() => clock.advance(Number.NaN)).toThrow(RangeError);
    expect(() => clock.advance(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(clock.now()).toBe(100);
  });

  it('never moves backwards when a timer advances the clock further than the outer advance', () => {
    const clock = new ManualClock(0);
    clock.setTimeout(() => clock.advance(100), 5);
    clock.advance(10);
    expect(clock.now()).toBe(105);
  });

  it('fails loudly instead of hanging when a timer keeps rescheduling itself with no delay', () => {
    const clock = new ManualClock(0);
    const spin = () => {
      clock.setTimeout(spin, 0);
    };
    clock.setTimeout(spin, 1);
    expect(() => clock.advance(10)).toThrow(/rescheduling/);
  });

  it('advanceAsync lets promise callbacks run between timers', async () => {
    const clock = new ManualClock(0);
    const fired: number[] = [];
    // A timer whose follow-up is scheduled from a promise callback, as async pollers do.
    const loop = () => {
      fired.push(clock.now());
      void Promise.resolve().then(() => clock.setTimeout(loop, 10));
    };
    clock.setTimeout(loop, 10);
    await clock.advanceAsync(50, 10);
    expect(fired).toEqual([10, 20, 30, 40, 50]);
    expect(clock.now()).toBe(50);
  });

  it('is usable through the Clock interface', () => {
    const clock: Clock = new ManualClock(0);
    let fired = false;
    clock.setTimeout(() => {
      fired = true;
    }, 1);
    (clock as ManualClock).advance(1);
    expect(fired).toBe(true);
  });
});

describe('systemClock', () => {
  it('clamps a delay too long for a Node timer instead of letting it fire after 1 ms', async () => {
    // Node fires a timer asked for more than 2^31 − 1 ms after 1 ms. Timers fire in due order, so if the
    // long ones had overflowed they would have fired before this 5 ms wait ends.
    const fired: string[] = [];
    const handles = [2 ** 31, 30 * 24 * 3_600_000, Number.POSITIVE_INFINITY].map((ms) =>
      systemClock.setTimeout(() => fired.push(String(ms)), ms),
    );
    try {
      await delay(5);
      expect(fired).toEqual([]);
    } finally {
      for (const handle of handles) systemClock.clearTimeout(handle);
    }
    expect(MAX_TIMER_DELAY_MS).toBe(2_147_483_647);
  });

  it('runs a negative or NaN delay as soon as possible', async () => {
    const fired: number[] = [];
    systemClock.setTimeout(() => fired.push(1), -5);
    systemClock.setTimeout(() => fired.push(2), Number.NaN);
    await delay(5);
    expect(fired).toEqual([1, 2]);
  });
});
