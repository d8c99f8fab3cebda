import { ManualClock } from '@meshpress/client';
import { describe, expect, it } from 'vitest';
import { HangUp } from '../../../server/src/core/hang-up.js';
import { TopicWatch } from '../../../server/src/core/topic-watch.js';
import { WaiterRegistry } from '../../../server/src/core/waiters.js';

const counting = () => {
  const listener = { calls: 0, handleEvent: () => void listener.calls++ };
  return listener;
};

describe('HangUp', () => {
  it('tells its listener once, on the first abort', () => {
    const hangUp = new HangUp();
    const listener = counting();
    hangUp.addEventListener('abort', listener);
    expect(hangUp.aborted).toBe(false);
    hangUp.abort();
    hangUp.abort();
    expect(hangUp.aborted).toBe(true);
    expect(listener.calls).toBe(1);
  });

  it('does not tell a removed listener, nor one added after the abort', () => {
    const hangUp = new HangUp();
    const removed = counting();
    hangUp.addEventListener('abort', removed);
    hangUp.removeEventListener('abort', removed);
    hangUp.abort();
    const late = counting();
    hangUp.addEventListener('abort', late);
    expect([removed.calls, late.calls]).toEqual([0, 0]);
  });

  it('takes the next listener once the previous one is removed, and refuses two at a time', () => {
    const hangUp = new HangUp();
    const first = counting();
    const second = counting();
    hangUp.addEventListener('abort', first);
    expect(() => hangUp.addEventListener('abort', second)).toThrow(/one listener/);
    hangUp.removeEventListener('abort', first);
    hangUp.addEventListener('abort', second);
    hangUp.abort();
    expect([first.calls, second.calls]).toEqual([0, 1]);
  });

  it('ends a held poll’s wait: the watch unregisters, clears its timer and lets go of the hang-up', async () => {
    const registry = new WaiterRegistry();
    const clock = new ManualClock();
    const hangUp = new HangUp();
    // Two waits in a row, as a held poll woken by a change that was not for it waits again.
    const first = new TopicWatch(['mesh.a.routes'], registry, clock);
    const firstWait = first.wait(30_000, hangUp);
    registry.wake('mesh.a.routes');
    await firstWait;
    const waiting = new TopicWatch(['mesh.a.routes'], registry, clock).wait(30_000, hangUp);
    hangUp.abort();
    await waiting;
    expect(registry.size).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });
});
