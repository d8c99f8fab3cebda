import { ManualClock } from '@meshpress/client';
import { describe, expect, it } from 'vitest';
import { ReadCache } from '../../../server/src/core/read-cache.js';

function counting<V>(value: V) {
  const calls = { n: 0 };
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  return {
    calls,
    release,
    load: async () => {
      calls.n++;
      await gate;
      return value;
    },
  };
}

describe('ReadCache', () => {
  it('coalesces concurrent misses into one load and reuses the answer until the TTL ends', async () => {
    const clock = new ManualClock();
    const cache = new ReadCache<string>({ clock, ttlMs: 1_000, maxEntries: 10, maxBytes: 1_000 });
    const source = counting('v');
    const all = Promise.all([1, 2, 3].map(() => cache.get('k', source.load)));
    source.release();
    expect(await all).toEqual(['v', 'v', 'v']);
    expect(source.calls.n).toBe(1);

    expect(await cache.get('k', source.load)).toBe('v');
    expect(source.calls.n).toBe(1);
    clock.advance(1_000);
    expect(await cache.get('k', source.load)).toBe('v');
    expect(source.calls.n).toBe(2);
  });

  it('does not cache failures', async () => {
    const cache = new ReadCache<number>({
      clock: new ManualClock(),
      ttlMs: 1_000,
      maxEntries: 10,
      maxBytes: 10,
    });
    await expect(cache.get('k', () => Promise.reject(new Error('store down')))).rejects.toThrow('store down');
    expect(await cache.get('k', async () => 7)).toBe(7);
  });

  it('evicts the least recently used entry past its entry and byte budgets, and skips oversized values', async () => {
    const cache = new ReadCache<Uint8Array>(
      { clock: new ManualClock(), ttlMs: 60_000, maxEntries: 2, maxBytes: 10 },
      (v) => v.byteLength,
    );
    const loads: string[] = [];
    const get = (key: string, size: number) =>
      cache.get(key, async () => {
        loads.push(key);
        return new Uint8Array(size);
      });
    await get('a', 4);
    await get('b', 4);
    await get('a', 4); // a is now the most recently used
    await get('c', 4); // over two entries: b goes
    await get('a', 4);
    await get('b', 4);
    expect(loads).toEqual(['a', 'b', 'c', 'b']);
    await get('huge', 11);
    await get('huge', 11);
    expect(loads.filter((k) => k === 'huge')).toHaveLength(2);
  });

  it('invalidates by key prefix', async () => {
    const cache = new ReadCache<number>({
      clock: new ManualClock(),
      ttlMs: 60_000,
      maxEntries: 10,
      maxBytes: 10,
    });
    let n = 0;
    const load = async () => ++n;
    await cache.get('t1@1', load);
    await cache.get('t2@1', load);
    cache.invalidatePrefix('t1@');
    expect(await cache.get('t1@1', load)).toBe(3);
    expect(await cache.get('t2@1', load)).toBe(2);
  });

  it('a load in flight when its key is invalidated is neither stored nor joined by later reads', async () => {
    const cache = new ReadCache<string>({
      clock: new ManualClock(),
      ttlMs: 60_000,
      maxEntries: 10,
      maxBytes: 10,
    });
    const before = counting('before the write');
    const after = counting('after the write');
    const early = cache.get('t@1', before.load);
    const other = cache.get('u@1', async () => 'other topic');
    cache.invalidatePrefix('t@');
    const late = cache.get('t@1', after.load);
    expect(after.calls.n).toBe(1);
    // The invalidated load ends first: its caller gets its answer, and the newer load stays the one joined.
    before.release();
    expect(await early).toBe('before the write');
    const joined = cache.get('t@1', async () => 'a third load');
    after.release();
    expect(await late).toBe('after the write');
    expect(await joined).toBe('after the write');
    expect(await cache.get('t@1', async () => 'not needed')).toBe('after the write');
    // Other keys keep their loads.
    expect(await other).toBe('other topic');
    expect(await cache.get('u@1', async () => 'not needed')).toBe('other topic');
  });

  it('an invalidated load that fails after a newer one started does not drop the newer one', async () => {
    const cache = new ReadCache<string>({
      clock: new ManualClock(),
      ttlMs: 60_000,
      maxEntries: 10,
      maxBytes: 10,
    });
    let fail!: (err: Error) => void;
    const early = cache.get('t@1', () => new Promise<string>((_, reject) => (fail = reject)));
    cache.invalidatePrefix('t@');
    const after = counting('after the write');
    const late = cache.get('t@1', after.load);
    fail(new Error('store down'));
    await expect(early).rejects.toThrow('store down');
    const joined = cache.get('t@1', async () => 'a third load');
    after.release();
    expect(await joined).toBe('after the write');
    expect(await late).toBe('after the write');
  });
});
