import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, startTestServer, type TestServer } from '../support/test-server.js';

let server: TestServer;
const call = (method: string, path: string, body?: unknown) => http(server.httpUrl, method, path, body);

beforeAll(async () => {
  server = await startTestServer({ consumerLagGraceMs: 0 });
});
afterAll(async () => {
  await server?.dispose();
});

describe('GET /v1/topics/:topic/consumers', () => {
  it('shows the version distribution from polls and names the nodes that lag behind their target', async () => {
    await call('PUT', '/v1/topics/t.status', {});
    const v1 = (await call('POST', '/v1/topics/t.status/versions', { payload: { text: 'one' } })).body
      .version;
    const v2 = (await call('POST', '/v1/topics/t.status/versions', { payload: { text: 'two' } })).body
      .version;

    const poll = (node: string, currentVersion?: number) =>
      call('POST', '/v1/poll', {
        identity: { app: 'web', region: 'eu', node },
        topics: [{ topic: 't.status', ...(currentVersion ? { currentVersion } : {}) }],
      });
    await poll('node-a', v2);
    await poll('node-b', v2);
    await poll('node-c', v1); // stuck on v1: it keeps reporting v1 while its target is v2
    await poll('node-d');
    await new Promise((r) => setTimeout(r, 10));

    const res = await call('GET', '/v1/topics/t.status/consumers');
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(4);
    expect(res.body.distribution).toEqual([
      { version: v2, nodes: 2 },
      { version: v1, nodes: 1 },
      { version: null, nodes: 1 },
    ]);
    expect(res.body.lagging.map((n: any) => [n.node, n.currentVersion, n.targetVersion]).sort()).toEqual([
      ['node-c', v1, v2],
      ['node-d', undefined, v2],
    ]);
  });

  it('is 404 for an unknown topic', async () => {
    expect((await call('GET', '/v1/topics/t.unknown/consumers')).body.error.code).toBe('TOPIC_NOT_FOUND');
  });
});
