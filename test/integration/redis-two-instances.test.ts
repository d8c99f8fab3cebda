import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisChangeBus } from '../../server/src/bus/redis-change-bus.js';
import { type RedisService, startRedis } from '../support/services/index.js';
import { http, startTestServer, type TestServer } from '../support/test-server.js';

// Two server instances on one store (a shared SQLite file stands in for Cassandra here) and one Redis:
// what the Redis change bus adds to the service, end to end over REST.

let redis: RedisService;
let dataDir: string;
const servers: TestServer[] = [];

beforeAll(async () => {
  redis = await startRedis();
  dataDir = await mkdtemp(join(tmpdir(), 'meshpress-two-instances-'));
});

afterAll(async () => {
  await redis?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.dispose()));
});

async function instance(name: string, channel: string, refreshIntervalMs: number): Promise<TestServer> {
  const bus = new RedisChangeBus({
    url: redis.url,
    channel,
    maxReconnectDelayMs: 100,
    connectTimeoutMs: 500,
  });
  await bus.waitUntilSubscribed(5_000);
  const server = await startTestServer({ instanceId: name, refreshIntervalMs }, { bus }, dataDir);
  servers.push(server);
  return server;
}

async function publish(server: TestServer, topic: string, text: string): Promise<number> {
  const res = await http(server.httpUrl, 'POST', `/v1/topics/${topic}/versions`, { payload: { text } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.version;
}

/** Long-polls `server` for a version of `topic` newer than `currentVersion`; resolves with it and the wait. */
async function nextVersion(
  server: TestServer,
  topic: string,
  currentVersion: number | undefined,
  waitMs: number,
) {
  const started = Date.now();
  const res = await http(server.httpUrl, 'POST', '/v1/poll', {
    identity: { app: 'checkout', node: 'node-1' },
    topics: [currentVersion === undefined ? { topic } : { topic, currentVersion }],
    waitMs,
  });
  expect([200, 204], JSON.stringify(res.body)).toContain(res.status);
  const version: number | undefined = res.status === 200 ? res.body.updates[0]?.version : undefined;
  return { version, tookMs: Date.now() - started };
}

describe('two instances sharing a Redis change bus', () => {
  it('a publish on A wakes a long-poll on B at once, long before B would refresh by itself', async () => {
    const channel = `meshpress:test:${randomUUID()}`;
    const a = await instance('a', channel, 60_000);
    const b = await instance('b', channel, 60_000);
    const topic = `two.${randomUUID().slice(0, 8)}`;
    expect((await http(a.httpUrl, 'PUT', `/v1/topics/${topic}`, {})).status).toBe(201);
    let current = await publish(a, topic, 'v1');
    expect((await nextVersion(b, topic, undefined, 0)).version).toBe(current);

    for (let i = 2; i <= 4; i++) {
      const waiting = nextVersion(b, topic, current, 5_000);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const published = await publish(a, topic, `v${i}`);
      const { version, tookMs } = await waiting;
      expect(version).toBe(published);
      expect(tookMs).toBeLessThan(1_000);
      current = published;
    }
  });

  it('with Redis down, a publish on A succeeds and B serves it after its periodic refresh', async () => {
    if (!redis.down || !redis.up)
      throw new Error('this test needs a Redis it can stop (unset MESHPRESS_TEST_REDIS_URL)');
    const channel = `meshpress:test:${randomUUID()}`;
    const a = await instance('a', channel, 500);
    const b = await instance('b', channel, 500);
    const topic = `down.${randomUUID().slice(0, 8)}`;
    expect((await http(a.httpUrl, 'PUT', `/v1/topics/${topic}`, {})).status).toBe(201);
    const v1 = await publish(a, topic, 'v1');
    expect((await nextVersion(b, topic, undefined, 2_000)).version).toBe(v1);

    await redis.down();
    try {
      const publishStarted = Date.now();
      const v2 = await publish(a, topic, 'v2');
      // The lost notification neither fails nor holds up the publisher's request.
      expect(Date.now() - publishStarted).toBeLessThan(500);
      const { version, tookMs } = await nextVersion(b, topic, v1, 3_000);
      expect(version).toBe(v2);
      expect(tookMs).toBeLessThan(1_500);
    } finally {
      await redis.up();
    }
  });
});
