import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import {
  FallbackCacheMissingError,
  type Identity,
  ManualClock,
  S3FallbackCacheReader,
  type S3FallbackCacheReaderOptions,
  sha256Hex,
  systemClock,
} from '@meshpress/client';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { S3BlobStore } from '../../server/src/blob/s3-blob-store.js';
import { SqliteConfigStore } from '../../server/src/store/sqlite/sqlite-config-store.js';
import {
  type FallbackWriter,
  InProcessLeadership,
  startFallbackWriter,
} from '../../server/src/tasks/index.js';
import { type S3Service, startS3, uniqueBucketName } from '../support/services/index.js';
import { http, startTestServer, type TestServer } from '../support/test-server.js';

/*
 * A real server (SQLite store, S3 blob store on s3rver) publishes and pins through its REST API; the
 * fallback writer writes the cache to S3; the client's S3 reader answers from it as if the service were
 * down. Every answer must be the one the service's resolve endpoint gives.
 */

const US = 'us-east-1';
const EU = 'eu-west-1';
const INLINE_LIMIT = 1024;

let s3: S3Service;
let server: TestServer;
let store: SqliteConfigStore;
let blobs: S3BlobStore;
const buckets = { us: uniqueBucketName('fallback-us'), eu: uniqueBucketName('fallback-eu') };
const cleanups: (() => Promise<void>)[] = [];

const call = (method: string, path: string, body?: unknown) => http(server.httpUrl, method, path, body);

beforeAll(async () => {
  s3 = await startS3();
  await s3.createBucket(buckets.us);
  await s3.createBucket(buckets.eu);
  store = await SqliteConfigStore.open({ path: ':memory:' });
  blobs = new S3BlobStore({
    buckets: [
      { region: US, bucket: buckets.us, endpoint: s3.endpoint, forcePathStyle: true },
      { region: EU, bucket: buckets.eu, endpoint: s3.endpoint, forcePathStyle: true },
    ],
    credentials: s3.credentials,
  });
  // The server owns (and closes) the store and blob store; the writer shares them, as it will in main.
  server = await startTestServer({ inlineLimitBytes: INLINE_LIMIT }, { store, blobs });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await server?.dispose();
  await s3?.stop();
});

function writer(key: string): FallbackWriter {
  const started = startFallbackWriter({
    store,
    blobs,
    clock: systemClock,
    logger: pino({ level: 'silent' }),
    intervalMs: 3_600_000,
    leadership: new InProcessLeadership(),
    key,
    instanceId: 'integration-writer',
  });
  cleanups.push(() => started.close());
  return started;
}

function reader(options: Partial<S3FallbackCacheReaderOptions> & { key: string }): S3FallbackCacheReader {
  const created = new S3FallbackCacheReader({
    buckets: [
      { region: US, bucket: buckets.us, endpoint: s3.endpoint, forcePathStyle: true },
      { region: EU, bucket: buckets.eu, endpoint: s3.endpoint, forcePathStyle: true },
    ],
    credentials: s3.credentials,
    ...options,
  });
  cleanups.push(() => created.close());
  return created;
}

async function putTopic(name: string): Promise<void> {
  const res = await call('PUT', `/v1/topics/${name}`, {});
  expect([200, 201]).toContain(res.status);
}

async function publish(topic: string, text: string, scopes: string[]): Promise<number> {
  const res = await call('POST', `/v1/topics/${topic}/versions`, { payload: { text }, scopes });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.version;
}

async function pin(topic: string, scope: string, version: number): Promise<void> {
  const res = await call('PUT', `/v1/topics/${topic}/pins/${encodeURIComponent(scope)}`, {
    version,
    reason: 'integration test',
  });
  expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
}

async function served(
  topic: string,
  identity: Identity,
): Promise<{ version: number; pinned: boolean; sha256: string } | null> {
  const query = new URLSearchParams(identity as Record<string, string>).toString();
  const res = await call('GET', `/v1/topics/${topic}/resolve?${query}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const target = res.body.target;
  return target && { version: target.version, pinned: target.pinned, sha256: target.record.sha256 };
}

async function fromCache(cache: S3FallbackCacheReader, topic: string, identity: Identity) {
  const hit = await cache.lookup(topic, identity);
  return hit ? { version: hit.version, pinned: hit.pinned, sha256: hit.record.sha256 } : null;
}

const IDENTITIES: Identity[] = [
  {},
  { app: 'checkout', region: US, node: 'n1' },
  { app: 'checkout', region: EU, node: 'n2' },
  { app: 'payments', region: EU, node: 'n3' },
  { app: 'payments', region: US, cluster: 'blue', node: 'n4' },
  { app: 'orders', region: EU, cluster: 'blue', node: 'n7' },
  { app: 'orders', region: US, node: 'n7' },
  { region: EU },
  { cluster: 'green', env: 'prod' },
];

describe('S3 fallback cache', () => {
  it('gives every identity the version the service resolves, scopes and pins honoured', async () => {
    const routes = 'fb.routes';
    const policy = 'fb.policy';
    await putTopic(routes);
    await putTopic(policy);
    const v1 = await publish(routes, 'global one', ['*']);
    const v2 = await publish(routes, 'eu canary '.repeat(200), ['region=eu-west-1']); // over the inline limit: S3
    await publish(routes, 'checkout us', ['app=checkout,region=us-east-1']);
    await publish(routes, 'global two', ['*']);
    const res = await call('POST', `/v1/topics/${routes}/versions/${v2}/scopes`, {
      scopes: ['cluster=blue'],
    });
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
    await pin(routes, 'app=payments', v1);
    await pin(routes, 'node=n7', v2);
    const p1 = await publish(policy, 'orders only', ['app=orders']);
    await publish(policy, 'orders eu', ['app=orders,region=eu-west-1']);
    await pin(policy, 'app=orders,node=n7', p1);

    const result = await writer('agreement/cache.json.gz').runOnce();
    expect(result.topics).toBeGreaterThanOrEqual(2);
    expect(result.bytes).toBeGreaterThan(0);

    // Asked from eu-west-1: its bucket has no copy (the writer writes the primary), so it falls through.
    const cache = reader({ key: 'agreement/cache.json.gz', region: EU });
    let pinnedSeen = 0;
    for (const topic of [routes, policy])
      for (const identity of IDENTITIES) {
        const expected = await served(topic, identity);
        expect(await fromCache(cache, topic, identity), `${topic} ${JSON.stringify(identity)}`).toEqual(
          expected,
        );
        if (expected?.pinned) pinnedSeen++;
      }
    expect(pinnedSeen).toBeGreaterThanOrEqual(3);
  });

  it('carries what a client needs to fetch the payload without the service', async () => {
    const topic = 'fb.payloads';
    await putTopic(topic);
    const large = 'x'.repeat(INLINE_LIMIT * 3);
    await publish(topic, 'small inline', ['app=small']);
    await publish(topic, large, ['app=large']);
    await writer('payloads/cache.json.gz').runOnce();
    const cache = reader({ key: 'payloads/cache.json.gz', region: US });

    const small = await cache.lookup(topic, { app: 'small' });
    expect(small?.record.pointer.kind).toBe('direct');
    if (small?.record.pointer.kind === 'direct')
      expect(Buffer.from(small.record.pointer.data).toString()).toBe('small inline');

    const big = await cache.lookup(topic, { app: 'large' });
    const pointer = big!.record.pointer;
    if (pointer.kind !== 's3') throw new Error(`expected an s3 pointer, got ${pointer.kind}`);
    expect(pointer.locations.map((l) => l.region).sort()).toEqual([EU, US]);
    for (const location of pointer.locations) {
      const object = await s3.client.send(
        new GetObjectCommand({ Bucket: location.bucket, Key: location.key }),
      );
      const bytes = await object.Body!.transformToByteArray();
      expect(sha256Hex(bytes)).toBe(big!.record.sha256);
      expect(bytes.byteLength).toBe(big!.record.size);
    }
  });

  it("reads the client's own region first, and passes over a region whose copy is corrupt", async () => {
    const topic = 'fb.regions';
    const key = 'regions/cache.json.gz';
    await putTopic(topic);
    await publish(topic, 'one', ['*']);
    await writer(key).runOnce();
    // Replicate this (older) cache to the eu bucket, as S3 replication would, then move the primary on.
    const primary = await s3.client.send(new GetObjectCommand({ Bucket: buckets.us, Key: key }));
    const older = await primary.Body!.transformToByteArray();
    await s3.client.send(
      new PutObjectCommand({ Bucket: buckets.eu, Key: key, Body: older, ContentLength: older.byteLength }),
    );
    const v2 = await publish(topic, 'two', ['*']);
    await writer(key).runOnce();

    expect((await reader({ key, region: EU }).lookup(topic, {}))?.version).toBe(v2 - 1);
    expect((await reader({ key, region: US }).lookup(topic, {}))?.version).toBe(v2);

    const garbage = new TextEncoder().encode('not a cache');
    await s3.client.send(
      new PutObjectCommand({
        Bucket: buckets.eu,
        Key: key,
        Body: garbage,
        ContentLength: garbage.byteLength,
      }),
    );
    const errors: unknown[] = [];
    const fromEu = reader({ key, region: EU, onError: (e) => errors.push(e) });
    expect((await fromEu.lookup(topic, {}))?.version).toBe(v2);
    expect(errors).toEqual([]);
  });

  it('re-reads S3 at most once per TTL, picking up the next write', async () => {
    const topic = 'fb.refresh';
    const key = 'refresh/cache.json.gz';
    await putTopic(topic);
    const v1 = await publish(topic, 'one', ['*']);
    const w = writer(key);
    await w.runOnce();
    const clock = new ManualClock();
    const errors: unknown[] = [];
    const cache = reader({ key, clock, cacheTtlMs: 60_000, onError: (e) => errors.push(e) });
    expect((await cache.lookup(topic, {}))?.version).toBe(v1);
    // Unchanged object: the conditional re-read (in the background of this lookup) keeps the document.
    clock.advance(60_000);
    expect((await cache.lookup(topic, {}))?.version).toBe(v1);
    await cache.idle();
    const v2 = await publish(topic, 'two', ['*']);
    await w.runOnce();
    clock.advance(59_999);
    expect((await cache.lookup(topic, {}))?.version).toBe(v1);
    await cache.idle();
    clock.advance(1);
    // Answered from the document at hand while the re-read runs; the next lookup sees the new write.
    expect((await cache.lookup(topic, {}))?.version).toBe(v1);
    await cache.idle();
    expect((await cache.lookup(topic, {}))?.version).toBe(v2);
    expect(errors).toEqual([]);
  });

  it('reports a cache that was never written as missing', async () => {
    const cache = reader({ key: 'nowhere/cache.json.gz', region: EU });
    await expect(cache.lookup('fb.routes', {})).rejects.toBeInstanceOf(FallbackCacheMissingError);
  });
});
