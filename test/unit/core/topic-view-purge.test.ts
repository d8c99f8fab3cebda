import { ManualClock, sha256Hex, type VersionRecord } from '@meshpress/client';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConsumerCache } from '../../../server/src/core/consumer-cache.js';
import { evaluatePoll } from '../../../server/src/core/poll-rule.js';
import { loadTopicView } from '../../../server/src/core/topic-view.js';
import type { ConfigStore } from '../../../server/src/store/config-store.js';
import { SqliteConfigStore } from '../../../server/src/store/sqlite/sqlite-config-store.js';

/**
 * A reload reuses the records of the previous view only for versions its snapshot shows committed. A
 * pinned version purged since (the janitor's late-pin window) is read again, found gone, and stops being
 * servable on this instance as on one that loads the topic fresh.
 */

const logger = pino({ level: 'silent' });
let clock: ManualClock;
let store: SqliteConfigStore;

beforeEach(async () => {
  clock = new ManualClock();
  store = await SqliteConfigStore.open({ path: ':memory:' });
  await store.putTopic({ name: 't', retention: {} }, clock.now());
  for (const body of ['one', 'two']) {
    const data = new TextEncoder().encode(body);
    const version = await store.allocateVersion('t');
    await store.writeVersion({
      topic: 't',
      version,
      metadata: {},
      pointer: { kind: 'direct', data },
      size: data.byteLength,
      sha256: sha256Hex(data),
      contentType: 'text/plain',
      publisher: 'p',
      createdAt: clock.now(),
    });
    await store.addScopes('t', version, ['*'], clock.now());
    await store.commitVersion('t', version, clock.now());
  }
  await store.setPin('t', { scope: '*', version: 1, reason: 'rollback', author: 'a', setAt: clock.now() });
});
afterEach(async () => {
  await store.close();
});

/** The store, counting getVersion calls per version. */
function counting(real: ConfigStore): { store: ConfigStore; reads: number[] } {
  const reads: number[] = [];
  const wrapped = new Proxy(real, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const method = (value as (...a: unknown[]) => unknown).bind(target);
      if (prop !== 'getVersion') return method;
      return (topic: string, version: number) => {
        reads.push(version);
        return method(topic, version);
      };
    },
  });
  return { store: wrapped, reads };
}

describe('loadTopicView record reuse', () => {
  it('a pinned version purged after it was served stops being servable at the next reload', async () => {
    const cache = new ConsumerCache({ store, clock, logger });
    const before = (await cache.refresh('t'))!;
    expect(before.servable.has(1)).toBe(true);
    expect(evaluatePoll(before, { app: 'x' }, 2)?.version).toBe(1);

    expect(await store.deleteVersion('t', 1)).toBe(true); // the janitor's delete landing after the pin
    const after = (await cache.refresh('t'))!;
    expect(after.servable.has(1)).toBe(false);
    expect(evaluatePoll(after, { app: 'x' }, 2)).toBeUndefined(); // no rollback to a purged version
    // The same answer as an instance loading the topic for the first time.
    const fresh = (await new ConsumerCache({ store, clock, logger }).refresh('t'))!;
    expect(fresh.servable.has(1)).toBe(false);
    expect([...after.servable.keys()]).toEqual([...fresh.servable.keys()]);
    cache.close();
  });

  it('given known records, re-reads a version the snapshot does not show committed, reuses the rest', async () => {
    const first = (await loadTopicView(store, 't', clock.now()))!;
    expect([...first.servable.keys()].sort()).toEqual([1, 2]);

    const unchanged = counting(store);
    const again = (await loadTopicView(unchanged.store, 't', clock.now(), first.servable))!;
    expect(unchanged.reads).toEqual([]);
    expect(again.servable.get(1)).toBe(first.servable.get(1));

    await store.deleteVersion('t', 1);
    const purged = counting(store);
    const view = (await loadTopicView(purged.store, 't', clock.now(), first.servable))!;
    expect(purged.reads).toEqual([1]);
    expect(view.servable.has(1)).toBe(false);
    expect(view.servable.get(2)).toBe(first.servable.get(2));
  });

  it('a known record of a version never committed is not served on the strength of being known', async () => {
    const first = (await loadTopicView(store, 't', clock.now()))!;
    // A known record of a version the store holds no committed publish of, named by a pin: the snapshot
    // and the store decide, not the known map.
    const stray: VersionRecord = { ...first.servable.get(2)!, version: 3 };
    await store.setPin('t', { scope: 'app=x', version: 3, reason: 'r', author: 'a', setAt: clock.now() });
    const known = new Map([...first.servable, [3, stray]]);
    const view = (await loadTopicView(store, 't', clock.now(), known))!;
    expect(view.servable.has(3)).toBe(false);
  });
});
