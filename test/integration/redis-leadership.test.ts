import { randomUUID } from 'node:crypto';
import { systemClock, ValidationError } from '@meshpress/client';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisLeadership } from '../../server/src/leadership/redis-leadership.js';
import { PeriodicTask } from '../../server/src/tasks/periodic-task.js';
import { type RedisService, startRedis } from '../support/services/index.js';

let redis: RedisService;
let admin: Redis;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
});

afterAll(async () => {
  admin?.disconnect();
  await redis?.stop();
});

afterEach(async () => {
  await Promise.allSettled(cleanups.splice(0).map((cleanup) => cleanup()));
});

/** Each test uses its own key prefix, so tests never see each other's leases. */
function contenders(count: number, keyPrefix = `meshpress:test:${randomUUID()}:`): RedisLeadership[] {
  return Array.from({ length: count }, (_, i) => {
    const leadership = new RedisLeadership({
      url: redis.url,
      instanceId: `instance-${i}`,
      keyPrefix,
      connectTimeoutMs: 500,
      commandTimeoutMs: 500,
      maxReconnectDelayMs: 100,
    });
    cleanups.push(() => leadership.close());
    return leadership;
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Calls `acquire` every `everyMs` until it succeeds; returns how long that took. */
async function acquireWithin(leadership: RedisLeadership, task: string, leaseMs: number, limitMs: number) {
  const started = Date.now();
  while (Date.now() - started < limitMs) {
    if (await leadership.acquire(task, leaseMs)) return Date.now() - started;
    await sleep(25);
  }
  throw new Error(`${leadership.instanceId} did not acquire ${task} within ${limitMs} ms`);
}

describe('RedisLeadership', () => {
  it('gives a task to exactly one of several racing contenders, every time', async () => {
    const keyPrefix = `meshpress:test:${randomUUID()}:`;
    const all = contenders(5, keyPrefix);
    for (let round = 0; round < 20; round++) {
      const task = `task-${round}`;
      const results = await Promise.all(all.map((l) => l.acquire(task, 5_000)));
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = all[results.indexOf(true)]!;
      expect(await admin.get(keyPrefix + task)).toBe(winner.instanceId);
      expect(all.filter((l) => l.holds(task))).toEqual([winner]);
    }
  });

  it('lets the holder keep the task and keeps others out', async () => {
    const [a, b] = contenders(2);
    expect(await a!.acquire('writer', 5_000)).toBe(true);
    expect(await a!.acquire('writer', 5_000)).toBe(true);
    expect(await b!.acquire('writer', 5_000)).toBe(false);
    expect(a!.holds('writer')).toBe(true);
    expect(b!.holds('writer')).toBe(false);
    // Different tasks are independent leases.
    expect(await b!.acquire('janitor', 5_000)).toBe(true);
  });

  it('hands the task over at once when the holder releases it or closes', async () => {
    const [a, b, c] = contenders(3);
    expect(await a!.acquire('writer', 60_000)).toBe(true);
    await a!.release('writer');
    expect(a!.holds('writer')).toBe(false);
    expect(await b!.acquire('writer', 60_000)).toBe(true);
    await b!.close();
    await b!.close();
    expect(await c!.acquire('writer', 60_000)).toBe(true);
    await expect(b!.acquire('writer', 60_000)).rejects.toThrow(/closed/);
  });

  it('keeps a held lease alive by itself between acquires (a long iteration keeps its task)', async () => {
    const [a, b] = contenders(2);
    expect(await a!.acquire('writer', 300)).toBe(true);
    await sleep(900);
    expect(await b!.acquire('writer', 300)).toBe(false);
    expect(a!.holds('writer')).toBe(true);
  });

  it('passes the task on within one lease when the holder dies without releasing', async () => {
    const keyPrefix = `meshpress:test:${randomUUID()}:`;
    // The holder's own connection, so the test can cut it the way a crash or a partition would.
    const doomed = new Redis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    const holder = new RedisLeadership(
      { url: redis.url, instanceId: 'holder', keyPrefix },
      { connection: doomed, clock: systemClock, logger: pino({ level: 'silent' }) },
    );
    cleanups.push(() => holder.close());
    const lost: string[] = [];
    holder.onLost((task) => lost.push(task));
    const [successor] = contenders(1, keyPrefix);
    const leaseMs = 400;

    expect(await holder.acquire('writer', leaseMs)).toBe(true);
    doomed.disconnect();
    const tookMs = await acquireWithin(successor!, 'writer', leaseMs, 3_000);

    expect(tookMs).toBeLessThanOrEqual(leaseMs + 200);
    // The cut-off holder stops believing it leads once its lease may have run out.
    await sleep(50);
    expect(holder.holds('writer')).toBe(false);
    expect(lost).toEqual(['writer']);
  });

  it('reports a lease taken behind its back as lost, and a late release leaves the successor alone', async () => {
    const keyPrefix = `meshpress:test:${randomUUID()}:`;
    const [a, b] = contenders(2, keyPrefix);
    const lost: string[] = [];
    a!.onLost((task) => lost.push(task));
    expect(await a!.acquire('writer', 300)).toBe(true);

    // As if the lease expired while the holder was paused (GC, a stopped VM) and another took it.
    await admin.set(`${keyPrefix}writer`, 'instance-1', 'PX', 60_000);
    await sleep(200);
    expect(lost).toEqual(['writer']);
    expect(a!.holds('writer')).toBe(false);

    await a!.release('writer');
    expect(await admin.get(`${keyPrefix}writer`)).toBe('instance-1');
    expect(await a!.acquire('writer', 300)).toBe(false);
    expect(await b!.acquire('writer', 300)).toBe(true);
  });

  it('runs a periodic task on exactly one instance and moves it when the holder stops', async () => {
    const [a, b] = contenders(2);
    const runs = { a: 0, b: 0 };
    const logger = pino({ level: 'silent' });
    const task = (leadership: RedisLeadership, who: 'a' | 'b') =>
      new PeriodicTask({
        name: 'fallback-writer',
        intervalMs: 100,
        leaseMs: 300,
        initialDelayMs: 0,
        clock: systemClock,
        logger,
        leadership,
        run: async () => {
          runs[who]++;
        },
      });
    const taskA = task(a!, 'a');
    const taskB = task(b!, 'b');
    cleanups.push(
      () => taskA.close(),
      () => taskB.close(),
    );
    taskA.start();
    taskB.start();

    await sleep(700);
    const leader = runs.a > 0 ? 'a' : 'b';
    const follower = leader === 'a' ? 'b' : 'a';
    expect(runs[leader]).toBeGreaterThanOrEqual(4);
    expect(runs[follower]).toBe(0);

    await (leader === 'a' ? taskA : taskB).close();
    const before = runs[follower];
    await sleep(400);
    expect(runs[follower]).toBeGreaterThan(before);
  });

  it('rejects invalid options naming the bad field', () => {
    expect(() => new RedisLeadership({ url: redis.url, instanceId: '' })).toThrow(ValidationError);
    expect(() => new RedisLeadership({ url: 'localhost', instanceId: 'a' })).toThrow(/url/);
  });
});
