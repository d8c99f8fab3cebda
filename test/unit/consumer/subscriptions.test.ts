import { ManualClock, sha256Hex, type VersionRecord } from '@meshpress/client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  InMemoryClientMetrics,
  MeshpressClient,
  type MeshpressClientOptions,
} from '../../../client/src/consumer/index.js';
import { S3Downloader } from '../../../client/src/consumer/s3-downloader.js';
import type { PollUpdate } from '../../../client/src/consumer/transport.js';
import { FakeTransport, IDENTITY, record, settle, text } from './support.js';

const clients: MeshpressClient[] = [];

function setup(options: Partial<MeshpressClientOptions> = {}) {
  const clock = new ManualClock();
  const transport = new FakeTransport();
  const metrics = new InMemoryClientMetrics();
  const client = new MeshpressClient({
    identity: IDENTITY,
    transport,
    clock,
    metrics,
    random: () => 0.5,
    pollIntervalMs: 30_000,
    pollJitter: 0,
    ...options,
  });
  clients.push(client);
  const poll = async () => {
    clock.advance(30_000);
    await settle();
  };
  const begin = async () => {
    void client.start();
    clock.advance(0);
    await settle();
  };
  return { clock, transport, metrics, client, poll, begin };
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

describe('never go backwards', () => {
  it('ignores an older unpinned version, even when a source sends one', async () => {
    const { transport, metrics, client, poll, begin } = setup();
    const sub = client.subscribeAtomic('a.routes', { decode: text, defaultValue: '' });
    transport.setTarget(record('a.routes', 5, 'five'));
    await begin();
    expect(sub.state).toMatchObject({ value: 'five', version: 5, source: 'service' });

    transport.raw = [{ topic: 'a.routes', version: 4, pinned: false, record: record('a.routes', 4, 'four') }];
    await poll();
    expect(sub.current()).toBe('five');
    expect(sub.version).toBe(5);
    expect(metrics.count('versionsRejected', { reason: 'backwards' })).toBe(1);
  });

  it('applies an older version when a pin asks for it (rollback), and moves forward when unpinned', async () => {
    const { transport, client, poll, begin } = setup();
    const sub = client.subscribeAtomic('a.routes', { decode: text, defaultValue: '' });
    const v3 = record('a.routes', 3, 'three');
    transport.setTarget(v3);
    transport.setTarget(record('a.routes', 5, 'five'));
    await begin();
    expect(sub.version).toBe(5);

    transport.setTarget(v3, true);
    await poll();
    expect(sub.state).toMatchObject({ value: 'three', version: 3, pinned: true });
    expect(transport.requests.at(-1)!.topics).toEqual([{ topic: 'a.routes', currentVersion: 5 }]);

    // While pinned, the node reports 3 and the server holds it there.
    await poll();
    expect(transport.requests.at(-1)!.topics).toEqual([{ topic: 'a.routes', currentVersion: 3 }]);
    expect(sub.version).toBe(3);

    transport.setTarget(record('a.routes', 5, 'five'));
    await poll();
    expect(sub.state).toMatchObject({ value: 'five', version: 5, pinned: false });
  });

  it('never steps through versions it was not given: only the target is applied', async () => {
    const { transport, client, poll, begin } = setup();
    const seen: number[] = [];
    client.subscribe('a.routes', (v) => {
      seen.push(v);
    });
    transport.setTarget(record('a.routes', 1, 'one'));
    await begin();
    for (const v of [2, 3, 4]) transport.setTarget(record('a.routes', v, `v${v}`));
    await poll();
    expect(seen).toEqual([1, 4]);
  });
});

describe('low-level subscription', () => {
  it('passes version, verified bytes and record; a throwing listener rejects the version until the target moves', async () => {
    const { transport, metrics, client, poll, begin } = setup();
    const calls: [number, string, string][] = [];
    const sub = client.subscribe('a.routes', (version, data, rec) => {
      calls.push([version, text(data), rec.sha256]);
      if (version === 2) throw new Error('bad config');
    });
    transport.setTarget(record('a.routes', 1, 'one'));
    await begin();
    transport.setTarget(record('a.routes', 2, 'two'));
    await poll();
    await poll();
    await poll();
    expect(calls.map((c) => c[0])).toEqual([1, 2]);
    expect(calls[1]![2]).toBe(sha256Hex(new TextEncoder().encode('two')));
    expect(sub.version).toBe(1);
    expect(metrics.count('versionsRejected', { topic: 'a.routes', reason: 'listener' })).toBe(1);
    // The node still reports what it runs.
    expect(transport.requests.at(-1)!.topics).toEqual([{ topic: 'a.routes', currentVersion: 1 }]);

    transport.setTarget(record('a.routes', 3, 'three'));
    await poll();
    expect(calls.map((c) => c[0])).toEqual([1, 2, 3]);
    expect(sub.version).toBe(3);
    expect(metrics.count('updatesApplied', { topic: 'a.routes' })).toBe(2);
  });

  it('accepts an object with onVersion as the listener', async () => {
    const { transport, client, begin } = setup();
    const seen: number[] = [];
    client.subscribe('a.routes', {
      onVersion(version) {
        seen.push(version);
      },
    });
    transport.setTarget(record('a.routes', 2, 'two'));
    await begin();
    expect(seen).toEqual([2]);
    expect(() => client.subscribe('a.routes', {} as never)).toThrow(/listener/);
  });

  it('a subscription added later to a topic that has a value gets that value at once', async () => {
    const { transport, client, begin } = setup();
    transport.setTarget(record('a.routes', 7, 'seven'));
    client.subscribe('a.routes', () => undefined);
    await begin();
    const late = client.subscribeAtomic('a.routes', { decode: text, defaultValue: 'none' });
    await settle();
    expect(late.state).toMatchObject({ value: 'seven', version: 7 });
    // Still one poll topic.
    expect(transport.requests.at(-1)!.topics).toHaveLength(1);
  });
});

describe('atomic subscription', () => {
  it('returns the default until a version applies, then swaps only after download, sha256 and decode succeed', async () => {
    const { transport, metrics, client, poll, begin } = setup();
    const changes: [number | undefined, number | undefined][] = [];
    const sub = client.subscribeAtomic('a.routes', {
      decode: (data) => {
        const parsed = JSON.parse(text(data)) as { routes: number };
        if (parsed.routes < 0) throw new Error('negative');
        return Object.freeze(parsed);
      },
      defaultValue: Object.freeze({ routes: 0 }),
    });
    sub.onChange((state, previous) => changes.push([previous.version, state.version]));
    expect(sub.current()).toEqual({ routes: 0 });
    expect(sub.state).toMatchObject({ version: undefined, source: 'default', closed: false });

    transport.setTarget(record('a.routes', 1, '{"routes":1}'));
    await begin();
    const first = sub.current();
    expect(first).toEqual({ routes: 1 });

    // Decode failure: the previous value stays, same object.
    transport.setTarget(record('a.routes', 2, '{"routes":-1}'));
    await poll();
    expect(sub.current()).toBe(first);
    expect(metrics.count('versionsRejected', { reason: 'decode' })).toBe(1);

    // Not JSON at all: same.
    transport.setTarget(record('a.routes', 3, 'not json'));
    await poll();
    expect(sub.current()).toBe(first);

    // Corrupt bytes (the record's sha256 is of something else): rejected before decode.
    let decoded = 0;
    const other = client.subscribeAtomic('b.routes', {
      decode: (d) => {
        decoded++;
        return text(d);
      },
      defaultValue: 'default',
    });
    transport.setTarget(
      record('b.routes', 1, 'tampered', { sha256: sha256Hex(new TextEncoder().encode('original')) }),
    );
    await poll();
    await poll();
    expect(other.current()).toBe('default');
    expect(decoded).toBe(0);
    expect(metrics.count('versionsRejected', { topic: 'b.routes', reason: 'integrity' })).toBe(1);

    transport.setTarget(record('a.routes', 4, '{"routes":4}'));
    await poll();
    expect(sub.current()).toEqual({ routes: 4 });
    expect(changes).toEqual([
      [undefined, 1],
      [1, 4],
    ]);
  });

  it('a change listener that throws does not undo the swap', async () => {
    const { transport, client, begin } = setup();
    const sub = client.subscribeAtomic('a.routes', { decode: text, defaultValue: '' });
    sub.onChange(() => {
      throw new Error('listener bug');
    });
    transport.setTarget(record('a.routes', 1, 'one'));
    await begin();
    expect(sub.current()).toBe('one');
  });

  it('closing keeps the last value in a closed placeholder state and stops updates', async () => {
    const { transport, client, poll, begin } = setup();
    const sub = client.subscribeAtomic('a.routes', { decode: text, defaultValue: '' });
    transport.setTarget(record('a.routes', 1, 'one'));
    await begin();
    const polls = transport.requests.length;
    sub.close();
    sub.close();
    expect(sub.state).toMatchObject({ value: 'one', version: 1, closed: true });
    transport.setTarget(record('a.routes', 2, 'two'));
    await poll();
    expect(sub.current()).toBe('one');
    // The topic left the poll set with its last subscription: nothing left to poll.
    expect(transport.requests).toHaveLength(polls);
  });
});

describe('startup from history', () => {
  function setupHistory(depth: number) {
    const ctx = setup({ startupHistoryDepth: depth });
    const sub = ctx.client.subscribeAtomic('a.routes', {
      decode: (data) => {
        const value = text(data);
        if (value.startsWith('bad')) throw new Error('undecodable');
        return value;
      },
      defaultValue: 'default',
    });
    return { ...ctx, sub };
  }

  it('when the newest version fails to decode, starts from the newest older one visible to this node', async () => {
    const { transport, sub, begin } = setupHistory(3);
    transport.addHistory(record('a.routes', 1, 'good-1'));
    transport.addHistory(record('a.routes', 2, 'good-2'));
    transport.addHistory(record('a.routes', 3, 'other-region', { scopes: ['region=us-east-1'] }));
    transport.addHistory(record('a.routes', 4, 'bad-4'));
    transport.setTarget(record('a.routes', 5, 'bad-5'));
    await begin();
    expect(sub.state).toMatchObject({ value: 'good-2', version: 2, source: 'history' });
    expect(sub.startedFrom).toBe('history');
  });

  it('tries at most the configured number of older versions', async () => {
    const { transport, client, sub, begin } = setupHistory(2);
    transport.addHistory(record('a.routes', 1, 'good-1'));
    transport.addHistory(record('a.routes', 2, 'bad-2'));
    transport.addHistory(record('a.routes', 3, 'bad-3'));
    transport.setTarget(record('a.routes', 4, 'bad-4'));
    const ready = client.start();
    await begin();
    expect(sub.current()).toBe('default');
    expect(sub.startedFrom).toBe('default');
    expect((await ready).subscriptions).toEqual([
      { topic: 'a.routes', version: undefined, source: 'default' },
    ]);
  });

  it('a later, good target replaces the older version started from', async () => {
    const { transport, sub, poll, begin } = setupHistory(3);
    transport.addHistory(record('a.routes', 1, 'good-1'));
    transport.setTarget(record('a.routes', 2, 'bad-2'));
    await begin();
    expect(sub.version).toBe(1);
    transport.setTarget(record('a.routes', 3, 'good-3'));
    await poll();
    expect(sub.state).toMatchObject({ value: 'good-3', version: 3, source: 'service' });
  });
});

describe('a refused version stays refused until the target moves', () => {
  function counting(ctx: ReturnType<typeof setup>) {
    const decodes = new Map<number, number>();
    const sub = ctx.client.subscribeAtomic('a.routes', {
      decode: (data, rec) => {
        decodes.set(rec.version, (decodes.get(rec.version) ?? 0) + 1);
        if (text(data).startsWith('bad')) throw new Error('undecodable');
        return text(data);
      },
      defaultValue: 'default',
    });
    return { ...ctx, sub, decodes };
  }

  it('an older version applied after it (history start) does not make it wanted again', async () => {
    const { transport, metrics, sub, decodes, poll, begin } = counting(setup({ startupHistoryDepth: 3 }));
    transport.addHistory(record('a.routes', 4, 'good-4'));
    transport.setTarget(record('a.routes', 5, 'bad-5'));
    await begin();
    expect(sub.state).toMatchObject({ value: 'good-4', version: 4, source: 'history' });
    // The node honestly reports 4, so the service offers 5 on every poll.
    await poll();
    await poll();
    await poll();
    expect(transport.requests.at(-1)!.topics).toEqual([{ topic: 'a.routes', currentVersion: 4 }]);
    expect(decodes.get(5)).toBe(1);
    expect(metrics.count('versionsRejected', { reason: 'decode' })).toBe(1);

    // The target moving on lifts it: a newer version is decoded and applied.
    transport.setTarget(record('a.routes', 6, 'good-6'));
    await poll();
    expect(sub.state).toMatchObject({ value: 'good-6', version: 6, source: 'service' });
  });

  it('a pin applied after it lifts it: the version is tried again when the pin goes', async () => {
    const { transport, sub, decodes, poll, begin } = counting(setup());
    const v3 = record('a.routes', 3, 'good-3');
    transport.setTarget(v3);
    await begin();
    transport.setTarget(record('a.routes', 5, 'bad-5'));
    await poll();
    await poll();
    expect(decodes.get(5)).toBe(1);
    transport.setTarget(record('a.routes', 2, 'good-2'), true);
    await poll();
    expect(sub.state).toMatchObject({ value: 'good-2', version: 2, pinned: true });
    // Unpinned: the target is 5 again, a move, so it is tried once more.
    transport.setTarget(record('a.routes', 5, 'bad-5'));
    await poll();
    await poll();
    expect(decodes.get(5)).toBe(2);
    expect(sub.version).toBe(2);
  });
});

describe('a poll answer for a topic re-created meanwhile', () => {
  it('"nothing newer than 7" does not start the new subscription on its default', async () => {
    const { transport, client, clock, begin } = setup();
    transport.setTarget(record('a.routes', 7, 'seven'));
    const a = client.subscribeAtomic('a.routes', { decode: text, defaultValue: 'default' });
    await begin();
    expect(a.version).toBe(7);

    // The next poll is answered only when the test says so.
    let answer!: (updates: PollUpdate[]) => void;
    const poll = transport.poll.bind(transport);
    transport.poll = (request) => {
      transport.requests.push(request);
      return new Promise((resolve) => (answer = resolve));
    };
    clock.advance(30_000);
    await settle();
    expect(transport.requests.at(-1)!.topics).toEqual([{ topic: 'a.routes', currentVersion: 7 }]);
    transport.poll = poll;

    // The topic's last subscription goes, and a new one comes while that poll is out.
    a.close();
    const b = client.subscribeAtomic('a.routes', { decode: text, defaultValue: 'default' });
    answer([]);
    await settle();
    expect(b.startedFrom).toBe('pending');
    expect(b.current()).toBe('default');

    // The poll the new subscription asked for follows at once and brings it the version.
    clock.advance(0);
    await settle();
    expect(transport.requests.at(-1)!.topics).toEqual([{ topic: 'a.routes', currentVersion: undefined }]);
    expect(b.state).toMatchObject({ value: 'seven', version: 7, source: 'service' });
    expect(b.startedFrom).toBe('service');
  });
});

describe('close', () => {
  it('returns, and releases the S3 clients, though a decoder never settles', async () => {
    const s3Close = vi.spyOn(S3Downloader.prototype, 'close');
    try {
      const { transport, client, clock, begin } = setup({ requestTimeoutMs: 10_000 });
      const sub = client.subscribeAtomic('a.routes', {
        decode: () => new Promise<string>(() => undefined),
        defaultValue: 'default',
      });
      transport.setTarget(record('a.routes', 1, 'one'));
      await begin();
      let closed = false;
      void client.close().then(() => (closed = true));
      await settle();
      // Work under way may finish (a disk cache write, so the next start finds it), for so long.
      expect(closed).toBe(false);
      clock.advance(9_999);
      await settle();
      expect(closed).toBe(false);
      clock.advance(1);
      await settle();
      expect(closed).toBe(true);
      expect(s3Close).toHaveBeenCalledTimes(1);
      expect(sub.state).toMatchObject({ value: 'default', closed: true });
    } finally {
      s3Close.mockRestore();
    }
  });
});

describe('service has nothing for this node', () => {
  it('settles on the default at once (no fallback), and applies a version published later', async () => {
    const { transport, client, poll, metrics, clock } = setup({ startupTimeoutMs: 5_000 });
    const sub = client.subscribeAtomic('a.routes', { decode: text, defaultValue: 'default' });
    const ready = client.start();
    clock.advance(0);
    await settle();
    const report = await ready;
    expect(report.ready).toBe(true);
    expect(report.subscriptions).toEqual([{ topic: 'a.routes', version: undefined, source: 'default' }]);
    expect(metrics.count('fallbackUsed')).toBe(0);
    transport.setTarget(record('a.routes', 1, 'one') as VersionRecord);
    await poll();
    expect(sub.current()).toBe('one');
  });
});
