import { PutObjectCommand } from '@aws-sdk/client-s3';
import { sha256Hex, TopicNotFoundError, ValidationError, VersionNotFoundError } from '@meshpress/client';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  GrpcTransport,
  InMemoryClientMetrics,
  MeshpressClient,
  type MeshpressClientOptions,
  type PollTransport,
  RestTransport,
} from '../../client/src/consumer/index.js';
import { S3BlobStore } from '../../server/src/blob/s3-blob-store.js';
import { SqliteConfigStore } from '../../server/src/store/sqlite/sqlite-config-store.js';
import { CapturingLogger } from '../support/capturing-logger.js';
import { type S3Service, startS3, uniqueBucketName } from '../support/services/index.js';
import { http, startTestServer, type TestServer } from '../support/test-server.js';

/*
 * The consumer library against a real server (SQLite, S3 blob store on s3rver with a bucket per region),
 * over REST and gRPC: versions published through the REST API reach subscriptions, S3 copies are read
 * nearest region first, and corrupt bytes never replace a good value.
 */

const US = 'us-east-1';
const EU = 'eu-west-1';
const INLINE_LIMIT = 1024;

let s3: S3Service;
let server: TestServer;
const buckets = { [US]: uniqueBucketName('client-us'), [EU]: uniqueBucketName('client-eu') };
const clients: MeshpressClient[] = [];

beforeAll(async () => {
  s3 = await startS3();
  await s3.createBucket(buckets[US]);
  await s3.createBucket(buckets[EU]);
  const store = await SqliteConfigStore.open({ path: ':memory:' });
  const blobs = new S3BlobStore({
    buckets: [
      { region: US, bucket: buckets[US], endpoint: s3.endpoint, forcePathStyle: true },
      { region: EU, bucket: buckets[EU], endpoint: s3.endpoint, forcePathStyle: true },
    ],
    credentials: s3.credentials,
  });
  server = await startTestServer({ inlineLimitBytes: INLINE_LIMIT }, { store, blobs });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await server?.dispose();
  await s3?.stop();
});

const call = (method: string, path: string, body?: unknown) => http(server.httpUrl, method, path, body);

async function putTopic(name: string): Promise<void> {
  const res = await call('PUT', `/v1/topics/${name}`, {});
  expect([200, 201], JSON.stringify(res.body)).toContain(res.status);
}

async function publish(topic: string, text: string, scopes: string[] = ['*']): Promise<number> {
  const res = await call('POST', `/v1/topics/${topic}/versions`, { payload: { text }, scopes });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.version;
}

/** Puts `data` at `key` in the given regions' buckets, behind the server's back. */
async function putObject(regions: string[], key: string, data: Uint8Array): Promise<void> {
  for (const region of regions)
    await s3.client.send(
      new PutObjectCommand({
        Bucket: buckets[region as keyof typeof buckets],
        Key: key,
        Body: data,
        ContentLength: data.byteLength,
      }),
    );
}

/** Lines the client logged, for asserting where bytes came from. */
class SourceLogger extends CapturingLogger {
  appliedFrom(topic: string, version: number): unknown {
    return this.lines.find(
      (l) => l.msg === 'version applied' && l.obj.topic === topic && l.obj.version === version,
    )?.obj.from;
  }
}

const decodeText = (data: Uint8Array) => Buffer.from(data).toString('utf8');

function client(
  transport: 'rest' | 'grpc',
  options: Partial<MeshpressClientOptions> = {},
): { client: MeshpressClient; metrics: InMemoryClientMetrics; logger: SourceLogger } {
  const metrics = new InMemoryClientMetrics();
  const logger = new SourceLogger();
  const created = new MeshpressClient({
    identity: { app: 'checkout', region: EU, node: `node-${clients.length}` },
    servers: transport === 'rest' ? server.httpUrl : server.grpcAddress,
    pollMode: 'long-poll',
    longPollWaitMs: 5_000,
    startupTimeoutMs: 3_000,
    s3: { endpoint: s3.endpoint, forcePathStyle: true, credentials: s3.credentials },
    metrics,
    logger,
    principal: 'integration',
    ...options,
  });
  clients.push(created);
  return { client: created, metrics, logger };
}

describe.each(['rest', 'grpc'] as const)('over %s', (transport) => {
  it('starts with the published version, then applies each new one within moments (long-poll)', async () => {
    const topic = `cc.${transport}.basic`;
    const other = `cc.${transport}.other`;
    await putTopic(topic);
    await putTopic(other);
    await publish(topic, 'one');
    await publish(other, 'first of the other topic');
    const { client: c, metrics } = client(transport);
    const sub = c.subscribeAtomic(topic, { decode: decodeText, defaultValue: 'default' });
    const seen: number[] = [];
    c.subscribe(other, (version) => {
      seen.push(version);
    });

    const report = await c.start();
    expect(report.ready).toBe(true);
    expect(report.subscriptions).toContainEqual({ topic, version: 1, source: 'service' });
    expect(sub.current()).toBe('one');
    expect(seen).toEqual([1]);

    const publishedAt = Date.now();
    const v2 = await publish(topic, 'two');
    await vi.waitFor(() => expect(sub.current()).toBe('two'), { timeout: 3_000, interval: 10 });
    expect(Date.now() - publishedAt).toBeLessThan(1_500);
    expect(sub.state).toMatchObject({ version: v2, source: 'service' });
    expect(metrics.count('updatesApplied', { topic })).toBe(2);
    expect(metrics.count('polls', { outcome: 'error' })).toBe(0);
    expect(c.secondsSinceLastSuccessfulPoll()).toBeLessThan(6);
  });

  it('follows a pin back to an older version, and forward again when it is removed', async () => {
    const topic = `cc.${transport}.pin`;
    await putTopic(topic);
    const v1 = await publish(topic, 'one');
    const v2 = await publish(topic, 'two');
    const { client: c } = client(transport);
    const sub = c.subscribeAtomic(topic, { decode: decodeText, defaultValue: 'default' });
    await c.start();
    expect(sub.state).toMatchObject({ value: 'two', version: v2, pinned: false });

    let res = await call('PUT', `/v1/topics/${topic}/pins/app%3Dcheckout`, {
      version: v1,
      reason: 'rollback',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    await vi.waitFor(() => expect(sub.state).toMatchObject({ value: 'one', version: v1, pinned: true }), {
      timeout: 3_000,
      interval: 10,
    });

    res = await call('DELETE', `/v1/topics/${topic}/pins/app%3Dcheckout`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    await vi.waitFor(() => expect(sub.state).toMatchObject({ value: 'two', version: v2, pinned: false }), {
      timeout: 3_000,
      interval: 10,
    });
  });

  it('downloads payloads above the inline limit from S3, own region first', async () => {
    const topic = `cc.${transport}.s3`;
    await putTopic(topic);
    const big = 'routes '.repeat(INLINE_LIMIT);
    const version = await publish(topic, big);
    const eu = client(transport);
    const us = client(transport, { identity: { app: 'checkout', region: US, node: 'us-1' } });
    const euSub = eu.client.subscribeAtomic(topic, { decode: decodeText, defaultValue: '' });
    const usSub = us.client.subscribeAtomic(topic, { decode: decodeText, defaultValue: '' });
    await Promise.all([eu.client.start(), us.client.start()]);
    expect(euSub.current()).toBe(big);
    expect(usSub.current()).toBe(big);
    expect(eu.logger.appliedFrom(topic, version)).toBe(`s3:${EU}`);
    expect(us.logger.appliedFrom(topic, version)).toBe(`s3:${US}`);
  });

  it('passes over a region whose copy is corrupt and uses the next one', async () => {
    const topic = `cc.${transport}.region-corrupt`;
    await putTopic(topic);
    const payload = `${transport} region test `.repeat(200);
    const sha = sha256Hex(Buffer.from(payload));
    // A same-size object of other bytes already at the content address in us-east-1: the server keeps it.
    await putObject([US], `blobs/${sha}`, Buffer.from('X'.repeat(Buffer.byteLength(payload))));
    const version = await publish(topic, payload);
    const us = client(transport, { identity: { app: 'checkout', region: US, node: 'us-2' } });
    const sub = us.client.subscribeAtomic(topic, { decode: decodeText, defaultValue: '' });
    await us.client.start();
    expect(sub.current()).toBe(payload);
    expect(us.logger.appliedFrom(topic, version)).toBe(`s3:${EU}`);
  });

  it('rejects a version whose every copy is corrupt and keeps the previous value', async () => {
    const topic = `cc.${transport}.corrupt`;
    await putTopic(topic);
    await publish(topic, 'good one');
    const { client: c, metrics } = client(transport);
    const sub = c.subscribeAtomic(topic, { decode: decodeText, defaultValue: 'default' });
    await c.start();
    expect(sub.current()).toBe('good one');

    const payload = `${transport} corrupt `.repeat(300);
    const sha = sha256Hex(Buffer.from(payload));
    await putObject([US, EU], `blobs/${sha}`, Buffer.from('Y'.repeat(Buffer.byteLength(payload))));
    await publish(topic, payload);
    await vi.waitFor(
      () => expect(metrics.count('versionsRejected', { topic, reason: 'integrity' })).toBe(1),
      {
        timeout: 5_000,
        interval: 20,
      },
    );
    expect(sub.state).toMatchObject({ value: 'good one', version: 1 });
    // Polls keep reporting the version the node really runs, so the server can see it is behind.
    await vi.waitFor(
      async () => {
        const res = await call('GET', `/v1/topics/${topic}/consumers`);
        expect(res.body.distribution).toEqual([{ version: 1, nodes: 1 }]);
      },
      { timeout: 5_000, interval: 100 },
    );

    // The next good version is applied as usual.
    const v3 = await publish(topic, 'good three');
    await vi.waitFor(() => expect(sub.version).toBe(v3), { timeout: 3_000, interval: 10 });
    expect(sub.current()).toBe('good three');
    expect(metrics.count('versionsRejected', { topic, reason: 'integrity' })).toBe(1);
  });

  it('rejects an S3 pointer whose sha256 does not match the object', async () => {
    const topic = `cc.${transport}.bad-pointer`;
    await putTopic(topic);
    await publish(topic, 'inline before');
    const { client: c, metrics } = client(transport);
    const sub = c.subscribeAtomic(topic, { decode: decodeText, defaultValue: 'default' });
    await c.start();

    const object = Buffer.from(`${transport} object in s3`);
    const key = `external/${topic}`;
    await putObject([EU], key, object);
    const res = await call('POST', `/v1/topics/${topic}/versions`, {
      payload: {
        s3: {
          locations: [{ region: EU, bucket: buckets[EU], key }],
          size: object.byteLength,
          sha256: sha256Hex(Buffer.from('what the publisher meant to point at')),
        },
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    await vi.waitFor(
      () => expect(metrics.count('versionsRejected', { topic, reason: 'integrity' })).toBe(1),
      {
        timeout: 5_000,
        interval: 20,
      },
    );
    expect(sub.state).toMatchObject({ value: 'inline before', version: 1 });
  });

  it('starts from an older version when the newest one will not decode (history)', async () => {
    const topic = `cc.${transport}.history`;
    await putTopic(topic);
    await publish(topic, '{"ok":1}');
    await publish(topic, '{"ok":2}', ['app=checkout']);
    await publish(topic, '{"ok":3}', ['app=payments']);
    await publish(topic, 'not json', ['*']);
    const { client: c } = client(transport);
    const sub = c.subscribeAtomic(topic, {
      decode: (data) => JSON.parse(decodeText(data)) as { ok: number },
      defaultValue: { ok: 0 },
    });
    const report = await c.start();
    expect(report.subscriptions).toEqual([{ topic, version: 2, source: 'history' }]);
    expect(sub.current()).toEqual({ ok: 2 });
  });

  it('maps server errors to the same error classes', async () => {
    const topic = `cc.${transport}.errors`;
    await putTopic(topic);
    await publish(topic, 'one');
    const wire: PollTransport =
      transport === 'rest'
        ? new RestTransport({ urls: [server.httpUrl] })
        : new GrpcTransport({ addresses: [server.grpcAddress] });
    try {
      const signal = new AbortController().signal;
      const invalid = await wire
        .poll({ identity: {}, topics: [{ topic: 'Not A Topic' }], signal })
        .catch((e: unknown) => e);
      expect(invalid).toBeInstanceOf(ValidationError);
      expect((invalid as ValidationError).issues[0]?.path).toBe('topics.0.topic');
      await expect(wire.fetchData(topic, 99, signal)).rejects.toBeInstanceOf(VersionNotFoundError);
      await expect(wire.history('cc.no.such.topic', undefined, 10, signal)).rejects.toBeInstanceOf(
        TopicNotFoundError,
      );
      expect((await wire.history(topic, undefined, 10, signal)).map((r) => r.version)).toEqual([1]);
      expect(Buffer.from(await wire.fetchData(topic, 1, signal)).toString()).toBe('one');
    } finally {
      await wire.close();
    }
  });
});
