import { randomUUID } from 'node:crypto';
import { UnavailableError, ValidationError } from '@meshpress/client';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type RedisConsumerStatusOptions,
  RedisConsumerStatusStore,
} from '../../server/src/consumers/redis-consumer-status-store.js';
import { CONFORMANCE_TTL_MS, consumerStatusConformance } from '../conformance/consumer-status.js';
import { type RedisService, startRedis } from '../support/services/index.js';

let redis: RedisService;
let admin: Redis;
const stores: RedisConsumerStatusStore[] = [];

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
});

afterAll(async () => {
  admin?.disconnect();
  await redis?.stop();
});

afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

/** One instance's store; instances of one test share a key prefix, as a deployment's instances do. */
function openStore(
  keyPrefix: string,
  extra: Partial<RedisConsumerStatusOptions> = {},
): RedisConsumerStatusStore {
  const store = new RedisConsumerStatusStore({
    url: redis.url,
    keyPrefix,
    connectTimeoutMs: 500,
    commandTimeoutMs: 500,
    maxReconnectDelayMs: 100,
    ...extra,
  });
  stores.push(store);
  return store;
}

const prefix = () => `meshpress:test:${randomUUID()}:`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

consumerStatusConformance('RedisConsumerStatusStore', async () => ({
  store: openStore(prefix(), { ttlMs: CONFORMANCE_TTL_MS }),
}));

describe('RedisConsumerStatusStore', () => {
  const T0 = 1_700_000_000_000;

  it('shares one view across instances, each node reporting through whichever instance it polls', async () => {
    const keyPrefix = prefix();
    const a = openStore(keyPrefix);
    const b = openStore(keyPrefix);
    await a.record({ topic: 't', node: 'n1', currentVersion: 1, targetVersion: 2, at: T0 });
    await b.record({ topic: 't', node: 'n2', currentVersion: 2, targetVersion: 2, at: T0 });
    await a.flush();
    // The same node's next poll lands on the other instance: its lag still counts from the first report.
    await b.record({ topic: 't', node: 'n1', currentVersion: 1, targetVersion: 2, at: T0 + 20_000 });
    await b.flush();

    const status = await a.status('t', { now: T0 + 40_000, graceMs: 30_000 });
    expect(status.total).toBe(2);
    expect(status.distribution).toEqual([
      { version: 2, nodes: 1 },
      { version: 1, nodes: 1 },
    ]);
    expect(status.lagging).toEqual([
      { node: 'n1', currentVersion: 1, targetVersion: 2, since: T0, lastSeen: T0 + 20_000 },
    ]);
  });

  it('buffers reports and writes them in batches on its own, every flush interval', async () => {
    const keyPrefix = prefix();
    const writer = openStore(keyPrefix, { flushIntervalMs: 150 });
    const reader = openStore(keyPrefix);
    const now = Date.now();
    for (let i = 0; i < 50; i++)
      await writer.record({ topic: 'batched', node: `n${i % 10}`, currentVersion: 1 + (i % 3), at: now + i });
    // Fifty polls from ten nodes coalesce to ten entries, not yet written.
    expect(writer.pending).toBe(10);
    expect(await admin.exists(`${keyPrefix}{batched}:nodes`)).toBe(0);

    // Wait for the flush to be acknowledged (pending empties when it starts, stats count its reply).
    const deadline = Date.now() + 3_000;
    while (writer.stats.written < 10 && Date.now() < deadline) await sleep(20);
    expect(writer.pending).toBe(0);
    expect((await reader.status('batched', { now: now + 100, graceMs: 0 })).total).toBe(10);
    expect(writer.stats).toEqual({ written: 10, dropped: 0 });
  });

  it('writes a full batch at once instead of waiting for the interval', async () => {
    const keyPrefix = prefix();
    const store = openStore(keyPrefix, { flushIntervalMs: 60_000, maxBatch: 20 });
    for (let i = 0; i < 25; i++)
      await store.record({ topic: 'busy', node: `n${i}`, currentVersion: 1, at: T0 });
    const deadline = Date.now() + 3_000;
    while (store.stats.written < 20 && Date.now() < deadline) await sleep(20);
    expect(store.stats.written).toBeGreaterThanOrEqual(20);
    expect(await admin.hlen(`${keyPrefix}{busy}:nodes`)).toBeGreaterThanOrEqual(20);
  });

  it('lets Redis expire the keys of a topic nobody polls any more', async () => {
    const keyPrefix = prefix();
    const store = openStore(keyPrefix, { ttlMs: 300 });
    await store.record({
      topic: 'abandoned',
      node: 'n1',
      currentVersion: 1,
      targetVersion: 2,
      at: Date.now(),
    });
    await store.flush();
    expect(await admin.exists(`${keyPrefix}{abandoned}:nodes`, `${keyPrefix}{abandoned}:seen`)).toBe(2);
    await sleep(450);
    const keys = ['nodes', 'seen', 'lag'].map((k) => `${keyPrefix}{abandoned}:${k}`);
    expect(await admin.exists(...keys)).toBe(0);
  });

  it('skips an entry it cannot read instead of failing the whole status', async () => {
    const keyPrefix = prefix();
    const store = openStore(keyPrefix);
    await store.record({ topic: 't', node: 'good', currentVersion: 3, at: T0 });
    await store.flush();
    await admin.hset(`${keyPrefix}{t}:nodes`, 'bad', 'not json');
    await admin.zadd(`${keyPrefix}{t}:seen`, T0, 'bad');
    const status = await store.status('t', { now: T0, graceMs: 0 });
    expect(status.distribution).toEqual([{ version: 3, nodes: 1 }]);
  });

  it('while Redis is down, drops reports without failing polls and fails status; recovers after', async () => {
    if (!redis.down || !redis.up)
      throw new Error('this test needs a Redis it can stop (unset MESHPRESS_TEST_REDIS_URL)');
    const keyPrefix = prefix();
    const store = openStore(keyPrefix);
    await store.record({ topic: 't', node: 'warm', currentVersion: 1, at: T0 });
    await store.flush();

    await redis.down();
    try {
      await expect(
        store.record({ topic: 't', node: 'n1', currentVersion: 1, at: T0 + 1 }),
      ).resolves.toBeUndefined();
      await expect(store.flush()).resolves.toBeUndefined();
      expect(store.stats.dropped).toBe(1);
      await expect(store.status('t', { now: T0, graceMs: 0 })).rejects.toThrow(UnavailableError);
    } finally {
      await redis.up();
    }

    // The restarted Redis is empty; reports from the next polls repopulate it.
    const deadline = Date.now() + 5_000;
    let total = 0;
    while (total === 0 && Date.now() < deadline) {
      await store.record({ topic: 't', node: 'n1', currentVersion: 2, at: T0 + 2 });
      total = await store.status('t', { now: T0 + 2, graceMs: 0 }).then(
        (s) => s.total,
        () => 0,
      );
      if (total === 0) await sleep(50);
    }
    expect(total).toBe(1);
  });

  it('rejects invalid options naming the field', () => {
    expect(() => new RedisConsumerStatusStore({ url: redis.url, ttlMs: -1 })).toThrow(/ttlMs/);
    expect(() => new RedisConsumerStatusStore({ url: 'nope' })).toThrow(ValidationError);
  });
});
