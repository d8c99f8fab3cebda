import { UnavailableError } from '@meshpress/client';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigStore } from '../../../server/src/store/config-store.js';
import { caller, serviceHarness } from '../../support/service-harness.js';

/** Every long-poll leaves the waiter registry when it ends, however it ends. */

let h: Awaited<ReturnType<typeof serviceHarness>> | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

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
});
