import { ManualClock, sha256Hex, UnavailableError } from '@meshpress/client';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConsumerCache, type ConsumerCacheOptions } from '../../../server/src/core/consumer-cache.js';
import type { TopicView } from '../../../server/src/core/topic-view.js';
import type { ConfigStore } from '../../../server/src/store/config-store.js';
import { SqliteConfigStore } from '../../../server/src/store/sqlite/sqlite-config-store.js';

/**
 * The periodic refresh reads change markers and reloads only what changed. The store is real (in-memory
 * SQLite) behind a proxy that counts the calls the cache makes, and lets a test hide topics from the
 * listing or fail a call, as another instance, a lost write or an outage would.
 */

const TOPICS = 25;
/** Smaller than TOPICS, so every refresh walks several listing pages. */
const PAGE = 7;
const LISTING_PAGES = Math.ceil(TOPICS / PAGE);

type Calls = Record<string, string[]>;

interface Recorder {
  readonly store: ConfigStore;
  /** Per method, the first argument of each call since the last reset (a topic name, or the options). */
  readonly calls: Calls;
  reset(): void;
  /** Left out of listTopicChanges, as a topic whose listing entry is missing. */
  readonly hidden: Set<string>;
  /** Read as absent by loadTopicSnapshot, as a topic that no longer exists. */
  readonly gone: Set<string>;
  /** Run once inside the next call of a method, before it returns (then forgotten). */
  readonly next: Map<string, () => Promise<void> | void>;
}

function recorder(real: ConfigStore): Recorder {
  const calls: Calls = {};
  const hidden = new Set<string>();
  const gone = new Set<string>();
  const next = new Map<string, () => Promise<void> | void>();
  const store = new Proxy(real, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const method = String(prop);
      return async (...args: unknown[]) => {
        (calls[method] ??= []).push(typeof args[0] === 'string' ? args[0] : JSON.stringify(args[0]));
        const hook = next.get(method);
        next.delete(method);
        if (method === 'loadTopicSnapshot' && gone.has(args[0] as string)) return undefined;
        const call = value as (...a: unknown[]) => Promise<unknown>;
        if (method === 'listTopicChanges') {
          // As a store missing some entries: still a full page unless the listing ends.
          const options = args[0] as { after?: string; limit: number };
          const page = (await call.call(target, { ...options, limit: options.limit + hidden.size })) as {
            name: string;
          }[];
          await hook?.();
          return page.filter((change) => !hidden.has(change.name)).slice(0, options.limit);
        }
        const result = await call.apply(target, args);
        await hook?.();
        return result;
      };
    },
  });
  return {
    store,
    calls,
    hidden,
    gone,
    next,
    reset() {
      for (const key of Object.keys(calls)) delete calls[key];
    },
  };
}

let clock: ManualClock;
let real: SqliteConfigStore;
let rec: Recorder;
let cache: ConsumerCache;
const names = Array.from({ length: TOPICS }, (_, i) => `mesh.prod.svc${String(i).padStart(2, '0')}.routes`);

function openCache(options: Partial<ConsumerCacheOptions> = {}): ConsumerCache {
  cache?.close();
  cache = new ConsumerCache({
    store: rec.store,
    clock,
    logger: pino({ level: 'silent' }),
    changePageSize: PAGE,
    ...options,
  });
  return cache;
}

/** A complete publish written straight to the store: no notification reaches the cache. */
async function publishBehind(topic: string, scopes: readonly string[] = ['*']): Promise<number> {
  const version = await real.allocateVersion(topic);
  const data = new TextEncoder().encode(`${topic} v${version}`);
  await real.writeVersion({
    topic,
    version,
    metadata: {},
    pointer: { kind: 'direct', data },
    size: data.length,
    sha256: sha256Hex(data),
    contentType: 'text/plain',
    publisher: 'another instance',
    createdAt: clock.now(),
  });
  await real.addScopes(topic, version, scopes, clock.now());
  await real.commitVersion(topic, version, clock.now());
  return version;
}

/** Lets every settled promise chain run: the SQLite store answers within the current macrotask. */
function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function view(topic: string): Promise<TopicView | undefined> {
  return cache.get(topic);
}

/** What the cached view serves an identity matched by scope `*` only. */
async function served(topic: string): Promise<number | undefined> {
  const state = (await view(topic))?.state;
  if (!state) return undefined;
  const pinned = state.pins.find((p) => p.scope === '*');
  return pinned?.version ?? Math.max(...state.publishes.map((p) => p.version));
}

beforeEach(async () => {
  clock = new ManualClock();
  real = await SqliteConfigStore.open({ path: ':memory:' });
  rec = recorder(real);
  for (const name of names) {
    await real.putTopic({ name, retention: {} }, clock.now());
    await publishBehind(name);
  }
  openCache();
  for (const name of names) await view(name);
  rec.reset();
});

afterEach(async () => {
  cache.close();
  await real.close();
});

describe('periodic refresh', () => {
  it('reads only the change listing when nothing changed, however many topics are cached', async () => {
    await cache.refreshChanged();
    await cache.refreshChanged();
    expect(rec.calls).toEqual({
      listTopicChanges: expect.any(Array),
    });
    expect(rec.calls.listTopicChanges).toHaveLength(2 * LISTING_PAGES);
    // Paged by name: each page starts after the last name of the one before.
    expect(rec.calls.listTopicChanges!.slice(0, LISTING_PAGES)).toEqual([
      JSON.stringify({ limit: PAGE }),
      ...[1, 2, 3].map((p) => JSON.stringify({ after: names[p * PAGE - 1], limit: PAGE })),
    ]);
  });

  it('reloads exactly the one topic that changed among many, and tells listeners about it alone', async () => {
    const changed: string[] = [];
    cache.onChange((topic) => changed.push(topic));
    const target = names[13]!;
    const before = await served(target);
    const version = await publishBehind(target);

    await cache.refreshChanged();

    expect(rec.calls.loadTopicSnapshot).toEqual([target]);
    // Records already cached are reused: only the new version's record is read.
    expect(rec.calls.getVersion).toEqual([target]);
    expect(changed).toEqual([target]);
    expect(await served(target)).toBe(version);
    expect(version).toBeGreaterThan(before ?? 0);

    rec.reset();
    await cache.refreshChanged();
    expect(rec.calls.loadTopicSnapshot).toBeUndefined();
  });

  it('serves records carrying the scopes added to them since they were first read', async () => {
    const topic = names[7]!;
    const version = (await served(topic))!;
    expect((await view(topic))?.servable.get(version)?.scopes.map((s) => s.scope)).toEqual(['*']);
    await real.addScopes(topic, version, ['app=web'], clock.now());
    await cache.refreshChanged();
    const record = (await view(topic))?.servable.get(version);
    expect(record?.scopes.map((s) => s.scope).sort()).toEqual(['*', 'app=web']);
    expect(rec.calls.getVersion).toEqual([topic]);
  });

  it('picks up every kind of change made behind it at the next refresh', async () => {
    const topic = names[4]!;
    const v1 = (await served(topic))!;
    const v2 = await publishBehind(topic);
    const changes: [string, () => Promise<unknown>, (view: TopicView | undefined) => void][] = [
      [
        'setPin',
        () => real.setPin(topic, { scope: '*', version: v1, reason: 'rollback', author: 'oncall', setAt: 1 }),
        (v) => expect(v?.state.pins.map((p) => p.version)).toEqual([v1]),
      ],
      [
        'removePin',
        () => real.removePin(topic, '*', { author: 'oncall', reason: 'fixed', at: 2 }),
        (v) => expect(v?.state.pins).toEqual([]),
      ],
      [
        'addScopes',
        () => real.addScopes(topic, v2, ['app=web'], clock.now()),
        (v) => expect(v?.state.publishes.map((p) => p.scope).sort()).toEqual(['*', 'app=web']),
      ],
      [
        'putTopic',
        () =>
          real.putTopic({ name: topic, retention: { maxVersions: 3 }, description: 'routes' }, clock.now()),
        (v) => expect(v?.topic.description).toBe('routes'),
      ],
      [
        'deleteVersion',
        () => real.deleteVersion(topic, v2),
        (v) => expect(v?.state.publishes.map((p) => [p.scope, p.version])).toEqual([['*', v1]]),
      ],
    ];
    await cache.refreshChanged();
    for (const [what, change, check] of changes) {
      rec.reset();
      await change();
      await cache.refreshChanged();
      expect(rec.calls.loadTopicSnapshot, what).toEqual([topic]);
      check(await view(topic));
    }
  });

  it('reloads a topic changed while its listing was read, and then leaves it alone', async () => {
    const topic = names[0]!;
    let version = 0;
    // The change lands after the listing read the old marker: this refresh cannot know about it.
    rec.next.set('listTopicChanges', async () => {
      version = await publishBehind(topic);
    });
    await cache.refreshChanged();
    expect(rec.calls.loadTopicSnapshot).toBeUndefined();

    await cache.refreshChanged();
    expect(rec.calls.loadTopicSnapshot).toEqual([topic]);
    expect(await served(topic)).toBe(version);
    rec.reset();
    await cache.refreshChanged();
    expect(rec.calls.loadTopicSnapshot).toBeUndefined();
  });

  it('reloads a topic changed just after a notified reload read it', async () => {
    const topic = names[2]!;
    const first = await publishBehind(topic);
    let second = 0;
    rec.next.set('loadTopicSnapshot', async () => {
      second = await publishBehind(topic);
    });
    // The notification's reload reads `first`; `second` commits before it returns.
    await cache.refresh(topic);
    expect(await served(topic)).toBe(first);

    await cache.refreshChanged();
    expect(await served(topic)).toBe(second);
  });

  it('does not reload a topic a notification already reloaded', async () => {
    const topic = names[9]!;
    await publishBehind(topic);
    await cache.refresh(topic);
    rec.reset();
    await cache.refreshChanged();
    expect(rec.calls.loadTopicSnapshot).toBeUndefined();
  });

  it('announces a topic created after a poll asked for it at the next refresh; the next get loads it', async () => {
    const late = 'mesh.prod.late.routes';
    const changed: string[] = [];
    cache.onChange((topic) => changed.push(topic));
    expect(await view(late)).toBeUndefined();
    await cache.refreshChanged();
    expect(rec.calls.loadTopicSnapshot).toBeUndefined();

    await real.putTopic({ name: late, retention: {} }, clock.now());
    const version = await publishBehind(late);
    await cache.refreshChanged();
    // Announced (a long-poll waiting for it wakes), loaded only when asked for.
    expect(changed).toEqual([late]);
    expect(rec.calls.loadTopicSnapshot).toBeUndefined();
    expect(await served(late)).toBe(version);
    expect(rec.calls.loadTopicSnapshot).toEqual([late]);
  });

  it('reloads cached topics the listing no longer shows, serving them as absent once they are gone', async () => {
    const kept = names[5]!;
    const removed = names[6]!;
    rec.hidden.add(kept).add(removed);
    rec.gone.add(removed);
    await cache.refreshChanged();
    expect([...(rec.calls.loadTopicSnapshot ?? [])].sort()).toEqual([kept, removed]);
    expect(await served(kept)).toBe(1);
    expect(await view(removed)).toBeUndefined();
    rec.reset();
    await cache.refreshChanged();
    // Still unlisted but present: checked again. Gone: cached as absent, no further reads.
    expect(rec.calls.loadTopicSnapshot).toEqual([kept]);
  });

  it('keeps serving cached views when the listing fails, and catches up at the next refresh', async () => {
    const topic = names[20]!;
    const version = await publishBehind(topic);
    const listing = rec.store.listTopicChanges.bind(rec.store);
    let failures = 0;
    const failing = new Proxy(rec.store, {
      get(target, prop, receiver) {
        if (prop === 'listTopicChanges')
          return (options: { after?: string; limit: number }) =>
            failures-- > 0 ? Promise.reject(new UnavailableError('store down')) : listing(options);
        return Reflect.get(target, prop, receiver);
      },
    });
    const flaky = new ConsumerCache({
      store: failing,
      clock,
      logger: pino({ level: 'silent' }),
      changePageSize: PAGE,
    });
    try {
      await flaky.get(topic);
      const stale = (await flaky.get(topic))?.state;
      failures = 1;
      await publishBehind(topic);
      await expect(flaky.refreshChanged()).resolves.toBeUndefined();
      expect((await flaky.get(topic))?.state).toBe(stale);
      await flaky.refreshChanged();
      expect((await flaky.get(topic))?.state.publishes[0]?.version).toBe(version + 1);
    } finally {
      flaky.close();
    }
  });

  it('reloads at most refreshConcurrency topics at once', async () => {
    let running = 0;
    let peak = 0;
    const counted = new Proxy(rec.store, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (prop !== 'loadTopicSnapshot' || typeof value !== 'function') return value;
        return async (topic: string) => {
          running++;
          peak = Math.max(peak, running);
          // Yield, so other reloads could start if the cache let them.
          for (let i = 0; i < 5; i++) await Promise.resolve();
          try {
            return await (value as (t: string) => Promise<unknown>)(topic);
          } finally {
            running--;
          }
        };
      },
    });
    const bounded = new ConsumerCache({
      store: counted,
      clock,
      logger: pino({ level: 'silent' }),
      changePageSize: 100,
      refreshConcurrency: 3,
    });
    try {
      for (const name of names) await bounded.get(name);
      for (const name of names) await publishBehind(name);
      peak = 0;
      rec.reset();
      await bounded.refreshChanged();
      expect(rec.calls.loadTopicSnapshot).toHaveLength(TOPICS);
      expect(peak).toBe(3);
    } finally {
      bounded.close();
    }
  });

  it('reverifies every cached topic within reverifyAfterMs even when no marker moved', async () => {
    openCache({ reverifyAfterMs: 60_000 });
    for (const name of names) await view(name);
    rec.reset();
    // Each topic comes due somewhere in the last quarter of the period.
    clock.advance(44_999);
    await cache.refreshChanged();
    expect(rec.calls.loadTopicSnapshot).toBeUndefined();
    clock.advance(15_001);
    await cache.refreshChanged();
    expect([...(rec.calls.loadTopicSnapshot ?? [])].sort()).toEqual(names);
    rec.reset();
    await cache.refreshChanged();
    expect(rec.calls.loadTopicSnapshot).toBeUndefined();
  });

  it('runs on its own every refresh interval once started, and stops on close', async () => {
    const topic = names[1]!;
    const version = await publishBehind(topic);
    cache.start();
    await clock.advanceAsync(4_999);
    expect(rec.calls.listTopicChanges).toBeUndefined();
    await clock.advanceAsync(1);
    await flush();
    expect(rec.calls.listTopicChanges).toHaveLength(LISTING_PAGES);
    expect(await served(topic)).toBe(version);

    cache.close();
    rec.reset();
    await clock.advanceAsync(20_000, 5_000);
    expect(rec.calls.listTopicChanges).toBeUndefined();
    expect(clock.pendingTimers).toBe(0);
  });

  it('skips the listing while nothing is cached', async () => {
    openCache();
    rec.reset();
    await cache.refreshChanged();
    expect(rec.calls).toEqual({});
  });
});

describe('names of topics that do not exist', () => {
  const junk = (round: number) => Array.from({ length: 1_000 }, (_, i) => `junk-${round}-${i}`);

  it('are answered from the listing: no store read, nothing held, however many are asked', async () => {
    for (let round = 0; round < 5; round++)
      for (const name of junk(round)) expect(await view(name)).toBeUndefined();
    expect(rec.calls).toEqual({});
    expect(cache.size).toBe(TOPICS);
  });

  it('on a fresh cache, cost one listing shared by every concurrent miss', async () => {
    openCache();
    rec.reset();
    const answers = await Promise.all([...junk(0), names[3]!].map((name) => view(name)));
    expect(answers.slice(0, -1).every((answer) => answer === undefined)).toBe(true);
    expect(answers.at(-1)?.topic.name).toBe(names[3]);
    expect(rec.calls.listTopicChanges).toHaveLength(LISTING_PAGES);
    expect(rec.calls.loadTopicSnapshot).toEqual([names[3]]);
  });

  it('do not hide a topic a change notification reloads, before any listing shows it', async () => {
    const late = 'mesh.prod.notified.routes';
    expect(await view(late)).toBeUndefined();
    await real.putTopic({ name: late, retention: {} }, clock.now());
    const version = await publishBehind(late);
    await cache.refresh(late);
    expect(await served(late)).toBe(version);
  });

  it('are not answered from a listing the timer stopped renewing', async () => {
    const late = 'mesh.prod.stale.routes';
    await real.putTopic({ name: late, retention: {} }, clock.now());
    const version = await publishBehind(late);
    expect(await view(late)).toBeUndefined();
    clock.advance(2 * 5_000);
    rec.reset();
    expect(await served(late)).toBe(version);
    expect(rec.calls.listTopicChanges).toHaveLength(LISTING_PAGES);
  });

  it('without any listing (the store fails it), are read at most once per interval, in bounded memory', async () => {
    const failing = new Proxy(rec.store, {
      get(target, prop, receiver) {
        if (prop === 'listTopicChanges') return () => Promise.reject(new UnavailableError('listing down'));
        return Reflect.get(target, prop, receiver);
      },
    });
    const bounded = new ConsumerCache({
      store: failing,
      clock,
      logger: pino({ level: 'silent' }),
      maxAbsentTopics: 2,
    });
    const loads = () => rec.calls.loadTopicSnapshot?.splice(0) ?? [];
    try {
      rec.reset();
      for (const name of ['a', 'b', 'c']) expect(await bounded.get(name)).toBeUndefined();
      expect(loads()).toEqual(['a', 'b', 'c']);
      // Held: the two most recently asked. 'a' was dropped to make room.
      for (const name of ['c', 'b']) expect(await bounded.get(name)).toBeUndefined();
      expect(loads()).toEqual([]);
      expect(await bounded.get('a')).toBeUndefined();
      expect(loads()).toEqual(['a']);
      expect(bounded.size).toBe(0);
      // An absence is believed for one refresh interval, then read again.
      clock.advance(5_000);
      expect(await bounded.get('a')).toBeUndefined();
      expect(loads()).toEqual(['a']);
      expect((await bounded.get(names[0]!))?.topic.name).toBe(names[0]);
    } finally {
      bounded.close();
    }
  });
});
