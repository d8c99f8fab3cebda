import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, type VersionRecord } from '@meshpress/client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DiskCache } from '../../../client/src/consumer/disk-cache.js';
import {
  InMemoryClientMetrics,
  MeshpressClient,
  type MeshpressClientOptions,
} from '../../../client/src/consumer/index.js';
import { CapturingLogger } from '../../support/capturing-logger.js';
import { FakeTransport, IDENTITY, record, settle, text } from './support.js';

const clients: { client: MeshpressClient; clock: ManualClock }[] = [];

afterEach(async () => {
  // Work that never settles keeps close() waiting for requestTimeoutMs on the test's clock.
  await Promise.all(
    clients.splice(0).map(async ({ client, clock }) => {
      const closing = client.close();
      await settle();
      clock.advance(10_000);
      await closing;
    }),
  );
  vi.restoreAllMocks();
});

class OverdueLogger extends CapturingLogger {
  get overdue() {
    return this.lines.filter(
      (l) => l.level === 'warn' && l.msg?.startsWith('applying a poll answer is overdue'),
    );
  }
}

function setup(options: Partial<MeshpressClientOptions> = {}) {
  const clock = new ManualClock();
  const transport = new FakeTransport();
  const metrics = new InMemoryClientMetrics();
  const logger = new OverdueLogger();
  const client = new MeshpressClient({
    identity: IDENTITY,
    transport,
    clock,
    metrics,
    logger,
    random: () => 0.5,
    pollIntervalMs: 30_000,
    pollJitter: 0,
    requestTimeoutMs: 10_000,
    downloadTimeoutMs: 10_000,
    ...options,
  });
  clients.push({ client, clock });
  return { clock, transport, metrics, logger, client };
}

async function advance(clock: ManualClock, ms: number) {
  clock.advance(ms);
  await settle();
}

/** A decoder that never settles on the versions in `hold` (until released); records every call. */
function gatedDecoder() {
  const calls: number[] = [];
  const hold = new Set<number>();
  const gates = new Map<number, () => void>();
  const decode = (data: Uint8Array, rec: VersionRecord): string | Promise<string> => {
    calls.push(rec.version);
    if (!hold.has(rec.version)) return text(data);
    return new Promise<string>((resolve) => gates.set(rec.version, () => resolve(text(data))));
  };
  return { decode, calls, hold, release: (version: number) => gates.get(version)!() };
}

/**
 * Topics a and b both on v1, then v2 of each: a's decode of v2 never settles, b's applies. Returns right
 * after that answer, while the poll loop still waits for a (the bound ends requestTimeoutMs later).
 */
async function stuckOnA(options: Partial<MeshpressClientOptions> = {}) {
  const env = setup(options);
  const { clock, transport, client } = env;
  const gate = gatedDecoder();
  gate.hold.add(2);
  transport.setTarget(record('a.routes', 1, 'a1'));
  transport.setTarget(record('b.routes', 1, 'b1'));
  const a = client.subscribeAtomic('a.routes', { decode: gate.decode, defaultValue: '' });
  const b = client.subscribeAtomic('b.routes', { decode: text, defaultValue: '' });
  void client.start();
  await advance(clock, 0);
  expect([a.version, b.version]).toEqual([1, 1]);

  transport.setTarget(record('a.routes', 2, 'a2'));
  transport.setTarget(record('b.routes', 2, 'b2'));
  await advance(clock, 30_000);
  expect(transport.requests).toHaveLength(2);
  expect(b.current()).toBe('b2');
  expect(a.current()).toBe('a1');
  return { ...env, gate, a, b };
}

describe('an answer whose applying never finishes', () => {
  it('holds the poll loop for requestTimeoutMs at most, then logs once and counts it, and the other topic keeps getting its versions', async () => {
    const { clock, transport, client, metrics, logger, a, b } = await stuckOnA();

    await advance(clock, 9_999);
    expect(logger.overdue).toHaveLength(0);
    await advance(clock, 1);
    expect(logger.overdue).toHaveLength(1);
    expect(logger.overdue[0]!.obj).toMatchObject({ topics: ['a.routes'], waitedMs: 10_000 });
    expect(metrics.count('appliesOverdue', { topic: 'a.routes' })).toBe(1);
    expect(metrics.count('appliesOverdue', { topic: 'b.routes' })).toBe(0);

    // The next poll goes out as after a success: an interval later.
    transport.setTarget(record('b.routes', 3, 'b3'));
    await advance(clock, 29_999);
    expect(transport.requests).toHaveLength(2);
    await advance(clock, 1);
    expect(transport.requests).toHaveLength(3);
    // a reports the version it still runs, so the service keeps offering it v2.
    expect(transport.requests[2]!.topics).toEqual([
      { topic: 'a.routes', currentVersion: 1 },
      { topic: 'b.routes', currentVersion: 2 },
    ]);
    expect(b.current()).toBe('b3');

    // a no longer holds polls up: no second wait, no second warning.
    transport.setTarget(record('b.routes', 4, 'b4'));
    await advance(clock, 30_000);
    expect(transport.requests).toHaveLength(4);
    expect(b.current()).toBe('b4');
    expect(transport.requests[3]!.topics[0]).toEqual({ topic: 'a.routes', currentVersion: 1 });
    expect(a.state).toMatchObject({ value: 'a1', version: 1 });
    expect(logger.overdue).toHaveLength(1);
    expect(client.consecutivePollFailures).toBe(0);
  });

  it('keeps at most one target waiting for the stuck topic, and catches up to the newest once it settles', async () => {
    const { clock, transport, gate, a, b, logger } = await stuckOnA();
    await advance(clock, 10_000);

    // The service moves a on, poll after poll, while its decode of v2 still hangs.
    for (let v = 3; v <= 8; v++) {
      transport.setTarget(record('a.routes', v, `a${v}`));
      transport.setTarget(record('b.routes', v, `b${v}`));
      await advance(clock, 30_000);
      expect(b.current()).toBe(`b${v}`);
    }
    expect(transport.requests.slice(2).every((r) => r.topics[0]!.currentVersion === 1)).toBe(true);
    // No decode of the versions in between: later answers replaced the waiting target, none queued up.
    expect(gate.calls).toEqual([1, 2]);
    expect(logger.overdue).toHaveLength(1);

    gate.release(2);
    await settle();
    // v2 lands, then the newest target only.
    expect(gate.calls).toEqual([1, 2, 8]);
    expect(a.state).toMatchObject({ value: 'a8', version: 8 });

    // And the topic is back to normal: the next poll reports v8 and its later versions apply.
    transport.setTarget(record('a.routes', 9, 'a9'));
    await advance(clock, 30_000);
    expect(transport.requests.at(-1)!.topics[0]).toEqual({ topic: 'a.routes', currentVersion: 8 });
    expect(a.current()).toBe('a9');
    expect(gate.calls).toEqual([1, 2, 8, 9]);
  });

  it('once the stuck work has finished the topic is waited for again: a new stall is bounded and reported on its own', async () => {
    const { clock, transport, gate, a, logger } = await stuckOnA();
    await advance(clock, 10_000);
    gate.release(2);
    await settle();
    expect(a.version).toBe(2);

    // v3 hangs too: that is a new stall, waited for and reported on its own.
    gate.hold.add(3);
    transport.setTarget(record('a.routes', 3, 'a3'));
    await advance(clock, 30_000);
    const sent = transport.requests.length;
    await advance(clock, 9_999);
    expect(logger.overdue).toHaveLength(1);
    await advance(clock, 1);
    expect(logger.overdue).toHaveLength(2);
    expect(logger.overdue[1]!.obj).toMatchObject({ topics: ['a.routes'] });
    await advance(clock, 30_000);
    expect(transport.requests).toHaveLength(sent + 1);
    expect(transport.requests.at(-1)!.topics[0]).toEqual({ topic: 'a.routes', currentVersion: 2 });
  });

  it('long-poll mode: the stuck topic goes in one poll per interval, so the others stay held and get their updates at once', async () => {
    const { clock, transport, b, logger } = await stuckOnA({ pollMode: 'long-poll', longPollWaitMs: 60_000 });
    await advance(clock, 10_000);
    expect(logger.overdue).toHaveLength(1);
    const before = transport.requests.length;
    const sentAt: number[] = [];
    for (let i = 0; i < 600; i++) {
      await advance(clock, 500);
      while (sentAt.length < transport.requests.length - before) sentAt.push(clock.now());
    }
    const polls = transport.requests.slice(before);
    const carryingA = sentAt.filter((_, i) => polls[i]!.topics.some((t) => t.topic === 'a.routes'));
    // a still reports the v1 it runs (its consumer status stays true), once per 30 s interval at most:
    // every poll carrying it is answered at once with the v2 already waiting behind its stuck decode.
    expect(carryingA.length).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < carryingA.length; i++)
      expect(carryingA[i]! - carryingA[i - 1]!).toBeGreaterThanOrEqual(30_000);
    expect(polls.every((r) => r.topics.every((t) => t.topic !== 'a.routes' || t.currentVersion === 1))).toBe(
      true,
    );
    // The others are held for their whole minute (had a gone in every poll, each would be answered at
    // once and the loop would back off for b too).
    const withoutA = polls.filter((r) => r.topics.every((t) => t.topic !== 'a.routes'));
    expect(withoutA.length).toBeGreaterThanOrEqual(4);
    expect(withoutA.every((r) => r.waitMs === 60_000)).toBe(true);
    expect(polls.length).toBeLessThan(16);
    expect(logger.overdue).toHaveLength(1);

    // A publish for b while such a poll is held arrives at once.
    expect(polls.at(-1)!.topics).toEqual([{ topic: 'b.routes', currentVersion: 2 }]);
    transport.setTarget(record('b.routes', 3, 'b3'));
    await advance(clock, 0);
    expect(b.current()).toBe('b3');
  });

  it('long-poll mode, a single stuck topic: polls go on with it, backing off up to the interval, so its status stays fresh', async () => {
    const { clock, transport, client } = setup({ pollMode: 'long-poll', longPollWaitMs: 60_000 });
    const gate = gatedDecoder();
    gate.hold.add(2);
    transport.setTarget(record('a.routes', 1, 'a1'));
    const a = client.subscribeAtomic('a.routes', { decode: gate.decode, defaultValue: '' });
    void client.start();
    await advance(clock, 0);
    expect(a.version).toBe(1);
    transport.setTarget(record('a.routes', 2, 'a2'));
    await advance(clock, 0);
    await advance(clock, 10_000);

    const before = transport.requests.length;
    for (let i = 0; i < 600; i++) await advance(clock, 500);
    const polls = transport.requests.slice(before);
    // Nothing else to hold a poll for: the topic goes in every poll, each answered at once, with the
    // back-off of answers that change nothing (up to the 30 s interval), never idle, never spinning.
    expect(polls.length).toBeGreaterThan(5);
    expect(polls.length).toBeLessThan(40);
    expect(polls.every((r) => r.topics[0]?.topic === 'a.routes' && r.topics[0].currentVersion === 1)).toBe(
      true,
    );
    expect(client.secondsSinceLastSuccessfulPoll()).toBeLessThanOrEqual(30);

    gate.release(2);
    await settle();
    expect(a.state).toMatchObject({ value: 'a2', version: 2 });
  });

  it("long-poll mode: a subscription joining while the topic's first version is stuck gets that version when it lands", async () => {
    // Long-poll mode leaves the stuck topic out of most polls: no poll queues its target again for the
    // newcomer, which must still get the version the topic lands on, not its default.
    const { clock, transport, client } = setup({ pollMode: 'long-poll', longPollWaitMs: 60_000 });
    const gate = gatedDecoder();
    gate.hold.add(1);
    transport.setTarget(record('a.routes', 1, 'a1'));
    transport.setTarget(record('b.routes', 1, 'b1'));
    const first = client.subscribeAtomic('a.routes', { decode: gate.decode, defaultValue: 'none' });
    client.subscribeAtomic('b.routes', { decode: text, defaultValue: '' });
    void client.start();
    await advance(clock, 0);
    await advance(clock, 10_000);
    await advance(clock, 30_000);

    const joining = client.subscribeAtomic('a.routes', { decode: text, defaultValue: 'none' });
    await advance(clock, 0);
    expect(joining.current()).toBe('none');
    gate.release(1);
    await settle();
    expect(first.state).toMatchObject({ value: 'a1', version: 1 });
    expect(joining.state).toMatchObject({ value: 'a1', version: 1 });
  });

  it('close() still returns, and polling stops', async () => {
    const { clock, transport, client } = await stuckOnA();
    await advance(clock, 10_000);
    let closed = false;
    void client.close().then(() => (closed = true));
    await settle();
    await advance(clock, 10_000);
    expect(closed).toBe(true);
    expect(clock.pendingTimers).toBe(0);
    const sent = transport.requests.length;
    await advance(clock, 600_000);
    expect(transport.requests).toHaveLength(sent);
  });

  it('a disk cache write that never settles (a hung mount) stops only its topic, which reports the version it applied', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'meshpress-overdue-'));
    try {
      vi.spyOn(DiskCache.prototype, 'write').mockImplementation((entry) =>
        entry.record.topic === 'a.routes' && entry.record.version === 2
          ? new Promise<void>(() => undefined)
          : Promise.resolve(),
      );
      const { clock, transport, client, logger } = setup({ cacheDir });
      transport.setTarget(record('a.routes', 1, 'a1'));
      transport.setTarget(record('b.routes', 1, 'b1'));
      const a = client.subscribeAtomic('a.routes', { decode: text, defaultValue: '' });
      const b = client.subscribeAtomic('b.routes', { decode: text, defaultValue: '' });
      void client.start();
      await advance(clock, 0);

      transport.setTarget(record('a.routes', 2, 'a2'));
      await advance(clock, 30_000);
      expect(a.current()).toBe('a2');
      await advance(clock, 10_000);
      expect(logger.overdue[0]!.obj).toMatchObject({ topics: ['a.routes'] });

      transport.setTarget(record('b.routes', 2, 'b2'));
      await advance(clock, 30_000);
      expect(b.current()).toBe('b2');
      expect(transport.requests.at(-1)!.topics).toEqual([
        { topic: 'a.routes', currentVersion: 2 },
        { topic: 'b.routes', currentVersion: 1 },
      ]);
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });
});

describe('the bound on applying an answer', () => {
  it('is the longer of requestTimeoutMs and downloadTimeoutMs: work within a download timeout is not overdue', async () => {
    const { clock, logger } = await stuckOnA({ downloadTimeoutMs: 25_000 });
    await advance(clock, 24_999);
    expect(logger.overdue).toHaveLength(0);
    await advance(clock, 1);
    expect(logger.overdue).toHaveLength(1);
    expect(logger.overdue[0]!.obj).toMatchObject({ topics: ['a.routes'], waitedMs: 25_000 });
  });
});
