import { randomBytes } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { DEFAULT_FALLBACK_CACHE_KEY, decodeFallbackCache, type FallbackDocument } from '@meshpress/client';
import { Client as CassandraClient } from 'cassandra-driver';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ServerConfig } from '../../server/src/config.js';
import { FALLBACK_WRITER_TASK } from '../../server/src/tasks/fallback-writer.js';
import {
  type CassandraService,
  type RedisService,
  type S3Service,
  startCassandra,
  startRedis,
  startS3,
  uniqueBucketName,
} from '../support/services/index.js';
import { http, startTestServer, type TestServer } from '../support/test-server.js';

/*
 * Distributed mode end to end: two real server instances, A and B, each configured the way an operator
 * would (store 'cassandra', redisUrl, blobStore 's3'), on one real Cassandra (a fresh keyspace), one real
 * Redis and s3rver (two regional buckets). Everything goes through the REST API.
 *
 * The two instances refresh their caches at very different rates so that each observation has a single
 * explanation: B re-reads the store only every 60 s, so B seeing a change within a second can only be the
 * Redis notification; A re-reads every 1.5 s, which is what carries changes to it while Redis is down.
 */

const A_REFRESH_MS = 1_500;
const B_REFRESH_MS = 60_000;
const FALLBACK_INTERVAL_MS = 1_000;
const LAG_GRACE_MS = 200;
const INLINE_LIMIT = 1_024;
const US = 'us-east-1';
const EU = 'eu-west-1';
/** What RedisChangeBus subscribes to with the default `redisPrefix`. */
const CHANGES_CHANNEL = 'meshpress:changes';

const keyspace = `mp_distributed_${randomBytes(4).toString('hex')}`;
const buckets = { us: uniqueBucketName('dist-us'), eu: uniqueBucketName('dist-eu') };

/** A server instance with the log lines it wrote (the fallback writer reports each write there). */
interface Instance {
  readonly id: string;
  readonly server: TestServer;
  readonly fallbackWrites: number[];
  readonly problems: string[];
}

let cassandra: CassandraService;
let redis: RedisService;
let s3: S3Service;
/** Test-side Redis connection for looking at what the instances hold there. */
let inspector: Redis;
let a: Instance;
let b: Instance;
const instances: Instance[] = [];
const savedEnv = { ...process.env };

beforeAll(async () => {
  [cassandra, redis, s3] = await Promise.all([startCassandra(), startRedis(), startS3()]);
  await Promise.all([s3.createBucket(buckets.us), s3.createBucket(buckets.eu)]);
  // The server's S3 clients take credentials from the SDK's default chain, as they would from an IAM role.
  process.env.AWS_ACCESS_KEY_ID = s3.credentials.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = s3.credentials.secretAccessKey;
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  inspector = new Redis(redis.url, { maxRetriesPerRequest: 1, lazyConnect: true });
  // A brand-new keyspace is created and migrated by one instance alone (docs/cassandra.md): A first, then B.
  a = await startInstance('instance-a', A_REFRESH_MS);
  b = await startInstance('instance-b', B_REFRESH_MS);
});

afterAll(async () => {
  await Promise.allSettled(instances.map((i) => i.server.dispose()));
  inspector?.disconnect();
  if (cassandra) await dropKeyspace();
  await Promise.allSettled([redis?.stop(), s3?.stop(), cassandra?.stop()]);
  process.env = savedEnv;
});

async function startInstance(id: string, refreshIntervalMs: number): Promise<Instance> {
  const fallbackWrites: number[] = [];
  const problems: string[] = [];
  const logger = pino(
    { level: 'info', base: { instance: id } },
    {
      write(line: string) {
        if (line.includes('"fallback cache written"')) fallbackWrites.push(Date.now());
        // Kept for failure messages only.
        if (/"level":(40|50|60)/.test(line)) problems.push(line.slice(0, 500));
      },
    },
  );
  const config: Partial<ServerConfig> = {
    instanceId: id,
    roles: ['publish', 'consume', 'tasks'],
    store: 'cassandra',
    // These two entries are parsed from their environment-variable form only (see the file's report):
    // the array that ServerConfig declares fails validation when handed back to startServer.
    cassandraContactPoints: cassandra.contactPoints.join(',') as unknown as string[],
    s3Buckets: `${US}:${buckets.us},${EU}:${buckets.eu}` as unknown as ServerConfig['s3Buckets'],
    cassandraLocalDc: cassandra.localDataCenter,
    cassandraPort: cassandra.port,
    cassandraKeyspace: keyspace,
    cassandraReplication: 'SimpleStrategy:1',
    cassandraProtocolVersion: 3,
    redisUrl: redis.url,
    blobStore: 's3',
    s3Endpoint: s3.endpoint,
    s3ForcePathStyle: true,
    inlineLimitBytes: INLINE_LIMIT,
    refreshIntervalMs,
    fallbackIntervalMs: FALLBACK_INTERVAL_MS,
    consumerLagGraceMs: LAG_GRACE_MS,
  };
  const server = await startTestServer(config, { logger });
  const instance = { id, server, fallbackWrites, problems };
  instances.push(instance);
  return instance;
}

async function dropKeyspace(): Promise<void> {
  // Matters on a shared Cassandra (MESHPRESS_TEST_CASSANDRA_URL); a local daemon goes away whole.
  const admin = new CassandraClient({
    contactPoints: cassandra.contactPoints,
    localDataCenter: cassandra.localDataCenter,
    protocolOptions: { port: cassandra.port },
  });
  try {
    await admin.connect();
    await admin.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  } catch {
    // Best effort: the daemon may already be gone.
  } finally {
    await admin.shutdown();
  }
}

let topicCounter = 0;
const uniqueTopic = (label: string) => `dist.${label}.${++topicCounter}.${randomBytes(3).toString('hex')}`;

async function createTopic(on: Instance, topic: string): Promise<void> {
  const res = await http(on.server.httpUrl, 'PUT', `/v1/topics/${topic}`, {});
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}

type Payload = { text: string } | { base64: string };

async function publish(on: Instance, topic: string, payload: Payload): Promise<number> {
  const res = await http(on.server.httpUrl, 'POST', `/v1/topics/${topic}/versions`, { payload });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.version;
}

interface PollResult {
  readonly status: number;
  readonly version: number | undefined;
  readonly update: any;
  /** When the response arrived (epoch ms). */
  readonly at: number;
}

async function poll(
  on: Instance,
  topic: string,
  options: { node?: string; currentVersion?: number; waitMs?: number; region?: string } = {},
): Promise<PollResult> {
  const res = await http(on.server.httpUrl, 'POST', '/v1/poll', {
    identity: { app: 'edge', region: options.region ?? US, node: options.node ?? 'edge-0' },
    topics: [
      options.currentVersion === undefined ? { topic } : { topic, currentVersion: options.currentVersion },
    ],
    waitMs: options.waitMs ?? 0,
  });
  // A poll never fails, whatever state Redis is in: 200 with the update, or 204 when there is none.
  expect([200, 204], JSON.stringify(res.body)).toContain(res.status);
  const update = res.status === 200 ? res.body.updates[0] : undefined;
  return { status: res.status, version: update?.version, update, at: Date.now() };
}

/**
 * Waits (up to 1 s) until a first poll on `on` answers `version`. An instance answers from the view it
 * has while a notified refresh runs, so the very next poll may still get the previous one.
 */
async function sees(on: Instance, topic: string, version: number, node?: string): Promise<void> {
  await vi.waitFor(
    async () => expect((await poll(on, topic, node === undefined ? {} : { node })).version).toBe(version),
    { timeout: 1_000, interval: 20 },
  );
}

/**
 * Starts a long-poll on `on` and returns once the instance holds it, so that what the test does next
 * happens while the poll waits. (Wrapped: an async function returning a promise would await it.)
 */
async function heldPoll(
  on: Instance,
  topic: string,
  currentVersion: number,
  waitMs = 5_000,
): Promise<{ result: Promise<PollResult> }> {
  const held = on.server.service.heldPolls;
  const result = poll(on, topic, { currentVersion, waitMs });
  await vi.waitFor(() => expect(on.server.service.heldPolls).toBe(held + 1), { timeout: 2_000, interval: 5 });
  return { result };
}

async function history(on: Instance, topic: string): Promise<number[]> {
  const versions: number[] = [];
  let before: number | undefined;
  for (;;) {
    const query = `limit=1000${before === undefined ? '' : `&before=${before}`}`;
    const res = await http(on.server.httpUrl, 'GET', `/v1/topics/${topic}/versions?${query}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    versions.push(...res.body.versions.map((v: { version: number }) => v.version));
    if (res.body.nextBefore === undefined) return versions;
    before = res.body.nextBefore;
  }
}

async function fallbackDocument(): Promise<FallbackDocument | undefined> {
  try {
    const object = await s3.client.send(
      new GetObjectCommand({ Bucket: buckets.us, Key: DEFAULT_FALLBACK_CACHE_KEY }),
    );
    return await decodeFallbackCache(await object.Body!.transformToByteArray());
  } catch (error) {
    if ((error as { name?: string }).name === 'NoSuchKey') return undefined;
    throw error;
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('two instances on one Cassandra, one Redis and S3', () => {
  it('a publish on A is in a poll on B within 1 s, and wakes a long-poll held on B within 1 s', async () => {
    const topic = uniqueTopic('notify');
    await createTopic(a, topic);
    const v1 = await publish(a, topic, { text: 'v1' });
    // B has the topic cached from here on; its cache only changes by notification (or in 60 s).
    await sees(b, topic, v1);

    const v2 = await publish(a, topic, { text: 'v2' });
    const publishedAt = Date.now();
    await vi.waitFor(async () => expect((await poll(b, topic, { currentVersion: v1 })).version).toBe(v2), {
      timeout: 1_000,
      interval: 20,
    });
    expect(Date.now() - publishedAt).toBeLessThan(1_000);

    // Above the inline limit: the payload goes to S3 (both regional buckets) and B serves it from there.
    const payload = randomBytes(16 * INLINE_LIMIT);
    const waiting = await heldPoll(b, topic, v2);
    const v3 = await publish(a, topic, { base64: payload.toString('base64') });
    const published3At = Date.now();
    const woken = await waiting.result;
    expect(woken.version).toBe(v3);
    // Negative when B woke before A's response reached the test: notification precedes the reply.
    expect(woken.at - published3At).toBeLessThan(1_000);
    expect(woken.update.record.pointer.kind).toBe('s3');
    expect(
      woken.update.record.pointer.locations.map((l: { region: string; bucket: string }) => [
        l.region,
        l.bucket,
      ]),
    ).toEqual(
      expect.arrayContaining([
        [US, buckets.us],
        [EU, buckets.eu],
      ]),
    );
    const data = await fetch(`${b.server.httpUrl}/v1/topics/${topic}/versions/${v3}/data`);
    expect(data.status).toBe(200);
    expect(Buffer.from(await data.arrayBuffer()).equals(payload)).toBe(true);
  });

  it('with Redis down, changes still reach the other instance by periodic refresh, no request fails, and notifications resume when Redis returns', async () => {
    const { down, up } = redis;
    if (!down || !up) throw new Error('this test needs a Redis it can stop: unset MESHPRESS_TEST_REDIS_URL');
    const topic = uniqueTopic('outage');
    await createTopic(a, topic);
    const v1 = await publish(a, topic, { text: 'v1' });
    for (const on of [a, b]) await sees(on, topic, v1);

    await down();
    let v3: number;
    try {
      // B publishes; A (1.5 s refresh) has no notification to go by, only its periodic re-read.
      const waiting = await heldPoll(a, topic, v1);
      const publishStarted = Date.now();
      const v2 = await publish(b, topic, { text: 'published while Redis is down' });
      const publishedAt = Date.now();
      // The lost notification neither fails nor holds up the publisher's request.
      expect(publishedAt - publishStarted).toBeLessThan(1_000);
      const woken = await waiting.result;
      expect(woken.version).toBe(v2);
      // One refresh interval, plus the time a refresh round takes.
      expect(woken.at - publishedAt).toBeLessThan(A_REFRESH_MS + 500);

      // Every other request on either instance answers normally too.
      expect((await poll(b, topic, { currentVersion: v1 })).version).toBe(v2); // read-your-writes on B
      v3 = await publish(a, topic, { text: 'x'.repeat(2 * INLINE_LIMIT) }); // to S3, which is up
      expect((await poll(a, topic, { currentVersion: v2 })).version).toBe(v3);
      await poll(b, topic, { currentVersion: v2, waitMs: 200 });
      for (const on of [a, b]) {
        expect((await http(on.server.httpUrl, 'GET', `/v1/topics/${topic}`)).status).toBe(200);
        expect((await history(on, topic)).slice(0, 3)).toEqual([v3, v2, v1]);
      }
    } finally {
      await up();
    }

    // Both subscribers are back on the channel and A's publishing connection is up again.
    await vi.waitFor(
      async () => {
        const [, subscribers] = (await inspector.pubsub('NUMSUB', CHANGES_CHANNEL)) as [string, number];
        expect(subscribers).toBe(2);
        expect(String(await inspector.client('LIST'))).toContain(`name=${a.id}-bus-pub`);
      },
      { timeout: 10_000, interval: 50 },
    );
    // B re-reads the store only every 60 s, so this wake-up is the notification again.
    const waiting = await heldPoll(b, topic, v3);
    const v4 = await publish(a, topic, { text: 'after Redis returned' });
    const publishedAt = Date.now();
    const woken = await waiting.result;
    expect(woken.version).toBe(v4);
    expect(woken.at - publishedAt).toBeLessThan(1_000);
  });

  it('2,000 publishes spread over both instances give versions 1..2000, no duplicate and no gap', async () => {
    const topic = uniqueTopic('allocation');
    await createTopic(a, topic);
    const total = 2_000;
    const inFlight = 24;
    const returned: number[] = [];
    const failed: string[] = [];
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < total; i = next++) {
        // Alternate instances: each has about 12 publishes in flight throughout.
        const on = i % 2 === 0 ? a : b;
        const res = await http(on.server.httpUrl, 'POST', `/v1/topics/${topic}/versions`, {
          payload: { text: `publish ${i}` },
        });
        if (res.status === 201) returned.push(res.body.version);
        else failed.push(`${on.id}: ${res.status} ${JSON.stringify(res.body)}`);
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));

    // The history, read through either instance, holds every version once: nothing lost, nothing doubled.
    const expected = range(1, total);
    for (const on of [a, b]) {
      const listed = await history(on, topic);
      const seen = new Set(listed);
      expect({
        failedPublishes: failed,
        duplicates: listed.filter((v, i) => listed.indexOf(v) !== i),
        missing: expected.filter((v) => !seen.has(v)),
        beyond: listed.filter((v) => v > total),
        newestFirst: listed.every((v, i) => i === 0 || listed[i - 1]! > v),
      }).toEqual({ failedPublishes: [], duplicates: [], missing: [], beyond: [], newestFirst: true });
    }
    expect([...returned].sort((x, y) => x - y)).toEqual(expected);
    await sees(b, topic, total);
  }, 75_000);

  it('the consumer status on either instance counts nodes polling through both and names the one that lags', async () => {
    const topic = uniqueTopic('consumers');
    await createTopic(a, topic);
    const v1 = await publish(a, topic, { text: 'v1' });
    const v2 = await publish(b, topic, { text: 'v2' });
    // Both instances target v2 before any node reports, so "behind its target" means behind v2.
    for (const on of [a, b]) await sees(on, topic, v2, 'probe');

    await poll(a, topic, { node: 'edge-1', currentVersion: v2 });
    await poll(b, topic, { node: 'edge-2', currentVersion: v2 });
    await poll(b, topic, { node: 'edge-stuck', currentVersion: v1, region: EU });

    const status = async (on: Instance) => {
      const res = await http(on.server.httpUrl, 'GET', `/v1/topics/${topic}/consumers`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body;
    };
    for (const on of [a, b])
      await vi.waitFor(
        async () => {
          const body = await status(on);
          // 'probe' polled without a current version: it counts as a node that has consumed nothing.
          expect(body.total).toBe(4);
          expect(body.distribution).toEqual([
            { version: v2, nodes: 2 },
            { version: v1, nodes: 1 },
            { version: null, nodes: 1 },
          ]);
          const stuck = body.lagging.find((n: { node: string }) => n.node === 'edge-stuck');
          expect(stuck).toMatchObject({ currentVersion: v1, targetVersion: v2, region: EU });
          expect(body.lagging.map((n: { node: string }) => n.node)).not.toContain('edge-1');
          expect(body.lagging.map((n: { node: string }) => n.node)).not.toContain('edge-2');
        },
        { timeout: 5_000, interval: 100 },
      );

    // It catches up through the other instance: both instances stop naming it.
    await poll(a, topic, { node: 'edge-stuck', currentVersion: v2, region: EU });
    for (const on of [a, b])
      await vi.waitFor(
        async () => {
          const body = await status(on);
          expect(body.lagging.map((n: { node: string }) => n.node)).not.toContain('edge-stuck');
          expect(body.distribution[0]).toEqual({ version: v2, nodes: 3 });
        },
        { timeout: 5_000, interval: 100 },
      );
  });

  it('the fallback writer runs on exactly one instance and moves to the other when its holder stops', async () => {
    const topic = uniqueTopic('fallback');
    await createTopic(a, topic);
    const version = await publish(b, topic, { text: 'in the fallback cache' });

    // Both instances run the task every second; over three writes, only one of them writes.
    const before = new Map(instances.map((i) => [i, i.fallbackWrites.length]));
    const writesSince = (i: Instance) => i.fallbackWrites.length - (before.get(i) ?? 0);
    await vi.waitFor(() => expect(writesSince(a) + writesSince(b)).toBeGreaterThanOrEqual(3), {
      timeout: 8_000,
      interval: 50,
    });
    const holder = writesSince(a) > 0 ? a : b;
    const other = holder === a ? b : a;
    expect(writesSince(other), other.problems.join('\n')).toBe(0);
    expect(await inspector.get(`meshpress:task:${FALLBACK_WRITER_TASK}`)).toBe(holder.id);
    // What the writer put in S3 names it and holds the topic, whichever instance it was published on.
    await vi.waitFor(
      async () => {
        const doc = await fallbackDocument();
        expect(doc?.writer).toBe(holder.id);
        const cached = doc?.topics.find((t) => t.topic.name === topic);
        expect(cached?.versions.map((v) => v.version)).toEqual([version]);
      },
      { timeout: 5_000, interval: 100 },
    );

    const stoppedAt = Date.now();
    await holder.server.dispose();
    const otherBefore = other.fallbackWrites.length;
    await vi.waitFor(
      async () => {
        expect(other.fallbackWrites.length).toBeGreaterThan(otherBefore);
        const doc = await fallbackDocument();
        expect(doc?.writer).toBe(other.id);
        expect(doc?.generatedAt).toBeGreaterThan(stoppedAt);
        expect(doc?.topics.map((t) => t.topic.name)).toContain(topic);
      },
      { timeout: 5_000, interval: 50 },
    );
    expect(await inspector.get(`meshpress:task:${FALLBACK_WRITER_TASK}`)).toBe(other.id);

    // The stopped instance comes back: the task stays where it is, still on exactly one instance.
    const restarted = await startInstance(holder.id, holder === a ? A_REFRESH_MS : B_REFRESH_MS);
    const otherWrites = other.fallbackWrites.length;
    await vi.waitFor(() => expect(other.fallbackWrites.length).toBeGreaterThanOrEqual(otherWrites + 3), {
      timeout: 8_000,
      interval: 50,
    });
    expect(restarted.fallbackWrites).toHaveLength(0);
    expect((await fallbackDocument())?.writer).toBe(other.id);
  });
});
