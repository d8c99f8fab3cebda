import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, startTestServer, type TestServer } from '../support/test-server.js';

// Two instances on one data directory, split by role as Gutenberg splits publishers from consumers.
let publisher: TestServer;
let consumer: TestServer;

beforeAll(async () => {
  publisher = await startTestServer({ roles: ['publish', 'tasks'] });
  consumer = await startTestServer({ roles: ['consume'] }, {}, publisher.dataDir);
});
afterAll(async () => {
  await consumer?.close();
  await publisher?.dispose();
});

describe('roles', () => {
  it('a consume-only instance refuses writes with 421 MISDIRECTED but serves polls and reads', async () => {
    const refused = await http(consumer.httpUrl, 'PUT', '/v1/topics/r.topic', {});
    expect(refused.status).toBe(421);
    expect(refused.body.error).toMatchObject({ code: 'MISDIRECTED', details: { role: 'publish' } });

    expect((await http(publisher.httpUrl, 'PUT', '/v1/topics/r.topic', {})).status).toBe(201);
    const published = await http(publisher.httpUrl, 'POST', '/v1/topics/r.topic/versions', {
      payload: { text: 'x' },
    });
    expect(published.status).toBe(201);

    const poll = await http(consumer.httpUrl, 'POST', '/v1/poll', {
      identity: {},
      topics: [{ topic: 'r.topic' }],
    });
    expect(poll.status).toBe(200);
    expect(poll.body.updates[0].version).toBe(published.body.version);
    expect((await http(consumer.httpUrl, 'GET', '/v1/topics/r.topic/versions/1')).status).toBe(200);
  });

  it('a publish-only instance refuses polls with 421', async () => {
    const refused = await http(publisher.httpUrl, 'POST', '/v1/poll', { identity: {}, topics: [] });
    expect(refused.status).toBe(421);
    expect(refused.body.error.code).toBe('MISDIRECTED');
  });
});
