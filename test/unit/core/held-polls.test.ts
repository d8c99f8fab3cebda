import { ManualClock, UnavailableError } from '@meshpress/client';
import { afterEach, describe, expect, it } from 'vitest';
import { TopicWatch } from '../../../server/src/core/topic-watch.js';
import { WaiterRegistry } from '../../../server/src/core/waiters.js';
import type { ConfigStore } from '../../../server/src/store/config-store.js';
import { caller, serviceHarness } from '../../support/service-harness.js';

/** Every long-poll leaves the waiter registry when it ends, however it ends. */

let h: Awaited<ReturnType<typeof serviceHarness>> | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Whether `promise` has settled once pending callbacks (and the service's deferred wakes) ran. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

/** The store, with the calls a topic load makes failing as in an outage (while `down.now`). */
function outage(store: ConfigStore, down: { now: boolean }): ConfigStore {
  return new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      if (prop === 'listTopicChanges' || prop === 'loadTopicSnapshot')
        return async (...args: unknown[]) => {
          if (down.now) throw new UnavailableError('store down');
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
}

describe('held long-polls', () => {
  it('a long-poll whose first evaluation fails (a topic load rejects) leaves no watch behind', async () => {
    const down = { now: true };
    h = await serviceHarness({ wrapStore: (store) => outage(store, down) });
    const timers = h.clock.pendingTimers;
    for (let attempt = 0; attempt < 3; attempt++) {
      await expect(
        h.service.poll(caller, { identity: {}, topics: [{ topic: 't' }], waitMs: 30_000 }),
      ).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      expect(h.service.heldPolls).toBe(0);
    }
    expect(h.clock.pendingTimers).toBe(timers);
  });

  it('close() releases a long-poll naming no topics', async () => {
    h = await serviceHarness();
    const poll = h.service.poll(caller, { identity: {}, topics: [], waitMs: 60_000 });
    expect(await settled(poll)).toBe(false);
    expect(h.service.heldPolls).toBe(1);
    h.service.close();
    expect(await settled(poll)).toBe(true);
    expect(await poll).toEqual([]);
    expect(h.service.heldPolls).toBe(0);
  });

  it('wakeAll wakes every registered waiter, those without topics too', async () => {
    const registry = new WaiterRegistry();
    const clock = new ManualClock();
    const none = new TopicWatch([], registry, clock).wait(60_000);
    const some = new TopicWatch(['mesh.a.routes'], registry, clock).wait(60_000);
    expect(registry.size).toBe(2);
    registry.wake('mesh.a.routes');
    expect(await settled(some)).toBe(true);
    expect(await settled(none)).toBe(false);
    registry.wakeAll();
    expect(await settled(none)).toBe(true);
    expect(registry.size).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('a topic-less watch cancelled without waiting leaves the registry', () => {
    const registry = new WaiterRegistry();
    const watch = new TopicWatch([], registry, new ManualClock());
    expect(registry.size).toBe(1);
    watch.cancel();
    watch.cancel();
    expect(registry.size).toBe(0);
  });
});
