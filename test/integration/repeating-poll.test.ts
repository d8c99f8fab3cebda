import { ManualClock } from '@meshpress/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, startTestServer, type TestServer } from '../support/test-server.js';

/**
 * A node resends the very same poll body until something changes; the server keeps that body's parsed
 * input and, while its consumer cache is unchanged, the evaluation of it. Every change a poll must see
 * has to show up in the answer to the same text: publishes, pins, unpins, topics that appear.
 */
let server: TestServer;
const IDENTITY = { app: 'checkout', region: 'eu-west-1', node: 'repeat-1' };

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.dispose();
});

async function poll(body: string): Promise<{ status: number; versions: number[] }> {
  const response = await fetch(`${server.httpUrl}/v1/poll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  const text = await response.text();
  const updates = text === '' ? [] : (JSON.parse(text).updates as { version: number }[]);
  return { status: response.status, versions: updates.map((u) => u.version) };
}

async function publish(topic: string, text: string, scopes?: string[]): Promise<number> {
  const published = await http(server.httpUrl, 'POST', `/v1/topics/${topic}/versions`, {
    payload: { text },
    ...(scopes ? { scopes } : {}),
  });
  expect(published.status).toBe(201);
  return published.body.version as number;
}

describe('the same poll body, sent again and again', () => {
  it('sees every publish, pin and unpin, and a topic created after it was first sent', async () => {
    expect((await http(server.httpUrl, 'PUT', '/v1/topics/t.repeat', {})).status).toBe(201);
    const v1 = await publish('t.repeat', 'one');
    const atV1 = JSON.stringify({
      identity: IDENTITY,
      topics: [{ topic: 't.repeat', currentVersion: v1 }, { topic: 't.later' }],
    });
    for (let i = 0; i < 3; i++) expect(await poll(atV1)).toEqual({ status: 204, versions: [] });

    const v2 = await publish('t.repeat', 'two');
    expect(await poll(atV1)).toEqual({ status: 200, versions: [v2] });
    expect(await poll(atV1)).toEqual({ status: 200, versions: [v2] });

    // A scope this identity does not match changes nothing for it.
    await publish('t.repeat', 'elsewhere', ['region=us-east-1']);
    expect(await poll(atV1)).toEqual({ status: 200, versions: [v2] });

    expect(
      (await http(server.httpUrl, 'PUT', '/v1/topics/t.repeat/pins/*', { version: v1, reason: 'rollback' }))
        .status,
    ).toBe(200);
    expect(await poll(atV1)).toEqual({ status: 204, versions: [] });
    expect((await http(server.httpUrl, 'DELETE', '/v1/topics/t.repeat/pins/*')).status).toBe(200);
    expect(await poll(atV1)).toEqual({ status: 200, versions: [v2] });

    expect((await http(server.httpUrl, 'PUT', '/v1/topics/t.later', {})).status).toBe(201);
    const later = await publish('t.later', 'late');
    expect(await poll(atV1)).toEqual({ status: 200, versions: [v2, later] });
  });

  it('a pin rolls back a node that polls with the same body at the newer version', async () => {
    expect((await http(server.httpUrl, 'PUT', '/v1/topics/t.rollback', {})).status).toBe(201);
    const good = await publish('t.rollback', 'good');
    const bad = await publish('t.rollback', 'bad');
    const atBad = JSON.stringify({
      identity: IDENTITY,
      topics: [{ topic: 't.rollback', currentVersion: bad }],
    });
    expect(await poll(atBad)).toEqual({ status: 204, versions: [] });
    expect(
      (await http(server.httpUrl, 'PUT', '/v1/topics/t.rollback/pins/*', { version: good, reason: 'bad' }))
        .status,
    ).toBe(200);
    expect(await poll(atBad)).toEqual({ status: 200, versions: [good] });
  });

  it('every repeat counts for consumer status, not only the first', async () => {
    // Its own server on a manual clock: a node polling more often than the status TTL stays live only if
    // each repeated poll is reported, including those answered from a kept evaluation.
    const clock = new ManualClock(Date.now());
    const own = await startTestServer({ consumerStatusTtlMs: 1_000 }, { clock });
    try {
      expect((await http(own.httpUrl, 'PUT', '/v1/topics/t.status', {})).status).toBe(201);
      const published = await http(own.httpUrl, 'POST', '/v1/topics/t.status/versions', {
        payload: { text: 'one' },
      });
      const body = JSON.stringify({
        identity: IDENTITY,
        topics: [{ topic: 't.status', currentVersion: published.body.version }],
      });
      const send = () =>
        fetch(`${own.httpUrl}/v1/poll`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        }).then((r) => r.status);
      const live = async () => (await http(own.httpUrl, 'GET', '/v1/topics/t.status/consumers')).body.total;
      expect(await send()).toBe(204);
      for (let i = 0; i < 3; i++) {
        clock.advance(700);
        expect(await send()).toBe(204);
      }
      expect(await live()).toBe(1);
      clock.advance(1_100);
      expect(await live()).toBe(0);
    } finally {
      await own.dispose();
    }
  });
});
