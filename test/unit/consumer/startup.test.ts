import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Identity, ManualClock, UnavailableError } from '@meshpress/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DiskCache } from '../../../client/src/consumer/disk-cache.js';
import {
  InMemoryClientMetrics,
  MeshpressClient,
  type MeshpressClientOptions,
  type ReadyReport,
} from '../../../client/src/consumer/index.js';
import type { FallbackCacheReader, FallbackHit } from '../../../client/src/fallback/types.js';
import { FakeTransport, IDENTITY, record, settle, text } from './support.js';

const clients: MeshpressClient[] = [];
let cacheDir: string;

beforeEach(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'meshpress-client-unit-'));
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await rm(cacheDir, { recursive: true, force: true });
});

/** A fallback cache reader over fixed hits; `down` makes it throw, `hang` never answer. */
class FakeFallback implements FallbackCacheReader {
  readonly hits = new Map<string, FallbackHit>();
  readonly lookups: [string, Identity][] = [];
  mode: 'up' | 'down' | 'hang' = 'up';

  async lookup(topic: string, identity: Identity): Promise<FallbackHit | undefined> {
    this.lookups.push([topic, identity]);
    if (this.mode === 'down') throw new UnavailableError('S3 unreachable');
    if (this.mode === 'hang') return new Promise(() => undefined);
    return this.hits.get(topic);
  }

  async close(): Promise<void> {}
}

function setup(options: Partial<MeshpressClientOptions> = {}) {
  const clock = new ManualClock();
  const transport = new FakeTransport();
  const metrics = new InMemoryClientMetrics();
  const fallback = new FakeFallback();
  const client = new MeshpressClient({
    identity: IDENTITY,
    transport,
    clock,
    metrics,
    fallback,
    random: () => 0.999,
    pollIntervalMs: 30_000,
    pollJitter: 0,
    retryBaseMs: 1_000,
    maxRetries: 3,
    startupTimeoutMs: 5_000,
    requestTimeoutMs: 10_000,
    ...options,
  });
  clients.push(client);
  return { clock, transport, metrics, fallback, client };
}

/**
 * Lets real I/O (disk cache reads and writes) finish until `done` holds. The injected clock does not move
 * meanwhile; the real-time cap only bounds a test that would otherwise hang on a busy machine.
 */
async function settleUntil(done: () => boolean): Promise<void> {
  const giveUpAt = performance.now() + 10_000;
  while (!done() && performance.now() < giveUpAt) await settle(1);
  expect(done()).toBe(true);
}

/** Tracks whether a promise has settled without awaiting it. */
function track<T>(promise: Promise<T>) {
  const state: { done: boolean; value?: T } = { done: false };
  void promise.then((value) => {
    state.done = true;
    state.value = value;
  });
  return state;
}

/** An earlier run applied `version` from the service, which is in the disk cache (unpinned). */
async function runBefore(version: number, value: string): Promise<void> {
  const first = setup({ cacheDir });
  first.transport.setTarget(record('a.routes', version, value));
  first.client.subscribeAtomic('a.routes', { decode: text, defaultValue: 'default' });
  const ready = first.client.start();
  first.clock.advance(0);
  await ready;
  await first.client.close();
}

describe('startup bound', () => {
  it('never blocks past the bound when the service never answers and there is nothing else', async () => {
    const { clock, transport, client } = setup({ fallback: undefined });
    transport.mode = 'hang';
    const sub = client.subscribeAtomic('a.routes', { decode: text, defaultValue: 'default' });
    const ready = track(client.start());
    clock.advance(0);
    await settle();
    clock.advance(4_999);
    await settle();
    expect(ready.done).toBe(false);
    clock.advance(1);
    await settle();
    expect(ready.done).toBe(true);
    // `ready: false`: the bound cut the wait short; the subscription runs on its default.
    expect(ready.value).toEqual<ReadyReport>({
      ready: false,
      subscriptions: [{ topic: 'a.routes', version: undefined, source: 'default' }],
    });
    expect(sub.current()).toBe('default');
  });

  it('reports a subscription still waiting on a hanging fallback as pending, on the default', async () => {
    const { clock, transport, fallback, client } = setup();
    transport.mode = 'hang';
    fallback.mode = 'hang';
    const sub = client.subscribeAtomic('a.routes', { decode: text, defaultValue: 'default' });
    const ready = track(client.start());
    clock.advance(5_000);
    await settle();
    expect(ready.value).toEqual<ReadyReport>({
      ready: false,
      subscriptions: [{ topic: 'a.routes', version: undefined, source: 'pending' }],
    });
    expect(sub.current()).toBe('default');
  });

  it('a hanging service: at half the bound, subscriptions start from the fallback cache', async () => {
    const { clock, transport, fallback, metrics, client } = setup();
    transport.mode = 'hang';
    fallback.hits.set('a.routes', { version: 4, pinned: false, record: record('a.routes', 4, 'from-s3') });
    const sub = client.subscribeAtomic('a.routes', { decode: text, defaultValue: 'default' });
    const ready = track(client.start());
    clock.advance(2_499);
    await settle();
    expect(fallback.lookups).toHaveLength(0);
    clock.advance(1);
    await settle();
    expect(ready.value?.ready).toBe(true);
    expect(ready.value?.subscriptions).toEqual([{ topic: 'a.routes', version: 4, source: 'fallback-cache' }]);
    expect(fallback.lookups).toEqual([['a.routes', IDENTITY]]);
    expect(sub.state).toMatchObject({ value: 'from-s3', version: 4, source: 'fallback-cache' });
    expect(metrics.count('fallbackUsed', { source: 'fallback-cache' })).toBe(1);
  });
});

describe('startup bound with a slow fallback cache', () => {
  /** An earlier run applied version 6, which is in the disk cache. */
  async function earlierRun(): Promise<void> {
    await runBefore(6, 'six');
  }
  it('a hanging S3 lookup gives way to the disk cache before the bound, so startup ends on it', async () => {
    await earlierRun();
    const { clock, transport, fallback, metrics, client } = setup({ cacheDir });
    transport.mode = 'hang';
    fallback.mode = 'hang';
    const sub = client.subscribeAtomic('a.routes', { decode: text, defaultValue: 'default' });
    const ready = track(client.start());
    clock.advance(2_500);
    await settle();
    expect(fallback.lookups).toHaveLength(1);
    // The lookup's own budget (requestTimeoutMs, 10 s) is past the bound (5 s): at bound − margin the
    // disk cache entry is used instead.
    clock.advance(1_999);
    await settle();
    expect(sub.current()).toBe('default');
    clock.advance(1);
    await settleUntil(() => sub.version !== undefined);
    expect(sub.state).toMatchObject({ value: 'six', version: 6, source: 'disk-cache' });
    clock.advance(500);
    await settle();
    expect(ready.value).toEqual<ReadyReport>({
      ready: true,
      subscriptions: [{ topic: 'a.routes', version: 6, source: 'disk-cache' }],
    });
    expect(metrics.count('fallbackUsed', { source: 'disk-cache' })).toBe(1);
  });

  it('a slow S3 lookup that answers before bound − margin still wins over the disk cache', async () => {
    await earlierRun();
    const { clock, transport, fallback, client } = setup({ cacheDir });
    transport.mode = 'hang';
    fallback.mode = 'hang';
    const sub = client.subscribeAtomic('a.routes', { decode: text, defaultValue: 'default' });
    let answer!: (hit: FallbackHit) => void;
    fallback.lookup = async (topic, identity) => {
      fallback.lookups.push([topic, identity]);
      return new Promise<FallbackHit>((resolve) => (answer = resolve));
    };
    const ready = client.start();
    clock.advance(2_500);
    await settle();
    clock.advance(1_000);
    answer({ version: 7, pinned: false, record: record('a.routes', 7, 'seven') });
    await settleUntil(() => sub.version !== undefined);
    clock.advance(1_500);
    expect((await ready).subscriptions).toEqual([
      { topic: 'a.routes', version: 7, source: 'fallback-cache' },
    ]);
    expect(sub.current()).toBe('seven');
  });

  it('a fallback hit whose download hangs gives way to the disk cache before the bound too', async () => {
    await earlierRun();
    const { clock, transport, fallback, metrics, client } = setup({ cacheDir });
    transport.mode = 'hang';
    const fetches: AbortSignal[] = [];
    transport.fetchData = (_topic, _version, signal) => {
      fetches.push(signal);
      return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    };
    // Embedded mode: a payload over the inline limit is fetched through the (hanging) service.
    fallback.hits.set('a.routes', {
      version: 7,
      pinned: false,
      record: { ...record('a.routes', 7, 'seven'), pointer: { kind: 'local', key: 'blobs/seven' } },
    });
    const sub = client.subscribeAtomic('a.routes', { decode: text, defaultValue: 'default' });
    const ready = track(client.start());
    clock.advance(2_500);
    await settleUntil(() => fetches.length === 1);
    clock.advance(1_999);
    await settle();
    expect(sub.current()).toBe('default');
    clock.advance(1);
    await settleUntil(() => sub.version !== undefined);
    expect(fetches[0]!.aborted).toBe(true);
    expect(sub.state).toMatchObject({ value: 'six', version: 6, source: 'disk-cache' });
    clock.advance(500);
    await settle();
    expect(ready.value).toEqual<ReadyReport>({
      ready: true,
      subscriptions: [{ topic: 'a.routes', version: 6, source: 'disk-cache' }],
    });
    // Given up on for the disk copy, not failed: no download rejection counted.
    expect(metrics.count('versionsRejected')).toBe(0);
  });

  it('without a disk cache entry the lookup keeps its whole budget', async () => {
    const { clock, transport, fallback, client } = setup({ cacheDir });
    transport.mode = 'hang';
    const sub = client.subscribeAtomic('a.routes', { decode: text, defaultValue: 'default' });
    let answer!: (hit: FallbackHit) => void;
    fallback.lookup = async (topic, identity) => {
      fallback.lookups.push([topic, identity]);
      return new Promise<FallbackHit>((resolve) => (answer = resolve));
    };
    const ready = client.start();
    clock.advance(5_000);
    expect((await ready).subscriptions).toEqual([
      { topic: 'a.routes', version: undefined, source: 'pending' },
    ]);
    clock.advance(4_000);
    answer({ version: 7, pinned: false, record: record('a.routes', 7, 'seven') });
    await settleUntil(() => sub.version !== undefined);
    expect(sub.state).toMatchObject({ value: 'seven', version: 7, source: 'fallback-cache' });
  });
});

describe('retries exhausted', () => {
  it('switches to the fallback cache after maxRetries failures, keeps polling, and recovers', async () => {
    const { clock, transport, fallback, metrics, client } = setup({ startupTimeoutMs: 60_000 });
    transport.mode = 'down';
    fallback.hits.set('a.routes', { version: 2, pinned: false, record: record('a.routes', 2, 'two') });
    const sub = client.subscribeAtomic('a.routes', { decode: text, defaultValue: 'default' });
    void client.start();
    clock.advance(0);
    await settle();
    expect(transport.requests).toHaveLength(1);
    // Backoff ceilings 1 s then 2 s (random ≈ 1): the third failure is at 3 s.
    clock.advance(999);
    await settle();
    expect(transport.requests).toHaveLength(2);
    expect(fallback.lookups).toHaveLength(0);
    clock.advance(1_999);
    await settle();
    expect(transport.requests).toHaveLength(3);
    expect(sub.state).toMatchObject({ value: 'two', version: 2, source: 'fallback-cache' });
    expect(metrics.count('fallbackUsed', { topic: 'a.routes', source: 'fallback-cache' })).toBe(1);

    // Still polling, and reporting the version from the fallback cache.
    clock.advance(3_999);
    await settle();
    expect(transport.requests).toHaveLength(4);
    expect(transport.requests[3]!.topics).toEqual([{ topic: 'a.routes', currentVersion: 2 }]);

    // The service returns with a newer version: applied on the next attempt.
    transport.mode = 'up';
    transport.setTarget(record('a.routes', 3, 'three'));
    clock.advance(7_999);
    await settle();
    expect(sub.state).toMatchObject({ value: 'three', version: 3, source: 'service' });
    expect(client.consecutivePollFailures).toBe(0);
    expect(client.secondsSinceLastSuccessfulPoll()).toBe(0);
    expect(metrics.secondsSinceLastSuccessfulPoll()).toBe(0);
    clock.advance(12_000);
    expect(metrics.secondsSinceLastSuccessfulPoll()).toBe(12);
  });

  it('recovers within one interval however long the outage lasted', async () => {
    const { clock, transport, client } = setup({
      pollIntervalMs: 20_000,
      retryCapMs: 600_000,
      fallback: undefined,
    });
    transport.mode = 'down';
    const sub = client.subscribeAtomic('a.routes', { decode: text, defaultValue: 'default' });
    void client.start();
    for (let i = 0; i < 100; i++) {
      clock.advance(5_000);
      await settle(2);
    }
    transport.mode = 'up';
    transport.setTarget(record('a.routes', 1, 'back'));
    const returnedAt = clock.now();
    while (sub.current() !== 'back' && clock.now() - returnedAt <= 20_000) {
      clock.advance(500);
      await settle(2);
    }
    expect(sub.current()).toBe('back');
    expect(clock.now() - returnedAt).toBeLessThanOrEqual(20_000);
  });

  it('service and fallback cache down: starts from the disk cache written by an earlier run', async () => {
    // Earlier run: the service gives v6, which lands in the disk cache.
    const first = setup({ cacheDir });
    first.transport.setTarget(record('a.routes', 6, 'six', { scopes: ['app=checkout'] }));
    first.client.subscribeAtomic('a.routes', { decode: text, defaultValue: 'default' });
    const firstReady = first.client.start();
    first.clock.advance(0);
    expect((await firstReady).subscriptions[0]).toMatchObject({ version: 6, source: 'service' });
    await first.client.close();

    const { clock, transport, fallback, metrics, client } = setup({ cacheDir });
    transport.mode = 'down';
    fallback.mode = 'down';
    const sub = client.subscribeAtomic('a.routes', { decode: text, defaultValue: 'default' });
    const ready = client.start();
    clock.advance(0);
    await settle();
    clock.advance(1_000);
    await settle();
    clock.advance(2_000);
    const report = await ready;
    await settle();
    expect(report).toEqual<ReadyReport>({
      ready: true,
      subscriptions: [{ topic: 'a.routes', version: 6, source: 'disk-cache' }],
    });
    expect(sub.state).toMatchObject({ value: 'six', version: 6, source: 'disk-cache' });
    expect(sub.record?.scopes.map((s) => s.scope)).toEqual(['app=checkout']);
    expect(metrics.count('fallbackUsed', { source: 'disk-cache' })).toBe(1);
    expect(fallback.lookups).toHaveLength(1);
  });

  it('nothing anywhere: the default, counted as such', async () => {
    const { clock, transport, fallback, metrics, client } = setup({ cacheDir });
    transport.mode = 'down';
    const sub = client.subscribeAtomic('a.routes', { decode: text, defaultValue: 'default' });
    const ready = client.start();
    clock.advance(0);
    await settle();
    clock.advance(1_000);
    await settle();
    clock.advance(2_000);
    expect((await ready).subscriptions).toEqual([
      { topic: 'a.routes', version: undefined, source: 'default' },
    ]);
    expect(sub.current()).toBe('default');
    expect(fallback.lookups).toHaveLength(1);
    expect(metrics.count('fallbackUsed', { source: 'default' })).toBe(1);
  });

  it('a fallback hit that is corrupt is rejected and the disk cache is used instead', async () => {
    const first = setup({ cacheDir });
    first.transport.setTarget(record('a.routes', 1, 'one'));
    first.client.subscribe('a.routes', () => undefined);
    const firstReady = first.client.start();
    first.clock.advance(0);
    await firstReady;
    await first.client.close();

    const { clock, transport, fallback, metrics, client } = setup({ cacheDir });
    transport.mode = 'down';
    const bad = record('a.routes', 2, 'two', { sha256: 'f'.repeat(64) });
    fallback.hits.set('a.routes', { version: 2, pinned: false, record: bad });
    const sub = client.subscribeAtomic('a.routes', { decode: text, defaultValue: 'default' });
    const ready = client.start();
    clock.advance(2_500);
    await ready;
    expect(sub.state).toMatchObject({ value: 'one', version: 1, source: 'disk-cache' });
    // The inline bytes do not match and the service, the other copy, cannot be asked: not applied.
    expect(metrics.count('versionsRejected', { topic: 'a.routes', reason: 'download' })).toBe(1);
  });

  it('subscribing during an outage starts the new subscription from the fallbacks at once', async () => {
    const { clock, transport, fallback, client } = setup({ startupTimeoutMs: 60_000 });
    transport.mode = 'down';
    client.subscribe('a.routes', () => undefined);
    void client.start();
    for (const step of [0, 1_000, 2_000]) {
      clock.advance(step);
      await settle();
    }
    expect(client.consecutivePollFailures).toBe(3);
    fallback.hits.set('b.routes', { version: 9, pinned: true, record: record('b.routes', 9, 'nine') });
    const sub = client.subscribeAtomic('b.routes', { decode: text, defaultValue: 'default' });
    await settle();
    expect(sub.state).toMatchObject({ value: 'nine', version: 9, pinned: true, source: 'fallback-cache' });
  });
});

describe('fallback sources start only subscriptions without a value', () => {
  it('a stale pinned fallback hit meant for a sibling that refused the target does not roll back the others', async () => {
    const { clock, transport, fallback, client } = setup({ cacheDir });
    transport.setTarget(record('a.routes', 9, 'nine'));
    const a = client.subscribeAtomic('a.routes', { decode: text, defaultValue: 'default' });
    const b = client.subscribeAtomic('a.routes', {
      decode: (data) => {
        if (text(data) === 'nine') throw new Error('this decoder cannot read version 9');
        return text(data);
      },
      defaultValue: 'default',
    });
    const ready = client.start();
    clock.advance(0);
    // Version 9 is written to the disk cache (real I/O) before the first poll's answer is done.
    await ready;
    await settleUntil(() => b.startedFrom !== 'pending');
    expect(a.current()).toBe('nine');
    expect(b.current()).toBe('default');

    // The fallback cache still holds an old pin to version 5; then the service goes away.
    fallback.hits.set('a.routes', { version: 5, pinned: true, record: record('a.routes', 5, 'five') });
    transport.mode = 'down';
    for (let i = 0; i < 10; i++) {
      clock.advance(30_000);
      await settle();
    }
    expect(fallback.lookups.length).toBeGreaterThan(0);
    // B had nothing, so the fallback starts it; A keeps the newer version it runs.
    expect(b.state).toMatchObject({ value: 'five', version: 5, source: 'fallback-cache' });
    expect(a.state).toMatchObject({ value: 'nine', version: 9, pinned: false, source: 'service' });
    // The node still reports (and caches on disk) the version the channel runs.
    expect(transport.requests.at(-1)!.topics).toEqual([{ topic: 'a.routes', currentVersion: 9 }]);
    await client.close();
    const onDisk = await new DiskCache(cacheDir, IDENTITY).read('a.routes');
    expect(onDisk?.record.version).toBe(9);
  });
});

describe('a history request that never answers', () => {
  it('is bounded by requestTimeoutMs: polling goes on and the disk cache copy is applied', async () => {
    await runBefore(4, 'four');
    const { clock, transport, client } = setup({ cacheDir });
    transport.setTarget(record('a.routes', 5, 'bad-5'));
    const histories: AbortSignal[] = [];
    // Accepted by the server and never answered (a stuck read, a half-open connection).
    transport.history = (_topic, _before, _limit, signal) => {
      histories.push(signal);
      return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    };
    const sub = client.subscribeAtomic('a.routes', {
      decode: (data) => {
        if (text(data).startsWith('bad')) throw new Error('undecodable');
        return text(data);
      },
      defaultValue: 'default',
    });
    void client.start();
    clock.advance(0);
    await settle();
    expect(histories).toHaveLength(1);
    // The half-bound fallback run found the disk entry; its offer waits behind the history walk.
    clock.advance(9_999);
    await settle();
    expect(sub.version).toBeUndefined();
    expect(histories[0]!.aborted).toBe(false);
    clock.advance(1);
    await settleUntil(() => sub.version !== undefined);
    expect(histories[0]!.aborted).toBe(true);
    expect(sub.state).toMatchObject({ value: 'four', version: 4, source: 'disk-cache' });
    // And the poll loop did not stall behind it.
    clock.advance(30_000);
    await settle();
    expect(transport.requests.length).toBeGreaterThan(1);
    expect(transport.requests.at(-1)!.topics).toEqual([{ topic: 'a.routes', currentVersion: 4 }]);
  });
});

describe('an unpinned fallback cache hit older than the disk cache', () => {
  it('is stale: the node starts from the newer disk copy, which stays on disk', async () => {
    // An earlier run applied v7 from the service; the fallback cache was written before v7 existed.
    await runBefore(7, 'seven');
    const { clock, transport, fallback, client } = setup({ cacheDir });
    transport.mode = 'down';
    fallback.hits.set('a.routes', { version: 6, pinned: false, record: record('a.routes', 6, 'six') });
    const sub = client.subscribeAtomic('a.routes', { decode: text, defaultValue: 'default' });
    const ready = client.start();
    for (const step of [0, 1_000, 2_000]) {
      clock.advance(step);
      await settle();
    }
    await settleUntil(() => sub.version !== undefined);
    expect(fallback.lookups).toHaveLength(1);
    expect(sub.state).toMatchObject({ value: 'seven', version: 7, source: 'disk-cache' });
    expect((await ready).subscriptions).toEqual([{ topic: 'a.routes', version: 7, source: 'disk-cache' }]);
    await client.close();
    expect((await new DiskCache(cacheDir, IDENTITY).read('a.routes'))?.record.version).toBe(7);
  });

  it('a pinned hit still wins over the disk cache (a rollback)', async () => {
    await runBefore(7, 'seven');
    const { clock, transport, fallback, client } = setup({ cacheDir });
    transport.mode = 'down';
    fallback.hits.set('a.routes', { version: 6, pinned: true, record: record('a.routes', 6, 'six') });
    const sub = client.subscribeAtomic('a.routes', { decode: text, defaultValue: 'default' });
    void client.start();
    for (const step of [0, 1_000, 2_000]) {
      clock.advance(step);
      await settle();
    }
    await settleUntil(() => sub.version !== undefined);
    expect(sub.state).toMatchObject({ value: 'six', version: 6, pinned: true, source: 'fallback-cache' });
  });
});

describe('an unpinned fallback cache value applied while the disk cache was empty', () => {
  it('does not replace a newer disk entry written meanwhile', async () => {
    const { clock, transport, fallback, client } = setup({ cacheDir });
    transport.mode = 'down';
    let answer!: (hit: FallbackHit) => void;
    fallback.lookup = async (topic, identity) => {
      fallback.lookups.push([topic, identity]);
      return new Promise<FallbackHit>((resolve) => (answer = resolve));
    };
    const sub = client.subscribeAtomic('a.routes', { decode: text, defaultValue: 'default' });
    void client.start();
    for (const step of [0, 1_000, 2_000]) {
      clock.advance(step);
      await settle();
    }
    expect(fallback.lookups).toHaveLength(1);
    // The chain's disk read found nothing; then another process on the same directory saved v7.
    const v7 = record('a.routes', 7, 'seven');
    await new DiskCache(cacheDir, IDENTITY).write({
      record: v7,
      pinned: false,
      data: new TextEncoder().encode('seven'),
      savedAt: clock.now(),
    });
    answer({ version: 6, pinned: false, record: record('a.routes', 6, 'six') });
    await settleUntil(() => sub.version !== undefined);
    expect(sub.state).toMatchObject({ value: 'six', version: 6, source: 'fallback-cache' });
    await client.close();
    expect((await new DiskCache(cacheDir, IDENTITY).read('a.routes'))?.record.version).toBe(7);
  });
});
