import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_FALLBACK_CACHE_KEY,
  decodeFallbackCache,
  ManualClock,
  sha256Hex,
  systemClock,
  ValidationError,
} from '@meshpress/client';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DirBlobStore } from '../../server/src/blob/dir-blob-store.js';
import { RedisLeadership } from '../../server/src/leadership/redis-leadership.js';
import { SqliteConfigStore } from '../../server/src/store/sqlite/sqlite-config-store.js';
import { LeaseLostError } from '../../server/src/tasks/errors.js';
import { FALLBACK_WRITER_TASK, startFallbackWriter } from '../../server/src/tasks/fallback-writer.js';
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

  it("a fallback writer that loses its lease mid-run stops, and never overwrites its successor's cache", async () => {
    const keyPrefix = `meshpress:test:${randomUUID()}:`;
    const T1 = 1_700_000_000_000;
    const LEASE_MS = 3_000;
    const logger = pino({ level: 'silent' });
    const dir = await mkdtemp(join(tmpdir(), 'meshpress-lease-'));
    const store = await SqliteConfigStore.open({ path: ':memory:' });
    const blobs = new DirBlobStore({ root: dir });
    cleanups.push(async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });
    await store.putTopic({ name: 't', retention: {} }, T1);
    const data = new TextEncoder().encode('v1');
    await store.allocateVersion('t');
    await store.writeVersion({
      topic: 't',
      version: 1,
      metadata: {},
      pointer: { kind: 'direct', data },
      size: data.byteLength,
      sha256: sha256Hex(data),
      contentType: 'text/plain',
      publisher: 'ci',
      createdAt: T1,
    });
    await store.addScopes('t', 1, ['*'], T1);
    await store.commitVersion('t', 1, T1);

    const instance = (id: string, clock: ManualClock) => {
      const leadership = new RedisLeadership(
        { url: redis.url, instanceId: id, keyPrefix, commandTimeoutMs: 500 },
        { clock, logger },
      );
      // Scheduled runs far away: only the runs the test asks for happen.
      const writer = startFallbackWriter({
        store,
        blobs,
        clock,
        logger,
        leadership,
        instanceId: id,
        intervalMs: 60_000,
        initialDelayMs: 3_600_000,
      });
      cleanups.push(async () => {
        await writer.close();
        await leadership.close();
      });
      return { leadership, writer, clock };
    };
    const a = instance('instance-a', new ManualClock(T1));
    const b = instance('instance-b', new ManualClock(T1 + 10_000));

    // A holds the lease and starts a write whose store reads hang (a slow build, a paused process).
    expect(await a.leadership.acquire(FALLBACK_WRITER_TASK, LEASE_MS)).toBe(true);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const listTopics = store.listTopics.bind(store);
    vi.spyOn(store, 'listTopics').mockImplementationOnce(async (options) => {
      await gate;
      return listTopics(options);
    });
    const late = a.writer.runOnce();
    late.catch(() => undefined);

    // The lease expires behind A's back; A's next renewal finds it gone.
    await admin.del(`${keyPrefix}${FALLBACK_WRITER_TASK}`);
    a.clock.advance(LEASE_MS / 3);
    await vi.waitFor(() => expect(a.leadership.holds(FALLBACK_WRITER_TASK)).toBe(false), { timeout: 2_000 });

    // B takes the task over and writes a cache generated at T2.
    expect(await b.leadership.acquire(FALLBACK_WRITER_TASK, LEASE_MS)).toBe(true);
    expect((await b.writer.runOnce()).written).toBe(true);

    open();
    await expect(late).rejects.toBeInstanceOf(LeaseLostError);
    const stored = await decodeFallbackCache(await readFile(join(dir, DEFAULT_FALLBACK_CACHE_KEY)));
    expect(stored).toMatchObject({ writer: 'instance-b', generatedAt: T1 + 10_000 });
  });

  it('rejects invalid options naming the bad field', () => {
    expect(() => new RedisLeadership({ url: redis.url, instanceId: '' })).toThrow(ValidationError);
    expect(() => new RedisLeadership({ url: 'localhost', instanceId: 'a' })).toThrow(/url/);
  });
});
