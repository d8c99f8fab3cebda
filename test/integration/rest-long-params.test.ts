import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PATH_PARAM_LENGTH } from '../../server/src/rest/request-schemas.js';
import { http, startTestServer, type TestServer } from '../support/test-server.js';

/**
 * Topic names go to 200 characters and scopes to 512, but Fastify's router refuses path parameters over
 * 100 by default, and answers that (and a bad percent-escape) itself, outside the meshpress error format.
 */
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.dispose();
});

/** The standard error body: `{ error: { code, message, details? } }` and nothing else. */
function expectMeshpressError(body: any, code: string) {
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
}

describe('REST path parameters', () => {
  it('creates, publishes to and reads a topic with a 150-character name', async () => {
    const topic = `t${'a'.repeat(149)}`;
    expect((await http(server.httpUrl, 'PUT', `/v1/topics/${topic}`, {})).status).toBe(201);
    const published = await http(server.httpUrl, 'POST', `/v1/topics/${topic}/versions`, {
      payload: { text: 'hello' },
    });
    expect(published.status).toBe(201);
    expect(published.body).toMatchObject({ topic, version: 1 });

    const read = await http(server.httpUrl, 'GET', `/v1/topics/${topic}/versions/1`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ topic, version: 1 });
    const data = await fetch(`${server.httpUrl}/v1/topics/${topic}/versions/1/data`);
    expect(data.status).toBe(200);
    expect(await data.text()).toBe('hello');
    expect((await http(server.httpUrl, 'GET', `/v1/topics/${topic}`)).body.topic.name).toBe(topic);
  });

  it('pins and unpins a scope longer than 100 characters', async () => {
    expect((await http(server.httpUrl, 'PUT', '/v1/topics/t.pins', {})).status).toBe(201);
    const published = await http(server.httpUrl, 'POST', '/v1/topics/t.pins/versions', {
      payload: { text: 'v1' },
    });
    expect(published.status).toBe(201);
    const scope =
      'app=checkout-service,cluster=prod-use1-blue,env=production,node=ip-10-0-12-34.ec2.internal,region=us-east-1';
    expect(scope.length).toBeGreaterThan(100);
    const path = `/v1/topics/t.pins/pins/${encodeURIComponent(scope)}`;

    const pinned = await http(server.httpUrl, 'PUT', path, { version: 1, reason: 'canary rollback' });
    expect(pinned.status).toBe(200);
    expect(pinned.body).toMatchObject({ scope, version: 1 });
    const topic = await http(server.httpUrl, 'GET', '/v1/topics/t.pins');
    expect(topic.body.pins.map((p: { scope: string }) => p.scope)).toEqual([scope]);

    const unpinned = await http(server.httpUrl, 'DELETE', path);
    expect(unpinned.status).toBe(200);
    expect(unpinned.body).toEqual({ removed: true });
  });

  it('routes a parameter of the longest valid length (a 512-character scope) to validation', async () => {
    // A scope of 512 characters reaches the route; the service, not the router, decides about it.
    const scope = `node=${'n'.repeat(MAX_PATH_PARAM_LENGTH - 'node='.length)}`;
    expect(scope.length).toBe(MAX_PATH_PARAM_LENGTH);
    const res = await http(server.httpUrl, 'DELETE', `/v1/topics/t.pins/pins/${encodeURIComponent(scope)}`);
    expect(res.status).toBe(400);
    expectMeshpressError(res.body, 'VALIDATION_FAILED');
    expect(res.body.error.details.issues[0].path).toBe('scope');
  });

  it('answers a parameter over the router limit in the standard format, naming the parameter', async () => {
    const scope = `node=${'n'.repeat(MAX_PATH_PARAM_LENGTH)}`;
    const res = await http(server.httpUrl, 'DELETE', `/v1/topics/t.pins/pins/${encodeURIComponent(scope)}`);
    expect(res.status).toBe(400);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expectMeshpressError(res.body, 'VALIDATION_FAILED');
    expect(res.body.error.details.issues).toEqual([{ path: 'scope', message: expect.any(String) }]);

    const topic = 'a'.repeat(MAX_PATH_PARAM_LENGTH + 1);
    const long = await http(server.httpUrl, 'GET', `/v1/topics/${topic}/versions/1`);
    expect(long.status).toBe(400);
    expectMeshpressError(long.body, 'VALIDATION_FAILED');
    expect(long.body.error.details.issues.map((i: { path: string }) => i.path)).toEqual(['topic']);
  });

  it('answers a malformed percent-escape in the standard format with 400 MALFORMED_REQUEST', async () => {
    for (const path of ['/v1/topics/t.pins/pins/%E0%A4', '/v1/topics/%zz', '/v1/%E0%A4/x']) {
      const res = await http(server.httpUrl, 'GET', path);
      expect(res.status).toBe(400);
      expect(res.headers.get('x-request-id')).toBeTruthy();
      expectMeshpressError(res.body, 'MALFORMED_REQUEST');
    }
  });
});
