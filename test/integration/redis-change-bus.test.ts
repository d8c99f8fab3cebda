import { randomUUID } from 'node:crypto';
import { ValidationError } from '@meshpress/client';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../../server/src/bus/change-bus.js';
import { RedisChangeBus, type RedisChangeBusOptions } from '../../server/src/bus/redis-change-bus.js';
import { type RedisService, startRedis } from '../support/services/index.js';

let redis: RedisService;
const buses: RedisChangeBus[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await redis?.stop();
});

afterEach(async () => {
  await Promise.all(buses.splice(0).map((bus) => bus.close()));
});

/** A bus as one server instance would hold it; each test gets its own channel so tests never cross-talk. */
async function openBus(channel: string, extra: Partial<RedisChangeBusOptions> = {}): Promise<RedisChangeBus> {
  const bus = new RedisChangeBus({
    url: redis.url,
    channel,
    connectTimeoutMs: 500,
    commandTimeoutMs: 500,
    maxReconnectDelayMs: 100,
    ...extra,
  });
  buses.push(bus);
  await bus.waitUntilSubscribed(5_000);
  return bus;
}

/** Collects events and lets a test wait for the next one matching a condition. */
function recorder(bus: RedisChangeBus) {
  const events: ChangeEvent[] = [];
  const waiters: { match: (e: ChangeEvent) => boolean; resolve: (e: ChangeEvent) => void }[] = [];
  bus.subscribe((event) => {
    events.push(event);
    for (const waiter of waiters.splice(0)) {
      if (waiter.match(event)) waiter.resolve(event);
      else waiters.push(waiter);
    }
  });
  return {
    events,
    next(match: (e: ChangeEvent) => boolean, timeoutMs = 3_000): Promise<ChangeEvent> {
      const seen = events.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no matching change event arrived')), timeoutMs);
        waiters.push({
          match,
          resolve: (e) => {
            clearTimeout(timer);
            resolve(e);
          },
        });
      });
    },
  };
}

const channelName = () => `meshpress:test:${randomUUID()}`;

describe('RedisChangeBus', () => {
  it('delivers a change published by one instance to every instance on the channel', async () => {
    const channel = channelName();
    const a = await openBus(channel);
    const b = await openBus(channel);
    const onA = recorder(a);
    const onB = recorder(b);

    const event = { topic: 'mesh.prod.inventory.routes', origin: 'instance-a', at: 1_700_000_000_000 };
    await a.publish(event);

    expect(await onB.next((e) => e.topic === event.topic)).toEqual(event);
    // The publisher hears itself too, as with the in-process bus; the service skips its own origin.
    expect(await onA.next((e) => e.topic === event.topic)).toEqual(event);
    expect(a.stats.published).toBe(1);
  });

  it('keeps instances on different channels apart', async () => {
    const a = await openBus(channelName());
    const b = await openBus(channelName());
    const onB = recorder(b);
    const probe = recorder(a);

    await a.publish({ topic: 'isolated', origin: 'a', at: 1 });
    await probe.next((e) => e.topic === 'isolated');
    // b's own publish arriving proves b's subscription is live, so a's event would have arrived by now.
    await b.publish({ topic: 'marker', origin: 'b', at: 2 });
    await onB.next((e) => e.topic === 'marker');
    expect(onB.events.map((e) => e.topic)).toEqual(['marker']);
  });

  it('ignores malformed messages on the channel and keeps delivering', async () => {
    const channel = channelName();
    const bus = await openBus(channel);
    const received = recorder(bus);
    const raw = new Redis(redis.url);
    try {
      await raw.publish(channel, 'not json');
      await raw.publish(channel, JSON.stringify({ topic: 'UPPER case', origin: 'x', at: 1 }));
      await raw.publish(channel, JSON.stringify({ topic: 'ok.topic', origin: 'x' }));
      await raw.publish(channel, JSON.stringify({ topic: 'ok.topic', origin: 'x', at: 5 }));
    } finally {
      raw.disconnect();
    }
    expect(await received.next((e) => e.topic === 'ok.topic')).toEqual({
      topic: 'ok.topic',
      origin: 'x',
      at: 5,
    });
    expect(received.events).toHaveLength(1);
    expect(bus.stats.malformed).toBe(3);
  });

  it('keeps other listeners and later events flowing when a listener throws', async () => {
    const channel = channelName();
    const bus = await openBus(channel);
    bus.subscribe(() => {
      throw new Error('listener bug');
    });
    const received = recorder(bus);
    await bus.publish({ topic: 'first', origin: 'a', at: 1 });
    await bus.publish({ topic: 'second', origin: 'a', at: 2 });
    await received.next((e) => e.topic === 'second');
    expect(received.events.map((e) => e.topic)).toEqual(['first', 'second']);
  });

  it('stops delivering to a listener once it unsubscribes', async () => {
    const bus = await openBus(channelName());
    const kept = recorder(bus);
    const dropped: ChangeEvent[] = [];
    const unsubscribe = bus.subscribe((e) => dropped.push(e));
    unsubscribe();
    await bus.publish({ topic: 't', origin: 'a', at: 1 });
    await kept.next((e) => e.topic === 't');
    expect(dropped).toEqual([]);
  });

  it('while Redis is down, publish resolves without throwing; when it returns, delivery resumes', async () => {
    if (!redis.down || !redis.up)
      throw new Error('this test needs a Redis it can stop (unset MESHPRESS_TEST_REDIS_URL)');
    const channel = channelName();
    const a = await openBus(channel);
    const b = await openBus(channel);
    const onB = recorder(b);

    await redis.down();
    try {
      await expect(a.publish({ topic: 'during.outage', origin: 'a', at: 1 })).resolves.toBeUndefined();
      expect(a.stats.publishFailures).toBeGreaterThanOrEqual(1);
      expect(b.subscribed).toBe(false);
    } finally {
      await redis.up();
    }

    // Both connections reconnect on their own; the same listener receives without re-subscribing.
    await b.waitUntilSubscribed(5_000);
    await a.waitUntilSubscribed(5_000);
    const deadline = Date.now() + 5_000;
    let delivered: ChangeEvent | undefined;
    while (!delivered && Date.now() < deadline) {
      // The publisher's connection may come back a moment after the subscriber's; a publish in that
      // window is dropped (by design), so retry until one lands.
      await a.publish({ topic: 'after.outage', origin: 'a', at: 2 });
      delivered = await onB.next((e) => e.topic === 'after.outage', 200).catch(() => undefined);
    }
    expect(delivered).toEqual({ topic: 'after.outage', origin: 'a', at: 2 });
    expect(onB.events.some((e) => e.topic === 'during.outage')).toBe(false);
  });

  it('subscribes once Redis appears when it was down at startup', async () => {
    if (!redis.down || !redis.up)
      throw new Error('this test needs a Redis it can stop (unset MESHPRESS_TEST_REDIS_URL)');
    const channel = channelName();
    await redis.down();
    let late: RedisChangeBus;
    try {
      late = new RedisChangeBus({ url: redis.url, channel, connectTimeoutMs: 500, maxReconnectDelayMs: 100 });
      buses.push(late);
      await expect(late.waitUntilSubscribed(200)).rejects.toThrow(/not subscribed/);
      await expect(late.publish({ topic: 'early', origin: 'late', at: 1 })).resolves.toBeUndefined();
    } finally {
      await redis.up();
    }
    const received = recorder(late);
    await late.waitUntilSubscribed(5_000);
    const peer = await openBus(channel);
    await peer.publish({ topic: 'hello', origin: 'peer', at: 2 });
    expect(await received.next((e) => e.topic === 'hello')).toMatchObject({ origin: 'peer' });
  });

  it('close is idempotent, silences publish and leaves no connection behind', async () => {
    const clientName = `bus-${randomUUID().slice(0, 8)}`;
    const bus = await openBus(channelName(), { clientName });
    const admin = new Redis(redis.url);
    try {
      const ours = async () =>
        String(await admin.client('LIST'))
          .split('\n')
          .filter((l) => l.includes(`name=${clientName}-`));
      expect(await ours()).toHaveLength(2);

      await Promise.all([bus.close(), bus.close()]);
      await bus.close();
      await expect(bus.publish({ topic: 't', origin: 'a', at: 1 })).resolves.toBeUndefined();
      expect(bus.subscribed).toBe(false);
      expect(bus.stats.publishFailures).toBe(0);

      // Longer than the reconnection delay: a connection that were to come back would be listed by now.
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(await ours()).toEqual([]);
    } finally {
      admin.disconnect();
    }
  });

  it('rejects invalid options naming the bad field', () => {
    expect(() => new RedisChangeBus({ url: 'http://localhost:6379' })).toThrow(ValidationError);
    expect(() => new RedisChangeBus({ url: redis.url, channel: '' })).toThrow(/channel/);
  });
});
