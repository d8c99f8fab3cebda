import type { VersionRecord } from '@meshpress/client';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigStore } from '../../../server/src/store/config-store.js';
import { caller, serviceHarness, text } from '../../support/service-harness.js';

/**
 * Non-poll reads are pooled for a short TTL, and a write drops what the pool holds for its topic: a read
 * already in flight when the write lands must not put its older answer back.
 */

let h: Awaited<ReturnType<typeof serviceHarness>> | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** The store, with the next getVersion held until released (as a slow store read would be). */
function holdNextGetVersion(store: ConfigStore, hold: { armed: boolean; release?: () => void }): ConfigStore {
  return new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const method = (value as (...a: unknown[]) => unknown).bind(target);
      if (prop !== 'getVersion') return method;
      return async (...args: unknown[]) => {
        const result = (await method(...args)) as VersionRecord | undefined;
        if (hold.armed) {
          hold.armed = false;
          await new Promise<void>((resolve) => (hold.release = resolve));
        }
        return result;
      };
    },
  });
}

describe('read-your-writes over the read pool', () => {
  it('getVersion after addScopes shows the new scope, even with a read of the old record in flight', async () => {
    const hold: { armed: boolean; release?: () => void } = { armed: false };
    h = await serviceHarness({ wrapStore: (store) => holdNextGetVersion(store, hold) });
    await h.service.putTopic(caller, { name: 't' });
    const { version } = await h.service.publish(caller, { topic: 't', payload: text('one') });

    hold.armed = true;
    const read = h.service.getVersion(caller, { topic: 't', version });
    await h.service.addScopes(caller, { topic: 't', version, scopes: ['region=eu'] });
    hold.release!();
    expect((await read).scopes.map((s) => s.scope)).toEqual(['*']);

    const again = await h.service.getVersion(caller, { topic: 't', version });
    expect(again.scopes.map((s) => s.scope)).toContain('region=eu');
  });
});
