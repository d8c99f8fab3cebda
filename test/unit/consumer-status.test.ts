import { describe, expect, it } from 'vitest';
import { MemoryConsumerStatusStore } from '../../server/src/consumers/memory-consumer-status-store.js';
import { nextLagSince, summarize } from '../../server/src/consumers/summarize.js';
import { CONFORMANCE_TTL_MS, consumerStatusConformance } from '../conformance/consumer-status.js';

consumerStatusConformance('MemoryConsumerStatusStore', async () => ({
  store: new MemoryConsumerStatusStore({ ttlMs: CONFORMANCE_TTL_MS }),
}));

describe('MemoryConsumerStatusStore', () => {
  it('rejects invalid options naming the field', () => {
    expect(() => new MemoryConsumerStatusStore({ ttlMs: 0 })).toThrow(/ttlMs/);
  });

  it('drops nodes that stopped polling as new reports arrive, without anyone reading the status', async () => {
    const store = new MemoryConsumerStatusStore({ ttlMs: 1_000 });
    const T0 = 1_700_000_000_000;
    for (let i = 0; i < 100; i++)
      await store.record({ topic: 't', node: `old-${i}`, currentVersion: 1, at: T0 });
    await store.record({ topic: 't', node: 'new', currentVersion: 2, at: T0 + 1_000 });
    // Reading in the past would still show nodes that were not swept; none are left.
    expect((await store.status('t', { now: T0, graceMs: 0 })).total).toBe(1);
  });
});

describe('consumer status summary', () => {
  it('keeps the earlier lag start when reports for the same target are combined out of order', () => {
    const previous = { currentVersion: 1, targetVersion: 2, lagSince: 5_000 };
    expect(nextLagSince(previous, { currentVersion: 1, targetVersion: 2, at: 3_000 })).toBe(3_000);
    expect(nextLagSince(previous, { currentVersion: 1, targetVersion: 2, at: 9_000 })).toBe(5_000);
    expect(nextLagSince(previous, { currentVersion: 2, targetVersion: 2, at: 9_000 })).toBeUndefined();
    expect(nextLagSince(previous, { currentVersion: 1, targetVersion: 3, at: 9_000 })).toBe(9_000);
  });

  it('falls back to the last report time when a lagging entry has no recorded start', () => {
    const status = summarize(
      't',
      [{ node: 'n', currentVersion: 1, targetVersion: 2, lastSeen: 100 }],
      200,
      50,
    );
    expect(status.lagging).toEqual([
      { node: 'n', currentVersion: 1, targetVersion: 2, since: 100, lastSeen: 100 },
    ]);
  });
});
