import type { AddressInfo } from 'node:net';
import { connect, type Socket } from 'node:net';
import { ManualClock } from '@meshpress/client';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppConcurrencyLimiter } from '../../server/src/limits/index.js';
import { connectionsCheckingInterval } from '../../server/src/rest/request-timeout.js';
import { restAppOn } from '../support/rest-app.js';
import { caller, serviceHarness, text } from '../support/service-harness.js';

/**
 * A caller that stops sending mid-body (its network gone without FIN or RST) must not hold its app's
 * limiter permit forever: the request timeout closes it. A held long-poll has arrived in full, so the
 * same timeout must leave it alone however long it is held.
 */
const TIMEOUT_MS = 400;
/** Node enforces the timeout on its next check: up to one checking interval late. */
const LATEST_CLOSE_MS = TIMEOUT_MS + connectionsCheckingInterval(TIMEOUT_MS) + 1_000;

type Harness = Awaited<ReturnType<typeof serviceHarness>>;
let h: Harness;
let app: FastifyInstance;
let limiter: AppConcurrencyLimiter;
let port: number;
const sockets: Socket[] = [];

beforeEach(async () => {
  h = await serviceHarness();
  await h.service.putTopic(caller, { name: 'routes' });
  await h.service.publish(caller, { topic: 'routes', payload: text('v1') });
  limiter = new AppConcurrencyLimiter({
    clock: new ManualClock(),
    initialLimit: 5,
    minLimit: 2,
    maxLimit: 10,
    totalLimit: 100,
    retryAfterMs: 1_000,
    algorithm: { kind: 'aimd', backoffRatio: 0.5, minThresholdMs: 50 },
  });
  app = restAppOn(h, { limiter, requestTimeoutMs: TIMEOUT_MS });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as AddressInfo).port;
});
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await app.close();
  await h.close();
});

interface RawExchange {
  /** Everything the server wrote so far. */
  readonly received: () => string;
  /** Resolves when the server closes the connection, with the milliseconds since the request was sent. */
  readonly closed: Promise<number>;
  readonly isClosed: () => boolean;
}

/** Sends `head` and `body` as they are over a fresh loopback connection, and then nothing more. */
async function send(head: string[], body: string): Promise<RawExchange> {
  const socket = connect({ host: '127.0.0.1', port });
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let received = '';
  let isClosed = false;
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  socket.on('error', () => {});
  const sent = performance.now();
  const closed = new Promise<number>((resolve) =>
    socket.once('close', () => {
      isClosed = true;
      resolve(performance.now() - sent);
    }),
  );
  socket.write(`${head.join('\r\n')}\r\n\r\n${body}`);
  return { received: () => received, closed, isClosed: () => isClosed };
}

async function eventually(check: () => boolean, withinMs = 2_000): Promise<void> {
  const deadline = performance.now() + withinMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const stalledRequests: Record<string, string[]> = {
  'a poll (the fast path)': [
    'POST /v1/poll HTTP/1.1',
    'host: localhost',
    'content-type: application/json',
    'content-length: 100',
    'x-meshpress-app: stalled',
  ],
  'a raw publish (through Fastify)': [
    'POST /v1/topics/routes/versions HTTP/1.1',
    'host: localhost',
    'content-type: application/octet-stream',
    'content-length: 100',
    'x-meshpress-app: stalled',
  ],
};

describe('the REST request timeout', () => {
  for (const [name, head] of Object.entries(stalledRequests))
    it(`closes ${name} whose body stops arriving, and frees its limiter permit`, async () => {
      const exchange = await send(head, '{"identity'); // 10 of the 100 announced bytes
      await eventually(() => limiter.inflightOf('stalled') === 1);

      const closedAfter = await Promise.race([exchange.closed, sleep(LATEST_CLOSE_MS).then(() => -1)]);
      expect(closedAfter).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
      expect(exchange.received()).toMatch(/^HTTP\/1\.1 408 /);
      await eventually(() => limiter.inflightOf('stalled') === 0);
      // The permit was given back unanswered (not as a sample), and the app is served again.
      const again = await fetch(`http://127.0.0.1:${port}/v1/poll`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-meshpress-app': 'stalled' },
        body: JSON.stringify({ identity: {}, topics: [{ topic: 'routes', currentVersion: 1 }] }),
      });
      expect(again.status).toBe(204);
    });

  for (const [name, path] of [
    ['fast path', '/v1/poll'],
    ['Fastify route', '/v1/poll?via=fastify'],
  ] as const)
    it(`leaves a held long-poll (${name}) open well past the timeout, then answers it`, async () => {
      const body = JSON.stringify({
        identity: { app: 'checkout' },
        topics: [{ topic: 'routes', currentVersion: 1 }],
        waitMs: 60_000,
      });
      const exchange = await send(
        [
          `POST ${path} HTTP/1.1`,
          'host: localhost',
          'content-type: application/json',
          `content-length: ${Buffer.byteLength(body)}`,
          'x-meshpress-app: holder',
        ],
        body,
      );
      await eventually(() => h.service.heldPolls === 1);
      expect(limiter.inflightOf('holder')).toBe(1);

      // Several timeouts and checking intervals go by; the ManualClock keeps the poll's own wait from ending.
      await sleep(TIMEOUT_MS * 4);
      expect(exchange.isClosed()).toBe(false);
      expect(exchange.received()).toBe('');
      expect(h.service.heldPolls).toBe(1);

      await h.service.publish(caller, { topic: 'routes', payload: text('v2') });
      await eventually(() => exchange.received().includes('"version":2'));
      expect(exchange.received()).toMatch(/^HTTP\/1\.1 200 /);
      await eventually(() => limiter.inflightOf('holder') === 0);
      expect(exchange.isClosed()).toBe(false); // keep-alive: the connection is ready for the next poll
    });

  it('refuses an invalid timeout when the app is built', () => {
    expect(() => restAppOn(h, { requestTimeoutMs: 0 })).toThrow(/requestTimeoutMs/);
  });
});
