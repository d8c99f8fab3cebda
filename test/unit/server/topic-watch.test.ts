import { getEventListeners } from 'node:events';
import { ManualClock } from '@meshpress/client';
import { describe, expect, it } from 'vitest';
import { TopicWatch } from '../../../server/src/core/topic-watch.js';
import { WaiterRegistry } from '../../../server/src/core/waiters.js';

/** Whether `promise` has settled once pending callbacks ran. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => {
    done = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('TopicWatch and WaiterRegistry', () => {
  it('a change to one of its topics ends the wait and releases the watch; other topics do not', async () => {
    const registry = new WaiterRegistry();
    const clock = new ManualClock();
    const routes = new TopicWatch(['mesh.a.routes', 'mesh.a.policy'], registry, clock);
    const other = new TopicWatch(['mesh.b.routes'], registry, clock);
    expect(registry.size).toBe(2);
    const caller = new AbortController();
    const waiting = routes.wait(60_000, caller.signal);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(1);
    registry.wake('mesh.c.routes');
    expect(await settled(waiting)).toBe(false);
    registry.wake('mesh.a.policy');
    expect(await settled(waiting)).toBe(true);
    // Released from both of its topics, its timer cleared, its abort listener removed; the other watch
    // still waits.
    expect(registry.size).toBe(1);
    expect(clock.pendingTimers).toBe(0);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
    registry.wake('mesh.a.routes');
    expect(registry.size).toBe(1);
    other.cancel();
    expect(registry.size).toBe(0);
  });

  it('a change between registering and waiting is not lost: the wait ends at once', async () => {
    const registry = new WaiterRegistry();
    const clock = new ManualClock();
    const watch = new TopicWatch(['mesh.a.routes'], registry, clock);
    registry.wake('mesh.a.routes');
    expect(await settled(watch.wait(60_000))).toBe(true);
    expect(registry.size).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('ends when the wait runs out on the injected clock, and unregisters', async () => {
    const registry = new WaiterRegistry();
    const clock = new ManualClock();
    const waiting = new TopicWatch(['mesh.a.routes'], registry, clock).wait(30_000);
    clock.advance(29_999);
    expect(await settled(waiting)).toBe(false);
    clock.advance(1);
    expect(await settled(waiting)).toBe(true);
    expect(registry.size).toBe(0);
  });

  it('ends on abort, unregisters and clears its timer', async () => {
    const registry = new WaiterRegistry();
    const clock = new ManualClock();
    const abort = new AbortController();
    const waiting = new TopicWatch(['mesh.a.routes'], registry, clock).wait(30_000, abort.signal);
    abort.abort();
    expect(await settled(waiting)).toBe(true);
    expect(registry.size).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('shutdown wakes every watch, and a woken watch ignores its later timer or abort', async () => {
    const registry = new WaiterRegistry();
    const clock = new ManualClock();
    const abort = new AbortController();
    const a = new TopicWatch(['mesh.a.routes'], registry, clock).wait(30_000, abort.signal);
    const b = new TopicWatch(['mesh.b.routes', 'mesh.a.routes'], registry, clock).wait(30_000);
    registry.wakeAll();
    expect(await settled(Promise.all([a, b]))).toBe(true);
    expect(registry.size).toBe(0);
    abort.abort();
    clock.advance(30_000);
    expect(registry.size).toBe(0);
  });
});
