import { ManualClock } from '@meshpress/client';
import { describe, expect, it } from 'vitest';
import { DeadlineWatch } from '../../../client/src/consumer/deadline-watch.js';

function watch() {
  const clock = new ManualClock();
  const expired: number[] = [];
  const w = new DeadlineWatch(clock, () => expired.push(clock.now()));
  return { clock, expired, w, start: clock.now() };
}

describe('DeadlineWatch', () => {
  it('calls back exactly at the deadline, once', () => {
    const { clock, expired, w, start } = watch();
    w.set(1_000);
    clock.advance(999);
    expect(expired).toEqual([]);
    clock.advance(1);
    expect(expired).toEqual([start + 1_000]);
    clock.advance(10_000);
    expect(expired).toHaveLength(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('keeps one timer for a run of later deadlines, and still expires each at its time', () => {
    const { clock, expired, w, start } = watch();
    for (let i = 0; i < 5; i++) {
      w.set(1_000);
      clock.advance(100);
      w.clear();
    }
    expect(clock.pendingTimers).toBe(1);
    // The timer armed for the first deadline fires early for this one and re-arms for the rest.
    w.set(1_000);
    clock.advance(999);
    expect(expired).toEqual([]);
    clock.advance(1);
    expect(expired).toEqual([start + 1_500]);
  });

  it('re-arms for a deadline earlier than its timer', () => {
    const { clock, expired, w, start } = watch();
    w.set(10_000);
    w.set(500);
    clock.advance(500);
    expect(expired).toEqual([start + 500]);
    clock.advance(10_000);
    expect(expired).toHaveLength(1);
  });

  it('does not call back for a cleared deadline; dispose leaves no timer', () => {
    const { clock, expired, w } = watch();
    w.set(1_000);
    w.clear();
    clock.advance(2_000);
    expect(expired).toEqual([]);
    w.set(1_000);
    w.dispose();
    expect(clock.pendingTimers).toBe(0);
    clock.advance(2_000);
    expect(expired).toEqual([]);
  });
});
