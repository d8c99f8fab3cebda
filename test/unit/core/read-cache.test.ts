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
});
