import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { http, startTestServer, type TestServer } from '../support/test-server.js';

/**
 * `POST /v1/poll` with a JSON body is answered by the poll fast path, ahead of Fastify; the same request
 * with a query string (or anything else the fast path does not take) reaches Fastify's poll route. Both
 * must answer alike: same status, body, headers that matter, metrics.
 */
let server: TestServer;
const FAST = '/v1/poll';
const VIA_FASTIFY = '/v1/poll?via=fastify';
const IDENTITY = { app: 'checkout', region: 'eu-west-1', node: 'n1' };

beforeAll(async () => {
  server = await startTestServer();
  expect((await http(server.httpUrl, 'PUT', '/v1/topics/t.fast', {})).status).toBe(201);
  const published = await http(server.httpUrl, 'POST', '/v1/topics/t.fast/versions', {
    payload: { text: 'one' },
  });
  expect(published.status).toBe(201);
});
afterAll(async () => {
  await server?.dispose();
});

async function send(path: string, body: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.httpUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text === '' ? undefined : JSON.parse(text),
    contentType: response.headers.get('content-type'),
    requestId: response.headers.get('x-request-id'),
    retryAfter: response.headers.get('retry-after'),
  };
}

const bodies: Record<string, string> = {
  'first poll (an update)': JSON.stringify({ identity: IDENTITY, topics: [{ topic: 't.fast' }] }),
  'up to date (204)': JSON.stringify({
    identity: IDENTITY,
    topics: [{ topic: 't.fast', currentVersion: 1 }],
  }),
  'unknown topic (204)': JSON.stringify({ identity: IDENTITY, topics: [{ topic: 't.nobody' }] }),
  'invalid fields (400, each path)': JSON.stringify({
    identity: { region: 'eu west' },
    topics: [{ topic: 'UPPER' }, { topic: 't.fast', currentVersion: 0 }],
  }),
  'duplicate topics (400)': JSON.stringify({
    identity: {},
    topics: [{ topic: 't.fast' }, { topic: 't.fast' }],
  }),
  'malformed JSON (400)': '{"identity":',
  'empty body (400)': '',
  'prototype poisoning (400)': '{"identity":{},"topics":[],"__proto__":{"polluted":true}}',
  'escaped prototype poisoning (400)': '{"identity":{},"topics":[],"\\u005f_proto__":{"polluted":true}}',
  'constructor poisoning (400)': '{"identity":{},"topics":[],"constructor":{"prototype":{"polluted":true}}}',
  'not an object (400)': '[1,2,3]',
};

describe('the REST poll fast path', () => {
  for (const [name, body] of Object.entries(bodies))
    it(`answers like Fastify's poll route: ${name}`, async () => {
      const fast = await send(FAST, body);
      const viaFastify = await send(VIA_FASTIFY, body);
      expect(fast.status).toBeGreaterThanOrEqual(200);
      expect({ ...fast, requestId: undefined }).toEqual({ ...viaFastify, requestId: undefined });
    });

  it('answers 413 PAYLOAD_TOO_LARGE to a poll body over 1 MiB, and keeps serving', async () => {
    const huge = JSON.stringify({
      identity: { node: 'x'.repeat(64) },
      topics: [],
      pad: 'y'.repeat(1_100_000),
    });
    const refused = await send(FAST, huge);
    expect(refused.status).toBe(413);
    expect(refused.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect((await send(FAST, bodies['up to date (204)']!)).status).toBe(204);
  });

  it('echoes a well-formed x-request-id and makes one up otherwise', async () => {
    const body = bodies['up to date (204)']!;
    expect((await send(FAST, body, { 'x-request-id': 'trace-42' })).requestId).toBe('trace-42');
    const made = (await send(FAST, body, { 'x-request-id': 'no spaces allowed' })).requestId;
    expect(made).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
    const next = (await send(FAST, body)).requestId;
    expect(next).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
    expect(next).not.toBe(made);
  });

  it('counts polls by outcome and errors by code in /metrics', async () => {
    const metric = async (line: RegExp) => {
      const text = (await http(server.httpUrl, 'GET', '/metrics')).body as string;
      return Number(text.match(line)?.[1] ?? 0);
    };
    const none = /meshpress_polls_total\{transport="rest",outcome="none"\} (\d+)/;
    const update = /meshpress_polls_total\{transport="rest",outcome="update"\} (\d+)/;
    const malformed = /meshpress_errors_total\{code="MALFORMED_REQUEST",transport="rest"\} (\d+)/;
    const handedOut = /meshpress_poll_updates_total\{pinned="false"\} (\d+)/;
    const lagObserved = /meshpress_propagation_lag_seconds_count (\d+)/;
    const before = [await metric(none), await metric(update), await metric(malformed)];
    const updatesBefore = [await metric(handedOut), await metric(lagObserved)];
    await send(FAST, bodies['up to date (204)']!);
    await send(FAST, bodies['up to date (204)']!);
    await send(FAST, bodies['first poll (an update)']!);
    await send(FAST, bodies['malformed JSON (400)']!);
    expect([await metric(none), await metric(update), await metric(malformed)]).toEqual([
      before[0]! + 2,
      before[1]! + 1,
      before[2]! + 1,
    ]);
    expect([await metric(handedOut), await metric(lagObserved)]).toEqual([
      updatesBefore[0]! + 1,
      updatesBefore[1]! + 1,
    ]);
  });

  it('shows held long-polls in /metrics while they wait, and releases them on a publish', async () => {
    const held = () =>
      http(server.httpUrl, 'GET', '/metrics').then((r) =>
        Number((r.body as string).match(/^meshpress_long_polls_held (\d+)$/m)?.[1]),
      );
    const baseline = await held();
    const waiting = send(
      FAST,
      JSON.stringify({
        identity: IDENTITY,
        topics: [{ topic: 't.fast', currentVersion: 1 }],
        waitMs: 20_000,
      }),
    );
    await vi.waitFor(async () => expect(await held()).toBe(baseline + 1));
    const published = await http(server.httpUrl, 'POST', '/v1/topics/t.fast/versions', {
      payload: { text: 'two' },
    });
    const answer = await waiting;
    expect(answer.status).toBe(200);
    expect(answer.body.updates[0].version).toBe(published.body.version);
    expect(await held()).toBe(baseline);
  });
});
