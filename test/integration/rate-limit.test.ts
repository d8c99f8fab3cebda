import { performance } from 'node:perf_hooks';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AppConcurrencyLimiter } from '../../server/src/limits/index.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

let server: TestServer;
let limiter: AppConcurrencyLimiter;
// A client of its own, destroyed before the server closes: a burst leaves it with spare connections that
// never carried a request, and the server would otherwise wait for them to time out before closing.
const client = new Agent();

beforeAll(async () => {
  // The limiter as configured through MESHPRESS_LIMIT_* (here: the equivalent config entries).
  server = await startTestServer({
    limitInitial: 8,
    limitMin: 4,
    limitMax: 16,
    limitTotal: 200,
    limitRetryAfterMs: 1_000,
  });
  limiter = server.limiter!;
  for (const topic of ['mesh.prod.flood.routes', 'mesh.prod.calm.routes']) {
    expect((await send('PUT', `/v1/topics/${topic}`, 'ops', {})).status).toBe(201);
    expect(
      (await send('POST', `/v1/topics/${topic}/versions`, 'ops', { payload: { text: 'v1' } })).status,
    ).toBe(201);
  }
});
afterAll(async () => {
  await client.destroy();
  await server?.dispose();
});

function send(method: string, path: string, app: string, body?: unknown, signal?: AbortSignal) {
  return fetch(`${server.httpUrl}${path}`, {
    method,
    headers: {
      'x-meshpress-app': app,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    ...(signal ? { signal } : {}),
    dispatcher: client,
  });
}

const pollBody = (app: string, topic: string, currentVersion: number, waitMs: number) => ({
  identity: { app, region: 'eu-west-1' },
  topics: [{ topic, currentVersion }],
  waitMs,
});

interface Answer {
  status: number;
  retryAfter: string | null;
  code: string | undefined;
}

async function answer(response: Awaited<ReturnType<typeof fetch>>): Promise<Answer> {
  const text = await response.text();
  const body = text ? (JSON.parse(text) as { error?: { code?: string } }) : undefined;
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    code: body?.error?.code,
  };
}

describe('per-app adaptive concurrency limit over REST', () => {
  it("sheds a flooding app with 429 and Retry-After while another app's polls keep succeeding at normal latency", async () => {
    const flood = new AbortController();
    const settled: Answer[] = [];
    // 60 concurrent long-polls from one app, far above its limit of 8: the admitted ones are held.
    const floodPolls = Array.from({ length: 60 }, () =>
      send('POST', '/v1/poll', 'flood', pollBody('flood', 'mesh.prod.flood.routes', 1, 60_000), flood.signal)
        .then(answer)
        .then((a) => settled.push(a))
        .catch(() => undefined),
    );
    await vi.waitFor(() => expect(settled.length + limiter.inflightOf('flood')).toBe(60), {
      timeout: 10_000,
    });
    const held = limiter.inflightOf('flood');
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThanOrEqual(limiter.limitOf('flood'));
    expect(settled).toHaveLength(60 - held);
    for (const refused of settled)
      expect(refused).toEqual({ status: 429, retryAfter: '1', code: 'TOO_MANY_REQUESTS' });

    // The flooding app keeps hammering, ignoring Retry-After, while the calm app polls.
    let hammering = true;
    let hammered = 0;
    const hammer = async () => {
      while (hammering) {
        const a = await answer(
          await send('POST', '/v1/poll', 'flood', pollBody('flood', 'mesh.prod.flood.routes', 1, 60_000)),
        );
        expect(a.status).toBe(429);
        hammered += 1;
      }
    };
    const hammers = Array.from({ length: 4 }, hammer);

    const latencies: number[] = [];
    for (let i = 0; i < 30; i++) {
      const started = performance.now();
      const response = await send(
        'POST',
        '/v1/poll',
        'calm',
        pollBody('calm', 'mesh.prod.calm.routes', 1, 0),
      );
      latencies.push(performance.now() - started);
      expect((await answer(response)).status).toBe(204);
    }
    // A held long-poll of the calm app is admitted and woken by a publish at once.
    const calmWait = send('POST', '/v1/poll', 'calm', pollBody('calm', 'mesh.prod.calm.routes', 1, 30_000));
    await vi.waitFor(() => expect(limiter.inflightOf('calm')).toBe(1));
    const published = performance.now();
    expect(
      (await send('POST', '/v1/topics/mesh.prod.calm.routes/versions', 'ops', { payload: { text: 'v2' } }))
        .status,
    ).toBe(201);
    const woken = await calmWait;
    const wakeMs = performance.now() - published;
    expect(woken.status).toBe(200);
    expect(((await woken.json()) as { updates: { version: number }[] }).updates[0]?.version).toBe(2);

    hammering = false;
    await Promise.all(hammers);
    expect(hammered).toBeGreaterThan(0);
    latencies.sort((a, b) => a - b);
    // Loose bounds: client, flood and server share one process on a small machine. A starved app would see
    // 429s or waits of seconds; one served normally answers in milliseconds.
    expect(latencies[Math.floor(latencies.length / 2)]).toBeLessThan(200);
    expect(latencies.at(-1)).toBeLessThan(2_000);
    expect(wakeMs).toBeLessThan(1_000);

    // Callers hanging up on held polls free their slots: the flooding app is admitted again.
    flood.abort();
    await Promise.all(floodPolls);
    await vi.waitFor(() => expect(limiter.inflightOf('flood')).toBe(0));
    const again = await send('POST', '/v1/poll', 'flood', pollBody('flood', 'mesh.prod.flood.routes', 1, 0));
    expect(again.status).toBe(204);
    expect(limiter.totalInflight).toBe(0);
  });

  it('never refuses health checks, even from an app over its limit', async () => {
    const flood = new AbortController();
    const polls = Array.from({ length: 20 }, () =>
      send(
        'POST',
        '/v1/poll',
        'prober',
        pollBody('prober', 'mesh.prod.flood.routes', 1, 60_000),
        flood.signal,
      )
        .then((r) => r.text())
        .catch(() => undefined),
    );
    await vi.waitFor(() => expect(limiter.inflightOf('prober')).toBe(limiter.limitOf('prober')));
    const heldPolls = async () => {
      const health = await send('GET', '/healthz', 'prober');
      expect(health.status).toBe(200);
      return ((await health.json()) as { heldPolls: number }).heldPolls;
    };
    await vi.waitFor(async () => expect(await heldPolls()).toBe(limiter.limitOf('prober')));
    flood.abort();
    await Promise.all(polls);
    await vi.waitFor(() => expect(limiter.inflightOf('prober')).toBe(0));
    // The callers hung up: the server stops holding their polls, not only counting them.
    await vi.waitFor(async () => expect(await heldPolls()).toBe(0));
  });
});
