import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, startTestServer, type TestServer } from '../support/test-server.js';

let server: TestServer;
const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
  http(server.httpUrl, method, path, body, headers);

async function topic(name: string, body: object = {}) {
  const res = await call('PUT', `/v1/topics/${name}`, body);
  expect([200, 201]).toContain(res.status);
}

async function publish(name: string, text: string, scopes?: string[]): Promise<number> {
  const res = await call('POST', `/v1/topics/${name}/versions`, {
    payload: { text },
    ...(scopes ? { scopes } : {}),
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.version;
}

async function poll(identity: object, topics: { topic: string; currentVersion?: number }[], waitMs?: number) {
  const res = await call('POST', '/v1/poll', {
    identity,
    topics,
    ...(waitMs === undefined ? {} : { waitMs }),
  });
  expect([200, 204], JSON.stringify(res.body)).toContain(res.status);
  return res.status === 204
    ? []
    : (res.body.updates as { topic: string; version: number; pinned: boolean; record: any }[]);
}

async function latest(name: string, identity: object, currentVersion?: number): Promise<any> {
  const updates = await poll(identity, [
    { topic: name, ...(currentVersion === undefined ? {} : { currentVersion }) },
  ]);
  return updates[0];
}

const EU = { app: 'checkout', region: 'eu-west-1', node: 'n1' };
const US = { app: 'checkout', region: 'us-east-1', node: 'n2' };

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.dispose();
});

describe('topics', () => {
  it('creates with 201, updates with 200, lists and reads with pins', async () => {
    const created = await call('PUT', '/v1/topics/t.crud', {
      retention: { maxVersions: 5 },
      kind: 'mesh.routes.v1',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 't.crud',
      kind: 'mesh.routes.v1',
      retention: { maxVersions: 5 },
      latestVersion: 0,
    });
    const updated = await call('PUT', '/v1/topics/t.crud', { retention: { maxAgeDays: 3 } });
    expect(updated.status).toBe(200);
    expect(updated.body.retention).toEqual({ maxAgeDays: 3 });
    const list = await call('GET', '/v1/topics?limit=1000');
    expect(list.body.topics.map((t: any) => t.name)).toContain('t.crud');
    const read = await call('GET', '/v1/topics/t.crud');
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ topic: { name: 't.crud' }, pins: [] });
  });
});

describe('publish, scopes, pins and polls', () => {
  it('gives differently scoped identities different latest versions', async () => {
    await topic('t.scoped');
    const v1 = await publish('t.scoped', 'global');
    const v2 = await publish('t.scoped', 'eu canary', ['region=eu-west-1']);
    expect((await latest('t.scoped', EU)).version).toBe(v2);
    expect((await latest('t.scoped', US)).version).toBe(v1);
    const eu = await latest('t.scoped', EU);
    expect(Buffer.from(eu.record.pointer.data, 'base64').toString()).toBe('eu canary');
  });

  it('adding a scope to an old version makes it visible to that scope', async () => {
    await topic('t.addscope');
    const v1 = await publish('t.addscope', 'one', ['region=ap-south-1']);
    const v2 = await publish('t.addscope', 'two', ['region=eu-west-1']);
    expect(await latest('t.addscope', US)).toBeUndefined();
    const res = await call('POST', `/v1/topics/t.addscope/versions/${v1}/scopes`, {
      scopes: ['region=us-east-1'],
    });
    expect(res.status).toBe(200);
    expect(res.body.scopes.map((s: any) => s.scope)).toEqual(['region=ap-south-1', 'region=us-east-1']);
    expect((await latest('t.addscope', US)).version).toBe(v1);
    expect((await latest('t.addscope', EU)).version).toBe(v2);
  });

  it('a global pin overrides later publishes; a scope pin beats it; unpinning moves to the newest', async () => {
    await topic('t.pins');
    const v1 = await publish('t.pins', 'good');
    const v2 = await publish('t.pins', 'bad');
    const pinned = await call('PUT', '/v1/topics/t.pins/pins/*', {
      version: v1,
      reason: 'v2 breaks checkout',
    });
    expect(pinned.status).toBe(200);
    expect(pinned.body).toMatchObject({ scope: '*', version: v1, reason: 'v2 breaks checkout' });

    // Rollback: a consumer on v2 is moved back to v1, marked pinned.
    expect(await latest('t.pins', EU, v2)).toMatchObject({ version: v1, pinned: true });
    const v3 = await publish('t.pins', 'published during the pin');
    expect(await latest('t.pins', EU, v1)).toBeUndefined();
    expect((await latest('t.pins', EU)).version).toBe(v1);

    const scopePin = await call('PUT', `/v1/topics/t.pins/pins/${encodeURIComponent('region=eu-west-1')}`, {
      version: v2,
    });
    expect(scopePin.status).toBe(200);
    expect(await latest('t.pins', EU, v1)).toMatchObject({ version: v2, pinned: true });
    expect((await latest('t.pins', US)).version).toBe(v1);

    const read = await call('GET', '/v1/topics/t.pins');
    expect(read.body.pins.map((p: any) => p.scope).sort()).toEqual(['*', 'region=eu-west-1']);

    expect(
      (await call('DELETE', `/v1/topics/t.pins/pins/${encodeURIComponent('region=eu-west-1')}`)).body,
    ).toEqual({ removed: true });
    expect((await call('DELETE', '/v1/topics/t.pins/pins/*')).body).toEqual({ removed: true });
    expect((await call('DELETE', '/v1/topics/t.pins/pins/*')).body).toEqual({ removed: false });
    expect(await latest('t.pins', EU, v1)).toMatchObject({ version: v3, pinned: false });
    expect(await latest('t.pins', US, v1)).toMatchObject({ version: v3, pinned: false });
  });

  it('never moves a consumer backwards unless pinned', async () => {
    await topic('t.backwards');
    await publish('t.backwards', 'a');
    const v2 = await publish('t.backwards', 'b');
    expect(await latest('t.backwards', EU, v2 + 5)).toBeUndefined();
    expect(await latest('t.backwards', EU, v2)).toBeUndefined();
  });

  it('rapid publishes are not stepped through: only the newest is returned', async () => {
    await topic('t.rapid');
    const first = await publish('t.rapid', 'v');
    let last = first;
    for (let i = 0; i < 10; i++) last = await publish('t.rapid', `v${i}`);
    const updates = await poll(EU, [{ topic: 't.rapid', currentVersion: first }]);
    expect(updates).toHaveLength(1);
    expect(updates[0]!.version).toBe(last);
  });

  it('one poll answers several topics, only those with an update', async () => {
    await topic('t.multi.a');
    await topic('t.multi.b');
    const a = await publish('t.multi.a', 'a');
    const b = await publish('t.multi.b', 'b');
    const updates = await poll(EU, [
      { topic: 't.multi.a', currentVersion: a },
      { topic: 't.multi.b' },
      { topic: 't.multi.missing' },
    ]);
    expect(updates.map((u) => [u.topic, u.version])).toEqual([['t.multi.b', b]]);
  });

  it('gives 50 concurrent publishes 50 distinct consecutive versions', async () => {
    await topic('t.concurrent');
    const versions = await Promise.all(
      Array.from({ length: 50 }, (_, i) => publish('t.concurrent', `p${i}`)),
    );
    expect([...versions].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it('round-trips a 5 MiB payload byte-exact through the blob store', async () => {
    await topic('t.large');
    const data = randomBytes(5 * 1024 * 1024);
    const sha = createHash('sha256').update(data).digest('hex');
    const res = await call(
      'POST',
      `/v1/topics/t.large/versions?scope=${encodeURIComponent('app=checkout')}&meta.build=42&sha256=${sha}`,
      data,
      {
        'content-type': 'application/octet-stream',
      },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({
      size: data.length,
      sha256: sha,
      metadata: { build: '42' },
      pointer: { kind: 'local' },
    });
    const download = await fetch(`${server.httpUrl}/v1/topics/t.large/versions/${res.body.version}/data`);
    expect(download.status).toBe(200);
    expect(download.headers.get('x-meshpress-sha256')).toBe(sha);
    expect(Buffer.from(await download.arrayBuffer()).equals(data)).toBe(true);
  });

  it('a long-poll returns as soon as a matching publish lands, long before its wait ends', async () => {
    await topic('t.longpoll');
    const v1 = await publish('t.longpoll', 'one');
    const started = Date.now();
    const pending = poll(EU, [{ topic: 't.longpoll', currentVersion: v1 }], 20_000);
    await new Promise((r) => setTimeout(r, 200));
    const v2 = await publish('t.longpoll', 'two');
    const updates = await pending;
    expect(updates.map((u) => u.version)).toEqual([v2]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('a long-poll is not woken by a publish its identity cannot see', async () => {
    await topic('t.longpoll.scoped');
    const v1 = await publish('t.longpoll.scoped', 'one');
    const pending = poll(US, [{ topic: 't.longpoll.scoped', currentVersion: v1 }], 700);
    await publish('t.longpoll.scoped', 'eu only', ['region=eu-west-1']);
    expect(await pending).toEqual([]);
  });

  it('resolves for an identity now and at an earlier instant', async () => {
    await topic('t.resolve');
    const v1 = await publish('t.resolve', 'one');
    const between = Date.now();
    await new Promise((r) => setTimeout(r, 20));
    const v2 = await publish('t.resolve', 'two');
    const now = await call('GET', '/v1/topics/t.resolve/resolve?app=checkout&region=eu-west-1');
    expect(now.body.target).toMatchObject({ version: v2, pinned: false, scope: '*' });
    const before = await call(
      'GET',
      `/v1/topics/t.resolve/resolve?app=checkout&at=${new Date(between).toISOString()}`,
    );
    expect(before.body.target).toMatchObject({ version: v1 });
    const none = await call('GET', '/v1/topics/t.resolve/resolve?at=1000');
    expect(none.body.target).toBeNull();
  });

  it('lists the pin history newest first: who pinned what, when and why, and each removal', async () => {
    await topic('t.pin-audit');
    const v1 = await publish('t.pin-audit', 'one');
    const v2 = await publish('t.pin-audit', 'two');
    const eu = encodeURIComponent('region=eu-west-1');
    const headers = { 'x-meshpress-principal': 'alice' };
    await call(
      'PUT',
      '/v1/topics/t.pin-audit/pins/*',
      { version: v1, reason: 'v2 breaks checkout' },
      headers,
    );
    await call('PUT', `/v1/topics/t.pin-audit/pins/${eu}`, { version: v2 }, headers);
    await call('DELETE', '/v1/topics/t.pin-audit/pins/*?reason=fixed', undefined, headers);

    const all = await call('GET', '/v1/topics/t.pin-audit/pin-history');
    expect(all.status).toBe(200);
    expect(all.body.topic).toBe('t.pin-audit');
    expect(all.body.events.map((e: any) => [e.scope, e.version, e.reason])).toEqual([
      ['*', undefined, 'fixed'],
      ['region=eu-west-1', v2, ''],
      ['*', v1, 'v2 breaks checkout'],
    ]);
    const times = all.body.events.map((e: any) => Date.parse(e.at));
    expect(times.every((t: number) => Number.isFinite(t))).toBe(true);
    expect([...times].sort((a: number, b: number) => b - a)).toEqual(times);
    expect(new Set(all.body.events.map((e: any) => e.author))).toEqual(new Set(['alice']));

    const latest = await call('GET', '/v1/topics/t.pin-audit/pin-history?limit=1');
    expect(latest.body.events).toEqual([all.body.events[0]]);
    expect((await call('GET', '/v1/topics/t.nope/pin-history')).body.error.code).toBe('TOPIC_NOT_FOUND');
    for (const limit of ['5000', '0', 'abc']) {
      const bad = await call('GET', `/v1/topics/t.pin-audit/pin-history?limit=${limit}`);
      expect(bad.status, limit).toBe(400);
      expect(bad.body.error.details.issues[0].path).toBe('limit');
    }
  });

  it('lists the latest 100 pin changes unless asked for more', async () => {
    await topic('t.pin-churn');
    const v1 = await publish('t.pin-churn', 'one');
    for (let i = 0; i < 101; i++)
      expect(
        (await call('PUT', '/v1/topics/t.pin-churn/pins/*', { version: v1, reason: `#${i}` })).status,
      ).toBe(200);
    const page = await call('GET', '/v1/topics/t.pin-churn/pin-history');
    expect(page.body.events).toHaveLength(100);
    expect(page.body.events[0].reason).toBe('#100');
    expect(page.body.events[99].reason).toBe('#1');
    expect((await call('GET', '/v1/topics/t.pin-churn/pin-history?limit=1000')).body.events).toHaveLength(
      101,
    );
  });

  it('lists history newest first with pagination', async () => {
    await topic('t.history');
    for (let i = 1; i <= 7; i++) await publish('t.history', `h${i}`);
    const first = await call('GET', '/v1/topics/t.history/versions?limit=3');
    expect(first.body.versions.map((v: any) => v.version)).toEqual([7, 6, 5]);
    const second = await call('GET', `/v1/topics/t.history/versions?limit=3&before=${first.body.nextBefore}`);
    expect(second.body.versions.map((v: any) => v.version)).toEqual([4, 3, 2]);
    const one = await call('GET', '/v1/topics/t.history/versions/3');
    expect(Buffer.from(one.body.pointer.data, 'base64').toString()).toBe('h3');
    const data = await fetch(`${server.httpUrl}/v1/topics/t.history/versions/3/data`);
    expect(await data.text()).toBe('h3');
  });
});

describe('bad input gets a clear 4xx with a stable code', () => {
  it('rejects an invalid topic name with the field path', async () => {
    const res = await call('PUT', '/v1/topics/Bad%20Name', {});
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(res.body.error.details.issues[0].path).toBe('topic');
  });

  it('rejects malformed JSON', async () => {
    const res = await call('PUT', '/v1/topics/t.bad', '{"retention":', {
      'content-type': 'application/json',
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('MALFORMED_REQUEST');
  });

  it('rejects bad scopes, metadata and identities naming each field', async () => {
    await topic('t.bad');
    const pub = await call('POST', '/v1/topics/t.bad/versions', {
      payload: { text: 'x' },
      scopes: ['*', 'planet=mars'],
      metadata: { 'bad key': 'v' },
    });
    expect(pub.status).toBe(400);
    const paths = pub.body.error.details.issues.map((i: any) => i.path);
    expect(paths).toContain('scopes.1');
    expect(paths).toContain('metadata.bad key');

    const badPoll = await call('POST', '/v1/poll', {
      identity: { region: 'eu west' },
      topics: [{ topic: 'UPPER' }],
    });
    expect(badPoll.status).toBe(400);
    expect(badPoll.body.error.details.issues.map((i: any) => i.path).sort()).toEqual([
      'identity.region',
      'topics.0.topic',
    ]);
  });

  it('answers unknown topics and versions with 404 codes', async () => {
    expect((await call('GET', '/v1/topics/t.nope')).body.error.code).toBe('TOPIC_NOT_FOUND');
    await topic('t.known');
    const missing = await call('GET', '/v1/topics/t.known/versions/9');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('VERSION_NOT_FOUND');
    const pin = await call('PUT', '/v1/topics/t.known/pins/*', { version: 9 });
    expect(pin.status).toBe(404);
    expect(pin.body.error.code).toBe('VERSION_NOT_FOUND');
    expect((await call('POST', '/v1/topics/t.nope/versions', { payload: { text: 'x' } })).status).toBe(404);
    expect((await call('GET', '/v1/nothing')).status).toBe(404);
  });

  it('rejects a version number that is not a positive integer', async () => {
    const res = await call('GET', '/v1/topics/t.known/versions/0');
    expect(res.status).toBe(400);
    expect(res.body.error.details.issues[0].path).toBe('version');
  });

  it('rejects a payload whose sha256 does not match', async () => {
    const res = await call('POST', '/v1/topics/t.known/versions', {
      payload: { text: 'x' },
      sha256: '0'.repeat(64),
    });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('INTEGRITY_MISMATCH');
    const history = await call('GET', '/v1/topics/t.known/versions');
    expect(history.body.versions).toEqual([]);
  });

  it('serves health, metrics and the OpenAPI document', async () => {
    expect((await call('GET', '/healthz')).body.status).toBe('ok');
    const metrics = await fetch(`${server.httpUrl}/metrics`);
    const text = await metrics.text();
    expect(text).toContain('meshpress_publishes_total');
    expect(text).toContain('meshpress_polls_total');
    const openapi = await call('GET', '/openapi.json');
    expect(openapi.body.openapi).toBe('3.1.0');
    expect(Object.keys(openapi.body.paths)).toContain('/v1/topics/{topic}/versions');
    expect(Object.keys(openapi.body.paths)).toContain('/v1/topics/{topic}/pin-history');
  });
});
