import { sha256Hex, ValidationError, VersionNotFoundError } from '@meshpress/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { caller, serviceHarness, text } from '../../support/service-harness.js';

type Harness = Awaited<ReturnType<typeof serviceHarness>>;
let h: Harness;
const EU = { app: 'web', region: 'eu' };

beforeEach(async () => {
  h = await serviceHarness();
  await h.service.putTopic(caller, { name: 'routes' });
});
afterEach(async () => {
  await h.close();
});

async function publishText(s: string, scopes?: string[]) {
  return (
    await h.service.publish(caller, { topic: 'routes', payload: text(s), ...(scopes ? { scopes } : {}) })
  ).version;
}

async function settle() {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

describe('poll contract', () => {
  it('never serves a version without its commit marker, and a first poll gets the newest complete one', async () => {
    const v1 = await publishText('one');
    // A publish that crashed after writing its record and scopes, before the commit marker.
    const v2 = await h.store.allocateVersion('routes');
    const data = new TextEncoder().encode('two');
    await h.store.writeVersion({
      topic: 'routes',
      version: v2,
      metadata: {},
      pointer: { kind: 'direct', data },
      size: data.length,
      sha256: sha256Hex(data),
      contentType: 'text/plain',
      publisher: 'crashed',
      createdAt: h.clock.now(),
    });
    await h.store.addScopes('routes', v2, ['*'], h.clock.now());
    await h.service.putTopic(caller, { name: 'routes' }); // any change refreshes the cache

    expect(
      (await h.service.poll(caller, { identity: EU, topics: [{ topic: 'routes' }] })).map((u) => u.version),
    ).toEqual([v1]);
    expect(
      await h.service.poll(caller, { identity: EU, topics: [{ topic: 'routes', currentVersion: v1 }] }),
    ).toEqual([]);
    await expect(h.service.getVersion(caller, { topic: 'routes', version: v2 })).rejects.toBeInstanceOf(
      VersionNotFoundError,
    );
    expect(
      (await h.service.listVersions(caller, { topic: 'routes' })).versions.map((v) => v.version),
    ).toEqual([v1]);
  });

  it('a committed but incomplete target is not served: first polls fall back, later polls get no update', async () => {
    const v1 = await publishText('one');
    const v2 = await h.store.allocateVersion('routes');
    // Committed, but its inline payload does not match its size and digest (a torn write).
    await h.store.writeVersion({
      topic: 'routes',
      version: v2,
      metadata: {},
      pointer: { kind: 'direct', data: new Uint8Array([1, 2]) },
      size: 3,
      sha256: 'a'.repeat(64),
      contentType: 'application/octet-stream',
      publisher: 'torn',
      createdAt: h.clock.now(),
    });
    await h.store.addScopes('routes', v2, ['*'], h.clock.now());
    await h.store.commitVersion('routes', v2, h.clock.now());
    await h.service.putTopic(caller, { name: 'routes' });

    expect((await h.service.resolve(caller, { topic: 'routes', identity: EU })).target?.version).toBe(v2);
    expect(
      (await h.service.poll(caller, { identity: EU, topics: [{ topic: 'routes' }] })).map((u) => u.version),
    ).toEqual([v1]);
    expect(
      await h.service.poll(caller, { identity: EU, topics: [{ topic: 'routes', currentVersion: v1 }] }),
    ).toEqual([]);
  });

  it('a long-poll waits on the injected clock and ends empty when the wait runs out', async () => {
    const v1 = await publishText('one');
    let result: unknown;
    const pending = h.service
      .poll(caller, { identity: EU, topics: [{ topic: 'routes', currentVersion: v1 }], waitMs: 30_000 })
      .then((r) => (result = r));
    await settle();
    expect(h.service.heldPolls).toBe(1);
    h.clock.advance(29_999);
    await settle();
    expect(result).toBeUndefined();
    h.clock.advance(1);
    await pending;
    expect(result).toEqual([]);
    expect(h.service.heldPolls).toBe(0);
  });

  it('a long-poll wakes on a publish to its topic and answers with it', async () => {
    const v1 = await publishText('one');
    const pending = h.service.poll(caller, {
      identity: EU,
      topics: [{ topic: 'routes', currentVersion: v1 }],
      waitMs: 60_000,
    });
    await settle();
    const v2 = await publishText('two');
    expect((await pending).map((u) => u.version)).toEqual([v2]);
  });

  it('a long-poll is released with no update when the service closes', async () => {
    const v1 = await publishText('one');
    const pending = h.service.poll(caller, {
      identity: EU,
      topics: [{ topic: 'routes', currentVersion: v1 }],
      waitMs: 60_000,
    });
    await settle();
    h.service.close();
    expect(await pending).toEqual([]);
  });

  it('an aborted long-poll stops waiting', async () => {
    const v1 = await publishText('one');
    const abort = new AbortController();
    const pending = h.service.poll(
      caller,
      { identity: EU, topics: [{ topic: 'routes', currentVersion: v1 }], waitMs: 60_000 },
      abort.signal,
    );
    await settle();
    abort.abort();
    expect(await pending).toEqual([]);
    expect(h.service.heldPolls).toBe(0);
  });

  it('rejects a poll naming the same topic twice, with the field path', async () => {
    const error = await h.service
      .poll(caller, { identity: EU, topics: [{ topic: 'routes' }, { topic: 'routes' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]?.path).toBe('topics');
  });
});

describe('publish', () => {
  it('stores payloads above the inline limit in the blob store and serves them verified', async () => {
    const big = await serviceHarness({ inlineLimitBytes: 16 });
    try {
      await big.service.putTopic(caller, { name: 'big' });
      const record = await big.service.publish(caller, { topic: 'big', payload: text('x'.repeat(100)) });
      expect(record.pointer.kind).toBe('local');
      const { data } = await big.service.getVersionData(caller, { topic: 'big', version: record.version });
      expect(new TextDecoder().decode(data)).toBe('x'.repeat(100));
    } finally {
      await big.close();
    }
  });

  it('rejects a non-JSON payload on a typed topic and leaves no version behind', async () => {
    await h.service.putTopic(caller, { name: 'typed', kind: 'mesh.routes.v1' });
    await expect(
      h.service.publish(caller, { topic: 'typed', payload: text('{not json') }),
    ).rejects.toMatchObject({
      code: 'MALFORMED_REQUEST',
    });
    expect((await h.service.listVersions(caller, { topic: 'typed' })).versions).toEqual([]);
  });

  it('records the caller as publisher and metadata as given', async () => {
    const record = await h.service.publish(caller, {
      topic: 'routes',
      payload: text('m'),
      metadata: { commit: 'abc123' },
    });
    expect(record).toMatchObject({
      publisher: 'tester',
      metadata: { commit: 'abc123' },
      committedAt: h.clock.now(),
    });
  });
});

describe('periodic refresh', () => {
  it('picks up writes made behind the cache (another instance) within the refresh interval', async () => {
    const v1 = await publishText('one');
    expect((await h.service.poll(caller, { identity: EU, topics: [{ topic: 'routes' }] }))[0]?.version).toBe(
      v1,
    );
    // Another instance publishes directly to the shared store; no notification reaches this one.
    const v2 = await h.store.allocateVersion('routes');
    const data = new TextEncoder().encode('two');
    await h.store.writeVersion({
      topic: 'routes',
      version: v2,
      metadata: {},
      pointer: { kind: 'direct', data },
      size: data.length,
      sha256: sha256Hex(data),
      contentType: 'text/plain',
      publisher: 'other',
      createdAt: h.clock.now(),
    });
    await h.store.addScopes('routes', v2, ['*'], h.clock.now());
    await h.store.commitVersion('routes', v2, h.clock.now());
    expect(
      await h.service.poll(caller, { identity: EU, topics: [{ topic: 'routes', currentVersion: v1 }] }),
    ).toEqual([]);
    await h.clock.advanceAsync(5_000, 1_000);
    await settle();
    const updates = await h.service.poll(caller, {
      identity: EU,
      topics: [{ topic: 'routes', currentVersion: v1 }],
    });
    expect(updates.map((u) => u.version)).toEqual([v2]);
  });
});

describe('long-poll wake-ups', () => {
  it('a change landing while the first evaluation awaits a topic load still wakes the poll', async () => {
    // A store whose load of one topic can be held, to land a publish inside the evaluation.
    let hold: Promise<void> | undefined;
    let release!: () => void;
    const store = new Proxy(h.store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop === 'loadTopicSnapshot')
          return async (name: string) => {
            if (name === 'slow' && hold) await hold;
            return target.loadTopicSnapshot(name);
          };
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    // Created before the second instance subscribes to change events, so that instance has not loaded it.
    await h.service.putTopic(caller, { name: 'slow' });
    const { MeshpressService } = await import('../../../server/src/core/service.js');
    const service = new MeshpressService({
      store,
      blobs: h.blobs,
      bus: h.bus,
      clock: h.clock,
      logger: (await import('pino')).default({ level: 'silent' }),
      metrics: h.metrics,
      instanceId: 'second',
    });
    try {
      const v1 = await publishText('one');
      await service.poll(caller, { identity: EU, topics: [{ topic: 'routes', currentVersion: v1 }] });

      hold = new Promise<void>((resolve) => (release = resolve));
      let answered: number[] | undefined;
      const pending = service
        .poll(caller, {
          identity: EU,
          waitMs: 60_000,
          topics: [{ topic: 'routes', currentVersion: v1 }, { topic: 'slow' }],
        })
        .then((updates) => (answered = updates.map((u) => u.version)));
      await settle();
      const v2 = (await service.publish(caller, { topic: 'routes', payload: text('two') })).version;
      hold = undefined;
      release();
      await settle();
      // Held polls are woken on the event loop's next turn (after the publish has been answered).
      await new Promise((resolve) => setImmediate(resolve));
      await settle();
      expect(answered).toEqual([v2]);
      await pending;
    } finally {
      service.close();
    }
  });
});
