import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Identity, S3FallbackCacheReader } from '@meshpress/client';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  InMemoryClientMetrics,
  MeshpressClient,
  type MeshpressClientOptions,
} from '../../client/src/consumer/index.js';
import { S3BlobStore } from '../../server/src/blob/s3-blob-store.js';
import { SqliteConfigStore } from '../../server/src/store/sqlite/sqlite-config-store.js';
import { freePort, type S3Service, startS3, uniqueBucketName } from '../support/services/index.js';
import { http, startTestServer, type TestServer } from '../support/test-server.js';

/*
 * What a proxy starts with when things are down, against real parts: a server whose S3 blob store and
 * fallback cache live on s3rver, the client's S3 fallback cache reader, a local disk cache, and a server
 * restarted on the same data directory and port.
 */

const US = 'us-east-1';
const EU = 'eu-west-1';
const INLINE_LIMIT = 1024;

let s3: S3Service;
let server: TestServer;
let cacheDir: string;
let deadUrl: string;
let deadS3: string;
let blackHole: { url: string; close(): Promise<void> };
const buckets = { us: uniqueBucketName('resilience-us'), eu: uniqueBucketName('resilience-eu') };
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  s3 = await startS3();
  await s3.createBucket(buckets.us);
  await s3.createBucket(buckets.eu);
  const store = await SqliteConfigStore.open({ path: ':memory:' });
  const blobs = new S3BlobStore({
    buckets: [
      { region: US, bucket: buckets.us, endpoint: s3.endpoint, forcePathStyle: true },
      { region: EU, bucket: buckets.eu, endpoint: s3.endpoint, forcePathStyle: true },
    ],
    credentials: s3.credentials,
  });
  server = await startTestServer({ inlineLimitBytes: INLINE_LIMIT }, { store, blobs });
  deadUrl = `http://127.0.0.1:${await freePort()}`;
  deadS3 = `http://127.0.0.1:${await freePort()}`;
  blackHole = await startBlackHole();
});

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
});

afterAll(async () => {
  await blackHole?.close();
  await server?.dispose();
  await s3?.stop();
});

/** Accepts connections and never answers: a service that hangs rather than refuses. */
async function startBlackHole(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const hole: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => hole.listen(0, '127.0.0.1', resolve));
  const address = hole.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        hole.close(() => resolve());
      }),
  };
}

const call = (method: string, path: string, body?: unknown) => http(server.httpUrl, method, path, body);

async function putTopic(name: string): Promise<void> {
  const res = await call('PUT', `/v1/topics/${name}`, {});
  expect([200, 201], JSON.stringify(res.body)).toContain(res.status);
}

async function publish(base: string, topic: string, text: string, scopes: string[] = ['*']): Promise<number> {
  const res = await http(base, 'POST', `/v1/topics/${topic}/versions`, { payload: { text }, scopes });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.version;
}

async function pin(topic: string, scope: string, version: number): Promise<void> {
  const res = await call('PUT', `/v1/topics/${topic}/pins/${encodeURIComponent(scope)}`, { version });
  expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
}

async function resolved(topic: string, identity: Identity) {
  const query = new URLSearchParams(identity as Record<string, string>).toString();
  const res = await call('GET', `/v1/topics/${topic}/resolve?${query}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const target = res.body.target;
  return target ? { version: target.version as number, pinned: target.pinned as boolean } : undefined;
}

function fallbackReader(endpoint: string, region?: string): S3FallbackCacheReader {
  const reader = new S3FallbackCacheReader({
    buckets: [{ region: US, bucket: buckets.us, endpoint, forcePathStyle: true }],
    credentials: s3.credentials,
    requestTimeoutMs: 2_000,
    maxAttempts: 1,
    ...(region ? { region } : {}),
  });
  closers.push(() => reader.close());
  return reader;
}

const text = (data: Uint8Array) => Buffer.from(data).toString('utf8');

function client(options: Partial<MeshpressClientOptions> & { identity: Identity }) {
  const metrics = new InMemoryClientMetrics();
  const created = new MeshpressClient({
    servers: deadUrl,
    startupTimeoutMs: 3_000,
    retryBaseMs: 50,
    maxRetries: 2,
    requestTimeoutMs: 2_000,
    s3: { endpoint: s3.endpoint, forcePathStyle: true, credentials: s3.credentials },
    metrics,
    ...options,
  });
  closers.push(() => created.close());
  return { client: created, metrics };
}

describe('service down at startup', () => {
  it('starts each identity from the fallback cache, on the version the service would resolve', async () => {
    const topic = 'res.routes';
    await putTopic(topic);
    const v1 = await publish(server.httpUrl, topic, 'global one');
    const v2 = await publish(server.httpUrl, topic, 'eu canary '.repeat(200), ['region=eu-west-1']); // S3
    await publish(server.httpUrl, topic, 'checkout in us', ['app=checkout,region=us-east-1']);
    await publish(server.httpUrl, topic, 'global two');
    await publish(server.httpUrl, topic, 'orders only', ['app=orders']);
    await pin(topic, 'app=payments', v1);
    await pin(topic, 'node=n7', v2);
    await server.fallbackWriter!.runOnce();

    const identities: Identity[] = [
      { app: 'checkout', region: US, node: 'n1' },
      { app: 'checkout', region: EU, node: 'n2' },
      { app: 'payments', region: EU, node: 'n3' },
      { app: 'orders', region: US, node: 'n7' },
      { app: 'search', region: US, node: 'n5' },
    ];
    const bodies = new Map<number, string>();
    for (const version of [1, 2, 3, 4, 5]) {
      const res = await fetch(`${server.httpUrl}/v1/topics/${topic}/versions/${version}/data`);
      bodies.set(version, await res.text());
    }
    await Promise.all(
      identities.map(async (identity) => {
        const expected = await resolved(topic, identity);
        const { client: c, metrics } = client({
          identity,
          fallback: fallbackReader(s3.endpoint, identity.region),
        });
        const sub = c.subscribeAtomic(topic, { decode: text, defaultValue: 'default' });
        const report = await c.start();
        const who = JSON.stringify(identity);
        expect(report.subscriptions, who).toEqual([
          { topic, version: expected!.version, source: 'fallback-cache' },
        ]);
        expect(sub.state.pinned, who).toBe(expected!.pinned);
        expect(sub.current(), who).toBe(bodies.get(expected!.version));
        expect(metrics.count('fallbackUsed', { source: 'fallback-cache' }), who).toBe(1);
      }),
    );
  });

  it('a topic not published for this identity starts on the default', async () => {
    const topic = 'res.scoped';
    await putTopic(topic);
    await publish(server.httpUrl, topic, 'only for payments', ['app=payments']);
    await server.fallbackWriter!.runOnce();
    const { client: c } = client({
      identity: { app: 'checkout', node: 'n1' },
      fallback: fallbackReader(s3.endpoint),
    });
    const sub = c.subscribeAtomic(topic, { decode: text, defaultValue: 'default' });
    expect((await c.start()).subscriptions).toEqual([{ topic, version: undefined, source: 'default' }]);
    expect(sub.current()).toBe('default');
  });

  it('service and S3 down: starts from the disk cache of an earlier run', async () => {
    const topic = 'res.disk';
    await putTopic(topic);
    const big = 'cached routes '.repeat(200);
    const version = await publish(server.httpUrl, topic, big);
    cacheDir = await mkdtemp(join(tmpdir(), 'meshpress-client-cache-'));
    const identity = { app: 'checkout', region: EU, node: 'disk-1' };

    const earlier = client({ identity, servers: server.httpUrl, cacheDir });
    earlier.client.subscribeAtomic(topic, { decode: text, defaultValue: '' });
    expect((await earlier.client.start()).subscriptions).toEqual([{ topic, version, source: 'service' }]);
    await earlier.client.close();

    const { client: c, metrics } = client({
      identity,
      cacheDir,
      fallback: fallbackReader(deadS3),
      s3: { endpoint: deadS3, forcePathStyle: true, credentials: s3.credentials },
    });
    const sub = c.subscribeAtomic(topic, { decode: text, defaultValue: 'default' });
    expect((await c.start()).subscriptions).toEqual([{ topic, version, source: 'disk-cache' }]);
    expect(sub.current()).toBe(big);
    expect(metrics.count('fallbackUsed', { source: 'disk-cache' })).toBe(1);
  });

  it('nothing reachable: the default at once when everything refuses', async () => {
    cacheDir = await mkdtemp(join(tmpdir(), 'meshpress-client-cache-'));
    const started = Date.now();
    const { client: c, metrics } = client({
      identity: { app: 'checkout', node: 'n9' },
      cacheDir,
      fallback: fallbackReader(deadS3),
    });
    const sub = c.subscribeAtomic('res.nothing', { decode: text, defaultValue: 'default' });
    const report = await c.start();
    expect(report.subscriptions).toEqual([{ topic: 'res.nothing', version: undefined, source: 'default' }]);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(sub.current()).toBe('default');
    expect(metrics.count('fallbackUsed', { source: 'default' })).toBe(1);
  });

  it('nothing answering at all: startup returns at the bound, on the default', async () => {
    const started = Date.now();
    const { client: c } = client({
      identity: { app: 'checkout', node: 'n10' },
      servers: blackHole.url,
      fallback: fallbackReader(blackHole.url),
      startupTimeoutMs: 1_000,
      requestTimeoutMs: 10_000,
    });
    const sub = c.subscribeAtomic('res.hang', { decode: text, defaultValue: 'default' });
    const report = await c.start();
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(990);
    expect(elapsed).toBeLessThan(1_500);
    expect(report.ready).toBe(false);
    expect(sub.current()).toBe('default');
  });
});

describe('service returns', () => {
  it.each(['rest', 'grpc'] as const)('%s: the client recovers within one interval', async (transport) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'meshpress-restart-'));
    closers.push(() => rm(dataDir, { recursive: true, force: true }));
    // Embedded mode: payloads above the inline limit are `local` pointers, fetched through the service.
    let embedded = await startTestServer({ inlineLimitBytes: INLINE_LIMIT }, {}, dataDir);
    const ports = { httpPort: embedded.httpPort, grpcPort: embedded.grpcPort };
    closers.push(() => embedded.close());
    const topic = `res.restart.${transport}`;
    expect((await http(embedded.httpUrl, 'PUT', `/v1/topics/${topic}`, {})).status).toBe(201);
    await publish(embedded.httpUrl, topic, 'before the outage '.repeat(100));

    const interval = 1_000;
    const { client: c } = client({
      identity: { app: 'checkout', node: 'restart' },
      servers: transport === 'rest' ? embedded.httpUrl : embedded.grpcAddress,
      pollIntervalMs: interval,
      retryBaseMs: 100,
      retryCapMs: 2_000,
    });
    const sub = c.subscribeAtomic(topic, { decode: text, defaultValue: 'default' });
    expect((await c.start()).subscriptions[0]).toMatchObject({ version: 1, source: 'service' });

    await embedded.close();
    await vi.waitFor(() => expect(c.consecutivePollFailures).toBeGreaterThanOrEqual(3), {
      timeout: 5_000,
      interval: 20,
    });
    expect(sub.current()).toBe('before the outage '.repeat(100));

    embedded = await startTestServer({ inlineLimitBytes: INLINE_LIMIT, ...ports }, {}, dataDir);
    const returnedAt = Date.now();
    await vi.waitFor(() => expect(c.consecutivePollFailures).toBe(0), { timeout: 5_000, interval: 5 });
    // Retries never wait longer than the interval; the margin is the poll's own round trip.
    expect(Date.now() - returnedAt).toBeLessThan(interval + 500);

    const publishedAt = Date.now();
    await publish(embedded.httpUrl, topic, 'after the outage '.repeat(100));
    await vi.waitFor(() => expect(sub.version).toBe(2), { timeout: 5_000, interval: 10 });
    expect(Date.now() - publishedAt).toBeLessThan(interval * 1.1 + 500);
    expect(sub.current()).toBe('after the outage '.repeat(100));
  });
});
