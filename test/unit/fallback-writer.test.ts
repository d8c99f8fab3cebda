import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_FALLBACK_CACHE_KEY,
  decodeFallbackCache,
  FileFallbackCacheReader,
  ManualClock,
  sha256Hex,
} from '@meshpress/client';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DirBlobStore } from '../../server/src/blob/dir-blob-store.js';
import { SqliteConfigStore } from '../../server/src/store/sqlite/sqlite-config-store.js';
import {
  buildFallbackDocument,
  InProcessLeadership,
  type Leadership,
  startFallbackWriter,
} from '../../server/src/tasks/index.js';

const INTERVAL = 60_000;
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
/** Waits for real file I/O (fsync included) to finish: polls the condition, with a deadline. */
const until = (condition: () => boolean) =>
  vi.waitFor(() => expect(condition()).toBe(true), { timeout: 10_000, interval: 5 });
const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function world() {
  const dir = await mkdtemp(join(tmpdir(), 'meshpress-fallback-'));
  const clock = new ManualClock();
  const store = await SqliteConfigStore.open({ path: ':memory:' });
  const blobs = new DirBlobStore({ root: join(dir, 'blobs') });
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  cleanups.push(async () => {
    await store.close();
    await blobs.close();
    await rm(dir, { recursive: true, force: true });
  });
  const publish = async (topic: string, text: string, scopes: string[]) => {
    const version = await store.allocateVersion(topic);
    const data = new TextEncoder().encode(text);
    await store.writeVersion({
      topic,
      version,
      metadata: {},
      pointer: { kind: 'direct', data },
      size: data.byteLength,
      sha256: sha256Hex(data),
      contentType: 'text/plain',
      publisher: 'test',
      createdAt: clock.now(),
    });
    await store.addScopes(topic, version, scopes, clock.now());
    await store.commitVersion(topic, version, clock.now());
    return version;
  };
  return {
    dir,
    clock,
    store,
    blobs,
    lines,
    logger,
    publish,
    cachePath: join(dir, 'blobs', DEFAULT_FALLBACK_CACHE_KEY),
  };
}

describe('fallback writer', () => {
  it('writes every topic to the blob store, readable by the file reader', async () => {
    const w = await world();
    for (const name of ['a.routes', 'b.routes', 'c.policy'])
      await w.store.putTopic({ name, retention: { maxVersions: 5 } }, w.clock.now());
    await w.publish('a.routes', 'a global', ['*']);
    await w.publish('a.routes', 'a eu', ['region=eu-west-1']);
    await w.store.setPin('b.routes', {
      scope: 'app=checkout',
      version: await w.publish('b.routes', 'b one', ['*']),
      reason: 'hold',
      author: 'ops',
      setAt: w.clock.now(),
    });
    await w.publish('b.routes', 'b two', ['*']);

    const writer = startFallbackWriter({ ...w, intervalMs: INTERVAL, instanceId: 'writer-1' });
    cleanups.push(() => writer.close());
    const result = await writer.runOnce();
    const bytes = await readFile(w.cachePath);
    expect(result).toEqual({ topics: 3, bytes: bytes.byteLength, written: true });
    const doc = await decodeFallbackCache(bytes);
    expect(doc.writer).toBe('writer-1');
    expect(doc.generatedAt).toBe(w.clock.now());
    expect(doc.topics.map((t) => t.topic.name)).toEqual(['a.routes', 'b.routes', 'c.policy']);

    const reader = new FileFallbackCacheReader({ path: w.cachePath, clock: w.clock });
    cleanups.push(() => reader.close());
    const text = async (topic: string, identity: object) => {
      const hit = await reader.lookup(topic, identity);
      const pointer = hit?.record.pointer;
      return hit && pointer?.kind === 'direct'
        ? { version: hit.version, pinned: hit.pinned, text: Buffer.from(pointer.data).toString() }
        : hit;
    };
    expect(await text('a.routes', { region: 'eu-west-1' })).toEqual({
      version: 2,
      pinned: false,
      text: 'a eu',
    });
    expect(await text('a.routes', { region: 'us-east-1' })).toEqual({
      version: 1,
      pinned: false,
      text: 'a global',
    });
    expect(await text('b.routes', { app: 'checkout' })).toEqual({ version: 1, pinned: true, text: 'b one' });
    expect(await text('b.routes', { app: 'orders' })).toEqual({ version: 2, pinned: false, text: 'b two' });
    expect(await text('c.policy', { app: 'checkout' })).toBeUndefined();
    expect(await text('d.unknown', { app: 'checkout' })).toBeUndefined();
  });

  it('writes on schedule as the leader, to the configured key', async () => {
    const w = await world();
    await w.store.putTopic({ name: 'a.routes', retention: {} }, w.clock.now());
    const writer = startFallbackWriter({
      ...w,
      intervalMs: INTERVAL,
      leadership: new InProcessLeadership(),
      key: 'custom/cache.gz',
    });
    cleanups.push(() => writer.close());
    const path = join(w.dir, 'blobs', 'custom', 'cache.gz');
    w.clock.advance(INTERVAL - 1);
    await settle();
    expect(await exists(path)).toBe(false);
    w.clock.advance(1);
    const written = () => w.lines.filter((l) => l.msg === 'fallback cache written').length;
    await until(() => written() === 1);
    const first = await decodeFallbackCache(await readFile(path));
    expect(first.topics[0]!.versions).toEqual([]);
    await w.publish('a.routes', 'later', ['*']);
    w.clock.advance(INTERVAL);
    await until(() => written() === 2);
    const second = await decodeFallbackCache(await readFile(path));
    expect(second.generatedAt).toBe(first.generatedAt + INTERVAL);
    expect(second.topics[0]!.versions.map((v) => v.version)).toEqual([1]);
  });

  it('does not write on schedule when another instance is the leader', async () => {
    const w = await world();
    await w.store.putTopic({ name: 'a.routes', retention: {} }, w.clock.now());
    let asked = 0;
    const notLeader: Leadership = {
      acquire: async () => {
        asked++;
        return false;
      },
      release: async () => undefined,
    };
    const writer = startFallbackWriter({ ...w, intervalMs: INTERVAL, leadership: notLeader });
    for (let i = 0; i < 5; i++) {
      w.clock.advance(INTERVAL);
      await settle();
    }
    expect(asked).toBe(5);
    await writer.close(); // waits for any write in progress, so a write would be on disk by now
    expect(await exists(w.cachePath)).toBe(false);
  });

  it('logs a failed write, leaves the previous cache in place, and keeps its schedule', async () => {
    const w = await world();
    await w.store.putTopic({ name: 'a.routes', retention: {} }, w.clock.now());
    await w.publish('a.routes', 'one', ['*']);
    const writer = startFallbackWriter({ ...w, intervalMs: INTERVAL });
    cleanups.push(() => writer.close());
    await writer.runOnce();
    const before = await readFile(w.cachePath);
    await w.store.close(); // the store fails every read from now on
    w.clock.advance(INTERVAL);
    await until(() => w.lines.some((l) => l.level === 50 && /periodic task failed/.test(l.msg)));
    expect(await readFile(w.cachePath)).toEqual(before);
    expect(w.clock.pendingTimers).toBe(1);
  });

  it('rejects invalid options', async () => {
    const w = await world();
    expect(() => startFallbackWriter({ ...w, intervalMs: -5 })).toThrow(/intervalMs/);
    expect(() => startFallbackWriter({ ...w, key: '../escape' })).toThrow(/key/);
  });

  it('reuses a previous record only while its version is committed: a purged pinned version drops out', async () => {
    const w = await world();
    await w.store.putTopic({ name: 't', retention: {} }, w.clock.now());
    const v1 = await w.publish('t', 'one', ['*']);
    const v2 = await w.publish('t', 'two', ['*']);
    await w.store.setPin('t', {
      scope: '*',
      version: v1,
      reason: 'rollback',
      author: 'ops',
      setAt: w.clock.now(),
    });
    const build = (known?: Awaited<ReturnType<typeof buildFallbackDocument>>['known']) =>
      buildFallbackDocument({ store: w.store, now: w.clock.now(), writer: 'w', known });
    const versionsOf = (doc: Awaited<ReturnType<typeof build>>['document']) =>
      doc.topics[0]!.versions.map((v) => v.version);

    const first = await build();
    expect(versionsOf(first.document)).toEqual([v2, v1]);

    // Committed records are still reused: the second build reads no record again.
    const reads = vi.spyOn(w.store, 'getVersion');
    const second = await build(first.known);
    expect(versionsOf(second.document)).toEqual([v2, v1]);
    expect(reads).not.toHaveBeenCalled();

    // The janitor's delete landing after a late pin: the pin stays, the version is gone.
    await w.store.deleteVersion('t', v1);
    const third = await build(second.known);
    expect(third.document.topics[0]!.pins.map((p) => p.version)).toEqual([v1]);
    expect(versionsOf(third.document)).toEqual([v2]);
    expect(reads).toHaveBeenCalledWith('t', v1);
    // As a build with nothing known (another instance, a restart) has it.
    expect(versionsOf((await build()).document)).toEqual([v2]);
  });

  it('the writer stops serving a purged pinned version at its next run', async () => {
    const w = await world();
    await w.store.putTopic({ name: 't', retention: {} }, w.clock.now());
    const v1 = await w.publish('t', 'one', ['*']);
    await w.publish('t', 'two', ['*']);
    await w.store.setPin('t', {
      scope: '*',
      version: v1,
      reason: 'rollback',
      author: 'ops',
      setAt: w.clock.now(),
    });
    const writer = startFallbackWriter({ ...w, intervalMs: INTERVAL });
    cleanups.push(() => writer.close());
    await writer.runOnce();
    const reader = new FileFallbackCacheReader({ path: w.cachePath, clock: w.clock });
    cleanups.push(() => reader.close());
    expect((await reader.lookup('t', { app: 'x' }))?.version).toBe(v1);

    await w.store.deleteVersion('t', v1);
    w.clock.advance(1);
    await writer.runOnce();
    const doc = await decodeFallbackCache(await readFile(w.cachePath));
    expect(doc.topics[0]!.versions.map((v) => v.version)).toEqual([2]);
  });

  it('leaves a cache generated after its build started in place, and overwrites one dated far ahead', async () => {
    const w = await world();
    await w.store.putTopic({ name: 'a.routes', retention: {} }, w.clock.now());
    await w.publish('a.routes', 'one', ['*']);
    // Writer A's build hangs on the store (a pause, a slow listing); meanwhile B writes a fresh cache.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const listTopics = w.store.listTopics.bind(w.store);
    vi.spyOn(w.store, 'listTopics').mockImplementationOnce(async (options) => {
      await gate;
      return listTopics(options);
    });
    const a = startFallbackWriter({ ...w, intervalMs: INTERVAL, instanceId: 'a' });
    const clockB = new ManualClock(w.clock.now() + 5_000);
    const b = startFallbackWriter({ ...w, clock: clockB, intervalMs: INTERVAL, instanceId: 'b' });
    cleanups.push(
      () => a.close(),
      () => b.close(),
    );
    const late = a.runOnce();
    await settle();
    expect((await b.runOnce()).written).toBe(true);
    w.clock.advance(6_000);
    open();
    expect(await late).toMatchObject({ topics: 1, written: false });
    const stored = await decodeFallbackCache(await readFile(w.cachePath));
    expect(stored).toMatchObject({ writer: 'b', generatedAt: clockB.now() });
    expect(w.lines.some((l) => l.level === 40 && /newer fallback cache is in place/.test(l.msg))).toBe(true);

    // A cache dated more than an interval ahead of this clock: the clocks disagree; it is replaced.
    clockB.advance(10 * INTERVAL);
    await b.runOnce();
    // Stopped, so that B's own scheduled run (its clock passed an interval) cannot write after A.
    await b.close();
    expect(await a.runOnce()).toMatchObject({ written: true });
    expect((await decodeFallbackCache(await readFile(w.cachePath))).writer).toBe('a');
  });
});
