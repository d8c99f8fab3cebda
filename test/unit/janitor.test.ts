import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type DataPointer,
  type RetentionPolicy,
  sha256Hex,
  UnavailableError,
  VersionNotFoundError,
} from '@meshpress/client';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BlobStore } from '../../server/src/blob/blob-store.js';
import { InProcessChangeBus } from '../../server/src/bus/in-process-bus.js';
import { MeshpressService } from '../../server/src/core/service.js';
import { ServerMetrics } from '../../server/src/metrics.js';
import type { ConfigStore } from '../../server/src/store/config-store.js';
import { type Janitor, type JanitorOptions, startJanitor } from '../../server/src/tasks/janitor.js';
import { deleteBlobIfUnreferenced } from '../../server/src/tasks/janitor-blobs.js';
import { DAY_MS } from '../../server/src/tasks/janitor-rules.js';
import type { Leadership } from '../../server/src/tasks/leadership.js';
import { caller, serviceHarness, text } from '../support/service-harness.js';

/** Payloads longer than this go to the blob directory; shorter ones stay inline. */
const INLINE_LIMIT = 8;
const HOUR = 3_600_000;
/** So that only runOnce runs: no scheduled run fires while a test advances the clock by days. */
const NEVER = 100 * 365 * DAY_MS;
const silent = pino({ level: 'silent' });
const encode = (s: string) => new TextEncoder().encode(s);

type Harness = Awaited<ReturnType<typeof serviceHarness>>;
let h: Harness;
const cleanups: (() => Promise<void>)[] = [];

beforeEach(async () => {
  h = await serviceHarness({ inlineLimitBytes: INLINE_LIMIT });
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await h.close();
});

function janitor(options: Partial<JanitorOptions> = {}): Janitor {
  const started = startJanitor({
    store: h.store,
    blobs: h.blobs,
    clock: h.clock,
    logger: silent,
    intervalMs: NEVER,
    ...options,
  });
  cleanups.push(() => started.close());
  return started;
}

async function topic(name: string, retention: RetentionPolicy): Promise<string> {
  await h.service.putTopic(caller, { name, retention });
  return name;
}

async function publish(name: string, payload: string, scopes?: string[]): Promise<number> {
  const record = await h.service.publish(caller, {
    topic: name,
    payload: text(payload),
    ...(scopes ? { scopes } : {}),
  });
  return record.version;
}

async function history(name: string): Promise<number[]> {
  return (await h.store.listVersions(name, { limit: 1000 })).versions.map((v) => v.version);
}

const blobFile = (payload: string) => join(h.blobs.root, 'blobs', sha256Hex(encode(payload)));

async function pollVersion(
  name: string,
  identity: Record<string, string>,
  currentVersion?: number,
): Promise<{ version: number; pinned: boolean } | undefined> {
  const [update] = await h.service.poll(caller, {
    identity,
    topics: [{ topic: name, ...(currentVersion === undefined ? {} : { currentVersion }) }],
  });
  return update && { version: update.version, pinned: update.pinned };
}

/** Delegates to `target`, replacing the methods given. Keeps the real store's behaviour otherwise. */
function around<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(object, property) {
      if (property in overrides) return overrides[property as keyof T];
      const value = Reflect.get(object, property, object);
      return typeof value === 'function' ? value.bind(object) : value;
    },
  });
}

describe('retention', () => {
  it('keeps the newest N versions with a count limit', async () => {
    const name = await topic('count', { maxVersions: 3 });
    for (let i = 1; i <= 6; i++) await publish(name, `v${i}`);

    const report = await janitor().runOnce();

    expect(await history(name)).toEqual([6, 5, 4]);
    expect(report).toMatchObject({
      leader: true,
      versionsPurged: 3,
      failedTopics: [],
      topics: [{ topic: name, versionsPurged: 3 }],
    });
    // A second run finds nothing more to do.
    expect((await janitor().runOnce()).versionsPurged).toBe(0);
  });

  it('keeps versions younger than D days with an age limit, however many there are', async () => {
    const name = await topic('age', { maxAgeDays: 2 });
    await publish(name, 'old-1');
    await publish(name, 'old-2');
    h.clock.advance(2 * DAY_MS);
    // Exactly D days old now: goes. The rest are younger: kept.
    await publish(name, 'edge');
    h.clock.advance(1);
    for (let i = 0; i < 5; i++) await publish(name, `young-${i}`);
    h.clock.advance(2 * DAY_MS - 1);

    expect((await janitor().runOnce()).versionsPurged).toBe(3);
    expect(await history(name)).toEqual([8, 7, 6, 5, 4]);
  });

  it('with both limits, keeps a version that either rule keeps', async () => {
    const name = await topic('both', { maxVersions: 2, maxAgeDays: 1 });
    for (let i = 1; i <= 3; i++) await publish(name, `old-${i}`);
    h.clock.advance(3 * DAY_MS);
    for (let i = 4; i <= 6; i++) await publish(name, `young-${i}`);

    await janitor().runOnce();
    // 6 and 5 by count; 4 by age although third newest; 1 to 3 by neither rule.
    expect(await history(name)).toEqual([6, 5, 4]);

    h.clock.advance(2 * DAY_MS);
    await janitor().runOnce();
    expect(await history(name)).toEqual([6, 5]);
  });

  it('leaves topics without any limit alone', async () => {
    await h.store.putTopic({ name: 'unlimited', retention: {} }, h.clock.now());
    for (let i = 1; i <= 4; i++) await publish('unlimited', `v${i}`);
    h.clock.advance(1_000 * DAY_MS);

    expect(await janitor().runOnce()).toMatchObject({ versionsPurged: 0, topicsScanned: 1 });
    expect(await history('unlimited')).toEqual([4, 3, 2, 1]);
  });
});

describe('versions never purged', () => {
  it('keeps a pinned version however old, and polls still roll back to it', async () => {
    const name = await topic('pinned', { maxVersions: 1 });
    for (let i = 1; i <= 4; i++) await publish(name, `v${i}`);
    await h.service.pin(caller, { topic: name, scope: 'app=web', version: 2, reason: 'bad v3' });

    await janitor().runOnce();

    expect(await history(name)).toEqual([4, 2]);
    expect(await pollVersion(name, { app: 'web' }, 4)).toEqual({ version: 2, pinned: true });
  });

  it("keeps the newest version of every publish scope: a canary scope's only, old version", async () => {
    const name = await topic('heads', { maxVersions: 2 });
    await publish(name, 'canary build', ['app=canary']);
    await publish(name, 'eu build', ['region=eu-west-1']);
    for (let i = 3; i <= 6; i++) await publish(name, `main ${i}`, ['app=main']);
    h.clock.advance(365 * DAY_MS);

    const report = await janitor().runOnce();

    expect(await history(name)).toEqual([6, 5, 2, 1]);
    expect(report.versionsPurged).toBe(2);
    expect(await pollVersion(name, { app: 'canary' })).toEqual({ version: 1, pinned: false });
    expect(await pollVersion(name, { app: 'web', region: 'eu-west-1' })).toEqual({
      version: 2,
      pinned: false,
    });
    expect(await pollVersion(name, { app: 'main' })).toEqual({ version: 6, pinned: false });
  });

  it('keeps a version given a new scope, or pinned, after the protected set was read', async () => {
    const name = await topic('late', { maxVersions: 1 });
    await publish(name, 'old build', ['app=old']);
    const late = await publish(name, 'web 2', ['app=web']);
    const pinned = await publish(name, 'web 3', ['app=web']);
    const purgeable = await publish(name, 'web 4', ['app=web']);
    const newest = await publish(name, 'web 5', ['app=web', 'app=beta']);
    // Right after the janitor reads the protected set: version 2 becomes the only (so the newest) version
    // of a new scope, version 3 is pinned, and version 4 gets a scope whose newest version is newer.
    let snapshots = 0;
    const store = around<ConfigStore>(h.store, {
      loadTopicSnapshot: async (t: string) => {
        const snapshot = await h.store.loadTopicSnapshot(t);
        if (t === name && ++snapshots === 1) {
          await h.service.addScopes(caller, { topic: name, version: late, scopes: ['app=canary'] });
          await h.service.pin(caller, { topic: name, scope: 'app=ops', version: pinned, reason: 'hold' });
          await h.service.addScopes(caller, { topic: name, version: purgeable, scopes: ['app=beta'] });
        }
        return snapshot;
      },
    });

    const report = await janitor({ store }).runOnce();

    expect(snapshots).toBe(1);
    expect(await history(name)).toEqual([newest, pinned, late, 1]);
    expect(report.versionsPurged).toBe(1);
    expect(await pollVersion(name, { app: 'canary' })).toEqual({ version: late, pinned: false });
    expect(await pollVersion(name, { app: 'ops' })).toEqual({ version: pinned, pinned: true });
    expect(await pollVersion(name, { app: 'beta' })).toEqual({ version: newest, pinned: false });
    // Kept now, purged by a later run once nothing protects them any more.
    await h.service.unpin(caller, { topic: name, scope: 'app=ops' });
    await publish(name, 'canary 6', ['app=canary']);
    expect((await janitor().runOnce()).versionsPurged).toBe(2);
  });

  it('never touches a version still being published (no commit marker yet)', async () => {
    const name = await topic('in-flight', { maxVersions: 1 });
    await publish(name, 'payload one');
    const inFlight = await h.store.allocateVersion(name);
    const bytes = encode('payload one');
    await h.store.writeVersion({
      topic: name,
      version: inFlight,
      metadata: {},
      pointer: { kind: 'local', key: `blobs/${sha256Hex(bytes)}` },
      size: bytes.byteLength,
      sha256: sha256Hex(bytes),
      contentType: 'text/plain',
      publisher: 'slow',
      createdAt: h.clock.now(),
    });
    await publish(name, 'payload three');
    h.clock.advance(DAY_MS);

    await janitor().runOnce();

    expect(await history(name)).toEqual([3]);
    expect((await h.store.getVersion(name, inFlight))?.committedAt).toBeUndefined();
    // Its blob is the purged version 1's: still referenced by the record in flight.
    expect(existsSync(blobFile('payload one'))).toBe(true);
  });
});

describe('what consumers see after a purge', () => {
  it('drops purged versions from history and GET (404), while polls resolve as before', async () => {
    const name = await topic('consumers', { maxVersions: 1 });
    for (let i = 1; i <= 4; i++) await publish(name, `payload ${i}`);
    await h.service.pin(caller, { topic: name, scope: 'app=web', version: 2 });

    await janitor().runOnce();

    expect((await h.service.listVersions(caller, { topic: name })).versions.map((v) => v.version)).toEqual([
      4, 2,
    ]);
    for (const version of [1, 3]) {
      await expect(h.service.getVersion(caller, { topic: name, version })).rejects.toBeInstanceOf(
        VersionNotFoundError,
      );
      await expect(h.service.getVersionData(caller, { topic: name, version })).rejects.toBeInstanceOf(
        VersionNotFoundError,
      );
    }
    expect(
      new TextDecoder().decode((await h.service.getVersionData(caller, { topic: name, version: 4 })).data),
    ).toBe('payload 4');

    const check = async () => {
      expect(await pollVersion(name, { app: 'api' })).toEqual({ version: 4, pinned: false });
      // A node still running a purged version moves to its target.
      expect(await pollVersion(name, { app: 'api' }, 1)).toEqual({ version: 4, pinned: false });
      expect(await pollVersion(name, { app: 'api' }, 4)).toBeUndefined();
      expect(await pollVersion(name, { app: 'web' }, 3)).toEqual({ version: 2, pinned: true });
      expect(await pollVersion(name, { app: 'web' }, 2)).toBeUndefined();
    };
    await check();
    // Same answers once the consumer cache has reloaded the topic from the store.
    await h.service.putTopic(caller, { name, retention: { maxVersions: 1 } });
    await check();
  });
});

describe('blobs', () => {
  it('deletes the blob of purged versions only, and keeps inline payloads out of it', async () => {
    const name = await topic('blobs', { maxVersions: 1 });
    await publish(name, 'first blob payload');
    await publish(name, 'tiny');
    await publish(name, 'third blob payload');
    expect(existsSync(blobFile('first blob payload'))).toBe(true);

    const report = await janitor().runOnce();

    expect(report).toMatchObject({ versionsPurged: 2, blobsDeleted: 1, blobsRestored: 0, failedBlobs: 0 });
    expect(existsSync(blobFile('first blob payload'))).toBe(false);
    expect(existsSync(blobFile('third blob payload'))).toBe(true);
  });

  it('keeps a blob shared with a retained version, in the same topic or another', async () => {
    const a = await topic('shared-a', { maxVersions: 1 });
    const b = await topic('shared-b', { maxVersions: 5 });
    await publish(a, 'shared across topics');
    await publish(a, 'shared within topic');
    await publish(b, 'shared across topics');
    await publish(a, 'filler payload');
    await publish(a, 'shared within topic');

    const report = await janitor().runOnce();

    expect(await history(a)).toEqual([4]);
    expect(report.blobsDeleted).toBe(1);
    expect(existsSync(blobFile('shared across topics'))).toBe(true);
    expect(existsSync(blobFile('shared within topic'))).toBe(true);
    expect(existsSync(blobFile('filler payload'))).toBe(false);
    expect(
      new TextDecoder().decode((await h.service.getVersionData(caller, { topic: b, version: 1 })).data),
    ).toBe('shared across topics');
  });

  it("never deletes a publisher's own S3 object published by pointer", async () => {
    const deleted: DataPointer[] = [];
    const blobs = around<BlobStore>(h.blobs, {
      deletePayload: async (pointer: DataPointer) => {
        deleted.push(pointer);
        await h.blobs.deletePayload(pointer);
      },
    });
    const name = await topic('by-pointer', { maxVersions: 1 });
    const bytes = encode('owned by the team');
    await h.service.publish(caller, {
      topic: name,
      payload: {
        kind: 's3',
        locations: [{ region: 'us-east-1', bucket: 'team-configs', key: 'exports/routes.json' }],
        size: bytes.byteLength,
        sha256: sha256Hex(bytes),
      },
    });
    await publish(name, 'a newer blob payload');

    const report = await janitor({ blobs }).runOnce();

    expect(report).toMatchObject({ versionsPurged: 1, blobsDeleted: 0, failedBlobs: 0 });
    expect(deleted).toEqual([]);
  });
});

describe('the publish race', () => {
  it('janitor: a blob that a publish starts using while it is deleted is put back', async () => {
    const name = await topic('race-janitor', { maxVersions: 1 });
    const bytes = encode('reused payload bytes');
    const sha = sha256Hex(bytes);
    const pointer = await h.blobs.putPayload(bytes, sha);
    // Between the janitor's delete and its re-check, a publish of the same bytes writes its record.
    const blobs = around<BlobStore>(h.blobs, {
      deletePayload: async (p: DataPointer) => {
        await h.blobs.deletePayload(p);
        const version = await h.store.allocateVersion(name);
        await h.store.writeVersion({
          topic: name,
          version,
          metadata: {},
          pointer,
          size: bytes.byteLength,
          sha256: sha,
          contentType: 'text/plain',
          publisher: 'racer',
          createdAt: h.clock.now(),
        });
      },
    });

    const outcome = await deleteBlobIfUnreferenced({
      store: h.store,
      blobs,
      logger: silent,
      sha256: sha,
      pointers: [pointer],
    });

    expect(outcome).toBe('restored');
    expect(readFileSync(join(h.blobs.root, 'blobs', sha))).toEqual(Buffer.from(bytes));
  });

  it('janitor: a deleted blob goes back when the re-check cannot tell', async () => {
    const bytes = encode('uncertain payload bytes');
    const sha = sha256Hex(bytes);
    const pointer = await h.blobs.putPayload(bytes, sha);
    let checks = 0;
    const store = around<ConfigStore>(h.store, {
      isPayloadReferenced: async (digest: string) => {
        if (++checks > 1) throw new UnavailableError('store down');
        return h.store.isPayloadReferenced(digest);
      },
    });

    expect(
      await deleteBlobIfUnreferenced({
        store,
        blobs: h.blobs,
        logger: silent,
        sha256: sha,
        pointers: [pointer],
      }),
    ).toBe('restored');
    expect(existsSync(join(h.blobs.root, 'blobs', sha))).toBe(true);
  });

  it('publisher: stores its blob again after writing its record, so the commit never points at nothing', async () => {
    const name = await topic('race-publisher', { maxVersions: 5 });
    const payload = 'payload the janitor deletes';
    const existedAtCommit: boolean[] = [];
    // The janitor deletes the (so far unreferenced) blob right after the publisher's first store,
    // before its record exists: the worst moment for the publisher.
    const blobs = around<BlobStore>(h.blobs, {
      putPayload: async (data: Uint8Array, sha: string) => {
        const pointer = await h.blobs.putPayload(data, sha);
        if (!(await h.store.isPayloadReferenced(sha))) await h.blobs.deletePayload(pointer);
        return pointer;
      },
    });
    const store = around<ConfigStore>(h.store, {
      commitVersion: async (t: string, version: number, now: number) => {
        existedAtCommit.push(existsSync(blobFile(payload)));
        await h.store.commitVersion(t, version, now);
      },
    });
    const bus = new InProcessChangeBus();
    const service = new MeshpressService({
      store,
      blobs,
      bus,
      clock: h.clock,
      logger: silent,
      metrics: new ServerMetrics(),
      instanceId: 'racer',
      inlineLimitBytes: INLINE_LIMIT,
    });
    cleanups.push(async () => {
      service.close();
      await bus.close();
    });

    const record = await service.publish(caller, { topic: name, payload: text(payload) });

    expect(existedAtCommit).toEqual([true]);
    expect(
      new TextDecoder().decode(
        (await service.getVersionData(caller, { topic: name, version: record.version })).data,
      ),
    ).toBe(payload);
  });
});

describe('leadership and schedule', () => {
  it('runs on schedule on the leader', async () => {
    const name = await topic('scheduled', { maxVersions: 1 });
    for (let i = 1; i <= 3; i++) await publish(name, `v${i}`);
    janitor({ intervalMs: HOUR });

    h.clock.advance(HOUR);

    await vi.waitFor(async () => expect(await history(name)).toEqual([3]), { timeout: 5_000, interval: 5 });
  });

  it('does nothing on an instance that does not hold the lease, scheduled or asked', async () => {
    const name = await topic('follower', { maxVersions: 1 });
    for (let i = 1; i <= 3; i++) await publish(name, `payload ${i}`);
    let asked = 0;
    const follower: Leadership = {
      acquire: async () => {
        asked++;
        return false;
      },
      release: async () => undefined,
    };
    const j = janitor({ intervalMs: HOUR, leadership: follower });

    h.clock.advance(HOUR);
    await vi.waitFor(() => expect(asked).toBeGreaterThanOrEqual(1), { timeout: 5_000, interval: 5 });
    const report = await j.runOnce();

    expect(report).toMatchObject({ leader: false, versionsPurged: 0, topicsScanned: 0 });
    expect(await history(name)).toEqual([3, 2, 1]);
    expect(existsSync(blobFile('payload 1'))).toBe(true);
  });

  it('isolates a topic that fails: the others are still purged and the failure is reported', async () => {
    const broken = await topic('broken', { maxVersions: 1 });
    const healthy = await topic('healthy', { maxVersions: 1 });
    for (const name of [broken, healthy]) for (let i = 1; i <= 2; i++) await publish(name, `v${i}`);
    const store = around<ConfigStore>(h.store, {
      listVersions: async (t: string, options: { before?: number | undefined; limit: number }) => {
        if (t === broken) throw new UnavailableError('partition unavailable');
        return h.store.listVersions(t, options);
      },
    });

    const report = await janitor({ store }).runOnce();

    expect(report).toMatchObject({ failedTopics: [broken], versionsPurged: 1, topicsScanned: 2 });
    expect(await history(healthy)).toEqual([2]);
    expect(await history(broken)).toEqual([2, 1]);
  });

  it('closes idempotently; runOnce after close is refused', async () => {
    const j = janitor();
    await Promise.all([j.close(), j.close()]);
    await expect(j.runOnce()).rejects.toMatchObject({ code: 'CLOSED' });
  });
});
