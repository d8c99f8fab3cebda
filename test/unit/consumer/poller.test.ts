import { ManualClock, UnavailableError } from '@meshpress/client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  InMemoryClientMetrics,
  MeshpressClient,
  type MeshpressClientOptions,
} from '../../../client/src/consumer/index.js';
import { FakeTransport, IDENTITY, record, settle, text } from './support.js';

const TOP = 1 - Number.EPSILON;
const clients: MeshpressClient[] = [];

function client(transport: FakeTransport, options: Partial<MeshpressClientOptions> & { clock: ManualClock }) {
  const c = new MeshpressClient({
    identity: IDENTITY,
    transport,
    random: () => 0.5,
    pollIntervalMs: 30_000,
    ...options,
  });
  clients.push(c);
  return c;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

/** Advances the clock and lets what the timers started run to completion. */
async function advance(clock: ManualClock, ms: number) {
  clock.advance(ms);
  await settle();
}

describe('poll scheduling', () => {
  it('sends one request carrying every subscribed topic, with the version each runs', async () => {
    const clock = new ManualClock();
    const transport = new FakeTransport();
    transport.setTarget(record('a.routes', 3, 'a3'));
    transport.setTarget(record('b.routes', 7, 'b7'));
    const c = client(transport, { clock });
    c.subscribe('a.routes', () => undefined);
    c.subscribe('b.routes', () => undefined);
    c.subscribe('c.routes', () => undefined);
    void c.start();
    await advance(clock, 0);

    expect(transport.requests).toHaveLength(1);
    expect(transport.requests[0]!.topics.map((t) => t.topic).sort()).toEqual([
      'a.routes',
      'b.routes',
      'c.routes',
    ]);
    expect(transport.requests[0]!.identity).toEqual(IDENTITY);

    await advance(clock, 30_000);
    expect(transport.requests).toHaveLength(2);
    const second = Object.fromEntries(transport.requests[1]!.topics.map((t) => [t.topic, t.currentVersion]));
    expect(second).toEqual({ 'a.routes': 3, 'b.routes': 7, 'c.routes': undefined });
  });

  it('waits the interval spread by the jitter, never outside ±jitter', async () => {
    for (const [random, expected] of [
      [0, 27_000],
      [TOP, 33_000],
    ] as const) {
      const clock = new ManualClock();
      const transport = new FakeTransport();
      const c = client(transport, { clock, random: () => random, pollJitter: 0.1 });
      c.subscribe('a.routes', () => undefined);
      void c.start();
      await advance(clock, 0);
      expect(transport.requests).toHaveLength(1);
      await advance(clock, expected - 1);
      expect(transport.requests, `no poll before ${expected} ms`).toHaveLength(1);
      await advance(clock, 1);
      expect(transport.requests, `a poll at ${expected} ms`).toHaveLength(2);
    }
  });

  it('long-poll mode: the first request does not wait, later ones ask the server to hold', async () => {
    const clock = new ManualClock();
    const transport = new FakeTransport();
    transport.setTarget(record('a.routes', 1, 'a1'));
    const c = client(transport, { clock, pollMode: 'long-poll', longPollWaitMs: 60_000 });
    const seen: number[] = [];
    c.subscribe('a.routes', (v) => {
      seen.push(v);
    });
    void c.start();
    await advance(clock, 0);
    expect(transport.requests[0]!.waitMs).toBeUndefined();
    await advance(clock, 0);
    expect(transport.requests).toHaveLength(2);
    expect(transport.requests[1]!.waitMs).toBe(60_000);
    expect(transport.requests[1]!.topics).toEqual([{ topic: 'a.routes', currentVersion: 1 }]);

    // A publish while the request is held: the server answers it, the client applies at once and holds
    // again after a random delay up to longPollRespreadMs (random 0.5 of the default 1,000 ms).
    expect(transport.heldCount).toBe(1);
    transport.setTarget(record('a.routes', 2, 'a2'));
    await settle();
    expect(seen).toEqual([1, 2]);
    await advance(clock, 499);
    expect(transport.requests).toHaveLength(2);
    await advance(clock, 1);
    expect(transport.requests).toHaveLength(3);
    expect(transport.requests[2]!.topics).toEqual([{ topic: 'a.routes', currentVersion: 2 }]);
    expect(transport.heldCount).toBe(1);

    // The wait ends with nothing new: the next long-poll goes out at once.
    await advance(clock, 60_000);
    transport.releaseHeld();
    await settle();
    await advance(clock, 0);
    expect(transport.requests).toHaveLength(4);
    expect(transport.heldCount).toBe(1);
  });

  it('long-poll mode: the poll after an update waits random × longPollRespreadMs; 0 asks again at once', async () => {
    for (const [respread, random, expectedDelay] of [
      [0, 0.5, 0],
      [4_000, 0.25, 1_000],
      [4_000, 0, 0],
    ] as const) {
      const clock = new ManualClock();
      const transport = new FakeTransport();
      transport.setTarget(record('a.routes', 1, 'a1'));
      const c = client(transport, {
        clock,
        pollMode: 'long-poll',
        longPollRespreadMs: respread,
        random: () => random,
      });
      c.subscribe('a.routes', () => undefined);
      void c.start();
      await advance(clock, 0);
      await advance(clock, 0);
      expect(transport.heldCount).toBe(1);
      transport.setTarget(record('a.routes', 2, 'a2'));
      await settle();
      const answered = transport.requests.length;
      if (expectedDelay > 0) {
        await advance(clock, expectedDelay - 1);
        expect(transport.requests.length).toBe(answered);
      }
      await advance(clock, expectedDelay === 0 ? 0 : 1);
      expect(transport.requests.length).toBe(answered + 1);
      expect(transport.requests.at(-1)!.topics).toEqual([{ topic: 'a.routes', currentVersion: 2 }]);
      await c.close();
    }
  });

  it('long-poll mode: a new subscription cuts the held request short so it is polled at once', async () => {
    const clock = new ManualClock();
    const transport = new FakeTransport();
    transport.setTarget(record('a.routes', 1, 'a1'));
    transport.setTarget(record('b.routes', 4, 'b4'));
    const c = client(transport, { clock, pollMode: 'long-poll' });
    c.subscribe('a.routes', () => undefined);
    void c.start();
    await advance(clock, 0);
    await advance(clock, 0);
    const held = transport.requests.length;
    expect(transport.requests[held - 1]!.waitMs).toBeGreaterThan(0);

    const b = c.subscribeAtomic('b.routes', { decode: text, defaultValue: 'none' });
    await settle();
    await advance(clock, 0);
    expect(transport.aborted).toHaveLength(1);
    expect(
      transport.requests
        .at(-1)!
        .topics.map((t) => t.topic)
        .sort(),
    ).toEqual(['a.routes', 'b.routes']);
    expect(b.current()).toBe('b4');
  });

  it('long-poll answers that change nothing back off up to the interval instead of spinning', async () => {
    const clock = new ManualClock();
    const transport = new FakeTransport();
    transport.setTarget(record('a.routes', 1, 'a1'));
    const c = client(transport, {
      clock,
      pollMode: 'long-poll',
      random: () => 0.999,
      retryBaseMs: 1_000,
      pollIntervalMs: 3_000,
      pollJitter: 0,
    });
    const seen: number[] = [];
    c.subscribe('a.routes', (v) => {
      seen.push(v);
      if (v === 2) throw new Error('refused');
    });
    void c.start();
    await advance(clock, 0);
    await advance(clock, 0);
    transport.setTarget(record('a.routes', 2, 'a2'));
    await settle(); // the held request is answered with v2, which the listener refuses

    // The server keeps answering v2 at once (the node still runs v1); the gaps grow: ~1 s, ~2 s, then 3 s.
    const gaps: number[] = [];
    for (let i = 0; i < 4; i++) {
      const before = transport.requests.length;
      const from = clock.now();
      while (transport.requests.length === before) await advance(clock, 1);
      gaps.push(clock.now() - from);
    }
    expect(gaps).toEqual([999, 1_998, 3_000, 3_000]);
    expect(seen).toEqual([1, 2]);

    // A fixed version: applied, and long-polling resumes after the re-poll spread (0.999 of 1,000 ms),
    // no longer backed off.
    transport.setTarget(record('a.routes', 3, 'a3'));
    while (!seen.includes(3)) await advance(clock, 1);
    const before = transport.requests.length;
    await advance(clock, 998);
    expect(transport.requests.length).toBe(before);
    await advance(clock, 1);
    expect(transport.requests.length).toBe(before + 1);
    expect(transport.heldCount).toBe(1);
  });
});

describe('retries', () => {
  it('retries with capped exponential backoff, never waiting longer than the interval', async () => {
    const clock = new ManualClock();
    const transport = new FakeTransport();
    transport.mode = 'down';
    const metrics = new InMemoryClientMetrics();
    const c = client(transport, {
      clock,
      random: () => TOP,
      retryBaseMs: 1_000,
      retryCapMs: 60_000,
      pollIntervalMs: 10_000,
      maxRetries: 100,
      metrics,
    });
    c.subscribe('a.routes', () => undefined);
    void c.start();
    await advance(clock, 0);
    const times: number[] = [clock.now()];
    const start = clock.now();
    for (let i = 0; i < 6; i++) {
      const before = transport.requests.length;
      for (let t = 0; t < 20_000 && transport.requests.length === before; t += 100) await advance(clock, 100);
      times.push(clock.now());
    }
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // Ceilings 1 s, 2 s, 4 s, 8 s, then the interval (10 s) bounds the 16 s and 32 s ones.
    expect(gaps).toEqual([1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
    expect(metrics.count('polls', { outcome: 'error' })).toBe(7);
    expect(c.consecutivePollFailures).toBe(7);
    expect(c.secondsSinceLastSuccessfulPoll()).toBe((clock.now() - start) / 1000);
  });

  it('honours a 429 retry-after that is longer than the backoff', async () => {
    const clock = new ManualClock();
    const transport = new FakeTransport();
    const { TooManyRequestsError } = await import('@meshpress/client');
    transport.poll = async (request) => {
      transport.requests.push(request);
      throw new TooManyRequestsError('slow down', 7_000);
    };
    const c = client(transport, { clock, random: () => 0, maxRetries: 100 });
    c.subscribe('a.routes', () => undefined);
    void c.start();
    await advance(clock, 0);
    await advance(clock, 6_999);
    expect(transport.requests).toHaveLength(1);
    await advance(clock, 1);
    expect(transport.requests).toHaveLength(2);
  });

  it('caps a 429 retry-after at the poll interval', async () => {
    const clock = new ManualClock();
    const transport = new FakeTransport();
    const { TooManyRequestsError } = await import('@meshpress/client');
    transport.poll = async (request) => {
      transport.requests.push(request);
      throw new TooManyRequestsError('slow down', 3_600_000);
    };
    const c = client(transport, { clock, random: () => 0, maxRetries: 100, pollIntervalMs: 30_000 });
    c.subscribe('a.routes', () => undefined);
    void c.start();
    await advance(clock, 0);
    await advance(clock, 29_999);
    expect(transport.requests).toHaveLength(1);
    await advance(clock, 1);
    expect(transport.requests).toHaveLength(2);
  });

  it('a request that never answers times out on the injected clock and counts as a failure', async () => {
    const clock = new ManualClock();
    const transport = new FakeTransport();
    transport.mode = 'hang';
    const metrics = new InMemoryClientMetrics();
    const c = client(transport, {
      clock,
      requestTimeoutMs: 2_000,
      random: () => 0,
      maxRetries: 100,
      metrics,
    });
    c.subscribe('a.routes', () => undefined);
    void c.start();
    await advance(clock, 0);
    await advance(clock, 1_999);
    expect(metrics.count('polls', { outcome: 'error' })).toBe(0);
    await advance(clock, 1);
    expect(transport.aborted).toHaveLength(1);
    expect(metrics.count('polls', { outcome: 'error' })).toBe(1);
    expect(transport.aborted[0]!.signal.reason).toBeInstanceOf(UnavailableError);
  });
});

describe('topic set changes', () => {
  it('goes idle without topics and polls again when a subscription arrives, even after failures', async () => {
    const clock = new ManualClock();
    const transport = new FakeTransport();
    transport.mode = 'down';
    const c = client(transport, { clock, random: () => 0, maxRetries: 100 });
    const first = c.subscribe('a.routes', () => undefined);
    void c.start();
    await advance(clock, 0);
    expect(transport.requests).toHaveLength(1);
    first.close();
    await advance(clock, 0); // the retry finds nothing to poll: the loop idles
    await advance(clock, 600_000);
    expect(transport.requests).toHaveLength(1);

    transport.mode = 'up';
    transport.setTarget(record('b.routes', 1, 'b1'));
    const sub = c.subscribeAtomic('b.routes', { decode: text, defaultValue: '' });
    await advance(clock, 0);
    expect(transport.requests).toHaveLength(2);
    expect(sub.current()).toBe('b1');
  });
});

describe('one poll at a time', () => {
  it('a subscription added while an answer is being applied polls once, after that answer is applied', async () => {
    const clock = new ManualClock();
    const transport = new FakeTransport();
    transport.setTarget(record('a.routes', 1, 'a1'));
    transport.setTarget(record('b.routes', 4, 'b4'));
    const c = client(transport, { clock, pollMode: 'long-poll', longPollWaitMs: 60_000 });
    let release!: () => void;
    const decoding = new Promise<void>((resolve) => (release = resolve));
    const a = c.subscribeAtomic('a.routes', {
      decode: async (data) => {
        await decoding;
        return text(data);
      },
      defaultValue: '',
    });
    void c.start();
    await advance(clock, 0);
    expect(transport.requests).toHaveLength(1);

    // The first answer is still being applied (a slow decode) when a new topic is subscribed.
    const b = c.subscribeAtomic('b.routes', { decode: text, defaultValue: '' });
    try {
      await advance(clock, 0);
      await advance(clock, 1_000);
      expect(transport.requests, 'no second poll while the first answer is being applied').toHaveLength(1);
    } finally {
      release();
    }
    await settle();
    await advance(clock, 0);
    expect(a.current()).toBe('a1');
    expect(transport.requests).toHaveLength(2);
    // The follow-up poll reports the version just applied, and carries the new topic.
    expect(transport.requests[1]!.topics).toEqual([
      { topic: 'a.routes', currentVersion: 1 },
      { topic: 'b.routes', currentVersion: undefined },
    ]);
    expect(b.current()).toBe('b4');
  });

  it('re-subscribing a topic the service has nothing for is answered at once, not after a held long-poll', async () => {
    const clock = new ManualClock();
    const transport = new FakeTransport();
    transport.setTarget(record('a.routes', 1, 'a1'));
    const c = client(transport, { clock, pollMode: 'long-poll', longPollWaitMs: 60_000 });
    c.subscribeAtomic('a.routes', { decode: text, defaultValue: '' });
    const first = c.subscribeAtomic('none.routes', { decode: text, defaultValue: 'dflt' });
    void c.start();
    await advance(clock, 0);
    expect(first.startedFrom).toBe('default');
    await advance(clock, 0);
    expect(transport.heldCount).toBe(1);

    first.close();
    const again = c.subscribeAtomic('none.routes', { decode: text, defaultValue: 'dflt' });
    let ready = false;
    void again.ready().then(() => (ready = true));
    await settle(); // the held poll is cut short
    await advance(clock, 0);
    expect(ready).toBe(true);
    expect(again.startedFrom).toBe('default');
    const unheld = transport.requests.filter((r) => r.topics.some((t) => t.topic === 'none.routes'));
    expect(unheld.at(-1)!.waitMs).toBeUndefined();
    // Then it holds again.
    await advance(clock, 0);
    expect(transport.requests.at(-1)!.waitMs).toBe(60_000);
    expect(transport.heldCount).toBe(1);
  });

  it('a second subscription to a topic that has no version yet is answered at once too', async () => {
    const clock = new ManualClock();
    const transport = new FakeTransport();
    const c = client(transport, { clock, pollMode: 'long-poll', longPollWaitMs: 60_000 });
    c.subscribeAtomic('none.routes', { decode: text, defaultValue: 'dflt' });
    void c.start();
    await advance(clock, 0);
    await advance(clock, 0);
    expect(transport.heldCount).toBe(1);
    const second = c.subscribeAtomic('none.routes', { decode: text, defaultValue: 'dflt' });
    await settle(); // the held poll is cut short
    await advance(clock, 0);
    expect(second.startedFrom).toBe('default');
  });
});

describe('close', () => {
  it('aborts the pending poll, clears every timer, and is idempotent', async () => {
    const clock = new ManualClock();
    const transport = new FakeTransport();
    transport.mode = 'hang';
    const c = client(transport, { clock });
    const sub = c.subscribeAtomic('a.routes', { decode: text, defaultValue: 'default' });
    const ready = c.start();
    await advance(clock, 0);
    expect(transport.requests).toHaveLength(1);

    await Promise.all([c.close(), c.close()]);
    await c.close();
    await settle();
    expect(transport.aborted).toHaveLength(1);
    expect(clock.pendingTimers).toBe(0);
    expect((await ready).ready).toBe(false);
    expect(sub.current()).toBe('default');
    expect(sub.state.closed).toBe(true);
    expect(transport.closed, 'an injected transport belongs to the caller').toBe(0);
    expect(() => c.subscribe('b.routes', () => undefined)).toThrow(/closed/);
    await advance(clock, 600_000);
    expect(transport.requests).toHaveLength(1);
  });
});
