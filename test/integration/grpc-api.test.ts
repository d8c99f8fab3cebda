import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadMeshpressProto } from '@meshpress/client';
import { service as healthService } from 'grpc-health-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ServerConfig } from '../../server/src/config.js';
import { ERROR_CODE_KEY, ERROR_DETAILS_KEY } from '../../server/src/grpc/index.js';
import { type RunningServer, startServer } from '../../server/src/server.js';

// --- a real server on loopback, and a plain grpc-js client built from the same proto -------------------

interface Started {
  server: RunningServer;
  client: grpc.Client;
  dispose(): Promise<void>;
}

async function start(config: Partial<ServerConfig> = {}): Promise<Started> {
  const dataDir = await mkdtemp(join(tmpdir(), 'meshpress-grpc-'));
  const server = await startServer({
    host: '127.0.0.1',
    httpPort: 0,
    grpcPort: 0,
    logLevel: 'silent',
    dataDir,
    shutdownGraceMs: 1_000,
    ...config,
  });
  const Meshpress = grpc.makeGenericClientConstructor(loadMeshpressProto().service, 'Meshpress');
  const client = new Meshpress(server.grpcAddress, grpc.credentials.createInsecure());
  return {
    server,
    client,
    async dispose() {
      client.close();
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

let main: Started;
beforeAll(async () => {
  main = await start();
});
afterAll(async () => {
  await main?.dispose();
});

function metadata(entries: Record<string, string> = {}): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const [key, value] of Object.entries(entries)) md.set(key, value);
  return md;
}

/** A unary call; resolves with the response and the trailers, rejects with the ServiceError. */
function call(
  method: string,
  request: object,
  md: grpc.Metadata = metadata(),
  client: grpc.Client = main.client,
): Promise<{ response: any; trailers: grpc.Metadata }> {
  return new Promise((resolve, reject) => {
    let response: any;
    let answered = false;
    let trailers: grpc.Metadata | undefined;
    const settle = () => {
      if (answered && trailers) resolve({ response, trailers });
    };
    const unary = (client as any)[method].bind(client) as (
      req: object,
      md: grpc.Metadata,
      cb: (err: grpc.ServiceError | null, res: any) => void,
    ) => grpc.ClientUnaryCall;
    const pending = unary(request, md, (err, res) => {
      if (err) return reject(err);
      response = res;
      answered = true;
      settle();
    });
    pending.on('status', (status: grpc.StatusObject) => {
      trailers = status.metadata;
      settle();
    });
  });
}

const rpc = async (method: string, request: object, md?: grpc.Metadata) =>
  (await call(method, request, md)).response;

/** The failure of a call, with its stable meshpress code and parsed details. */
async function failure(method: string, request: object, client?: grpc.Client) {
  const err = await call(method, request, metadata(), client).then(
    () => {
      throw new Error(`${method} unexpectedly succeeded`);
    },
    (e: grpc.ServiceError) => e,
  );
  const code = err.metadata.get(ERROR_CODE_KEY)[0];
  const details = err.metadata.get(ERROR_DETAILS_KEY)[0];
  return {
    status: err.code,
    message: err.details,
    code: code === undefined ? undefined : String(code),
    details: details === undefined ? undefined : JSON.parse(String(details)),
  };
}

function dataStream(
  request: object,
  client: grpc.Client = main.client,
): Promise<{ chunks: any[]; trailers: grpc.Metadata }> {
  return new Promise((resolve, reject) => {
    const chunks: any[] = [];
    const stream = (client as any).GetVersionData(request, metadata()) as grpc.ClientReadableStream<any>;
    stream.on('data', (chunk) => chunks.push(chunk));
    stream.on('error', reject);
    stream.on('status', (status: grpc.StatusObject) => {
      if (status.code === grpc.status.OK) resolve({ chunks, trailers: status.metadata });
    });
  });
}

const bytes = (text: string) => Buffer.from(text, 'utf8');
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
const EU = { app: 'checkout', region: 'eu-west-1', node: 'n1' };
const US = { app: 'checkout', region: 'us-east-1', node: 'n2' };

async function topic(name: string) {
  await rpc('PutTopic', { topic: name });
}
async function publish(name: string, text: string, scopes: string[] = []): Promise<number> {
  const { version } = await rpc('Publish', { topic: name, data: bytes(text), scopes });
  return version.version;
}
async function poll(identity: object, topics: object[], waitMs?: number): Promise<any[]> {
  const { updates } = await rpc('Poll', { identity, topics, ...(waitMs === undefined ? {} : { waitMs }) });
  return updates;
}

// --- the rpcs ---------------------------------------------------------------------------------------------

describe('topics', () => {
  it('creates, updates, lists in pages and reads a topic with its pins', async () => {
    const created = await rpc('PutTopic', {
      topic: 'g.crud',
      retention: { maxVersions: 5 },
      kind: 'mesh.routes.v1',
      description: 'routes of crud',
    });
    expect(created.created).toBe(true);
    expect(created.topic).toMatchObject({
      name: 'g.crud',
      kind: 'mesh.routes.v1',
      description: 'routes of crud',
      retention: { maxVersions: 5 },
      latestVersion: 0,
    });
    expect(created.topic.createdAtMs).toBeGreaterThan(Date.parse('2020-01-01'));

    const updated = await rpc('PutTopic', { topic: 'g.crud', retention: { maxAgeDays: 3 } });
    expect(updated.created).toBe(false);
    expect(updated.topic.retention.maxAgeDays).toBe(3);
    expect(updated.topic.retention.maxVersions).toBeUndefined();

    await topic('g.crud2');
    const first = await rpc('ListTopics', { after: 'g.crud', limit: 1 });
    expect(first.topics.map((t: any) => t.name)).toEqual(['g.crud2']);
    expect(first.nextAfter).toBe('g.crud2');
    const all = await rpc('ListTopics', {});
    expect(all.topics.map((t: any) => t.name)).toEqual(expect.arrayContaining(['g.crud', 'g.crud2']));

    const read = await rpc('GetTopic', { topic: 'g.crud' });
    expect(read.topic.name).toBe('g.crud');
    expect(read.pins).toEqual([]);
  });
});

describe('publish and read versions', () => {
  it('publishes inline bytes with metadata and the caller as publisher, and echoes the request id', async () => {
    await topic('g.inline');
    const payload = bytes('{"routes":[]}');
    const { response, trailers } = await call(
      'Publish',
      {
        topic: 'g.inline',
        data: payload,
        contentType: 'application/json',
        metadata: { commit: 'abc123' },
        sha256: sha256(payload),
      },
      metadata({ 'x-meshpress-principal': 'alice', 'x-request-id': 'req-42' }),
    );
    expect(trailers.get('x-request-id')).toEqual(['req-42']);
    expect(response.version).toMatchObject({
      topic: 'g.inline',
      version: 1,
      metadata: { commit: 'abc123' },
      size: payload.length,
      sha256: sha256(payload),
      contentType: 'application/json',
      publisher: 'alice',
      scopes: [{ scope: '*' }],
    });
    // Listings leave inline payloads out; GetVersion carries them.
    expect(response.version.pointer.direct.data).toBeUndefined();
    const { version } = await rpc('GetVersion', { topic: 'g.inline', version: 1 });
    expect(version.pointer.kind).toBe('direct');
    expect(Buffer.from(version.pointer.direct.data).equals(payload)).toBe(true);
    expect(version.committedAtMs).toBeGreaterThanOrEqual(version.createdAtMs);
  });

  it('stores a payload above 1 MiB in the blob store and streams it back byte-exact in chunks of at most 1 MiB', async () => {
    await topic('g.large');
    const payload = randomBytes(2 * 1024 * 1024 + 12_345);
    const { version } = await rpc('Publish', { topic: 'g.large', data: payload });
    expect(version.pointer.kind).toBe('local');
    expect(version.size).toBe(payload.length);

    const { chunks } = await dataStream({ topic: 'g.large', version: version.version });
    expect(chunks.length).toBe(3);
    expect(chunks[0].record).toMatchObject({ version: version.version, sha256: sha256(payload) });
    expect(chunks.slice(1).every((c) => c.record === null)).toBe(true);
    let offset = 0;
    for (const chunk of chunks) {
      expect(chunk.offset).toBe(offset);
      expect(chunk.data.length).toBeLessThanOrEqual(1024 * 1024);
      offset += chunk.data.length;
    }
    expect(Buffer.concat(chunks.map((c) => c.data)).equals(payload)).toBe(true);
  });

  it('streams an empty payload as one message carrying the record', async () => {
    await topic('g.empty');
    const { version } = await rpc('Publish', { topic: 'g.empty', data: Buffer.alloc(0) });
    const { chunks } = await dataStream({ topic: 'g.empty', version: version.version });
    expect(chunks).toHaveLength(1);
    expect(chunks[0].record.size).toBe(0);
    expect(chunks[0].data.length).toBe(0);
  });

  it('pages through the history newest first', async () => {
    await topic('g.history');
    for (let i = 1; i <= 5; i++) await publish('g.history', `v${i}`);
    const first = await rpc('ListVersions', { topic: 'g.history', limit: 2 });
    expect(first.versions.map((v: any) => v.version)).toEqual([5, 4]);
    expect(first.nextBefore).toBe(4);
    const second = await rpc('ListVersions', { topic: 'g.history', before: first.nextBefore, limit: 2 });
    expect(second.versions.map((v: any) => v.version)).toEqual([3, 2]);
    const last = await rpc('ListVersions', { topic: 'g.history', before: second.nextBefore, limit: 2 });
    expect(last.versions.map((v: any) => v.version)).toEqual([1]);
    expect(last.nextBefore).toBeUndefined();
  });

  it('adds scopes to an existing version, making it visible to more identities', async () => {
    await topic('g.scopes');
    await publish('g.scopes', 'global');
    const v2 = await publish('g.scopes', 'eu first', ['region=eu-west-1']);
    expect((await poll(US, [{ topic: 'g.scopes' }]))[0].version).toBe(1);

    const { version } = await rpc('AddScopes', {
      topic: 'g.scopes',
      version: v2,
      scopes: ['region=us-east-1'],
    });
    expect(version.scopes.map((s: any) => s.scope).sort()).toEqual(['region=eu-west-1', 'region=us-east-1']);
    expect((await poll(US, [{ topic: 'g.scopes' }]))[0].version).toBe(v2);
  });
});

describe('pins and resolution', () => {
  it('lets a scope-specific pin beat the global one, and unpinning restores the latest', async () => {
    await topic('g.pins');
    for (const text of ['one', 'two', 'three']) await publish('g.pins', text);

    const global = await rpc(
      'Pin',
      { topic: 'g.pins', version: 1, reason: 'bad rollout' },
      metadata({ 'x-meshpress-principal': 'oncall' }),
    );
    expect(global.pin).toMatchObject({ scope: '*', version: 1, reason: 'bad rollout', author: 'oncall' });
    await rpc('Pin', { topic: 'g.pins', scope: 'region=eu-west-1', version: 2 });

    const eu = await rpc('Resolve', { topic: 'g.pins', identity: EU });
    expect(eu.target).toMatchObject({
      version: 2,
      pinned: true,
      scope: 'region=eu-west-1',
      record: { version: 2 },
    });
    const us = await rpc('Resolve', { topic: 'g.pins', identity: US });
    expect(us.target).toMatchObject({ version: 1, pinned: true, scope: '*' });
    const read = await rpc('GetTopic', { topic: 'g.pins' });
    expect(read.pins.map((p: any) => p.scope).sort()).toEqual(['*', 'region=eu-west-1']);

    // A consumer already on v3 is rolled back by the pin.
    expect(await poll(EU, [{ topic: 'g.pins', currentVersion: 3 }])).toMatchObject([
      { version: 2, pinned: true },
    ]);

    expect(await rpc('Unpin', { topic: 'g.pins', scope: 'region=eu-west-1' })).toEqual({ removed: true });
    expect((await rpc('Resolve', { topic: 'g.pins', identity: EU })).target).toMatchObject({
      version: 1,
      pinned: true,
    });
    expect(await rpc('Unpin', { topic: 'g.pins', reason: 'fixed' })).toEqual({ removed: true });
    expect(await rpc('Unpin', { topic: 'g.pins' })).toEqual({ removed: false });
    expect((await rpc('Resolve', { topic: 'g.pins', identity: EU })).target).toMatchObject({
      version: 3,
      pinned: false,
    });
  });

  it('returns the pin history newest first, removals without a version, the latest `limit` of it', async () => {
    await topic('g.pin-history');
    const v1 = await publish('g.pin-history', 'one');
    const v2 = await publish('g.pin-history', 'two');
    const before = Date.now();
    const as = (principal: string) => metadata({ 'x-meshpress-principal': principal });
    await rpc('Pin', { topic: 'g.pin-history', version: v1, reason: 'bad rollout' }, as('alice'));
    await rpc('Pin', { topic: 'g.pin-history', scope: 'region=eu-west-1', version: v2 }, as('bob'));
    await rpc('Unpin', { topic: 'g.pin-history', reason: 'fixed' }, as('carol'));
    const after = Date.now();

    const history = await rpc('GetPinHistory', { topic: 'g.pin-history' });
    expect(history.topic).toBe('g.pin-history');
    expect(history.events).toMatchObject([
      { scope: '*', reason: 'fixed', author: 'carol' },
      { scope: 'region=eu-west-1', version: v2, reason: '', author: 'bob' },
      { scope: '*', version: v1, reason: 'bad rollout', author: 'alice' },
    ]);
    expect(history.events[0].version).toBeUndefined();
    const times = history.events.map((e: any) => e.atMs);
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(times.at(-1)).toBeGreaterThanOrEqual(before);
    expect(times[0]).toBeLessThanOrEqual(after);

    const latest = await rpc('GetPinHistory', { topic: 'g.pin-history', limit: 2 });
    expect(latest.events).toEqual(history.events.slice(0, 2));
  });

  it('resolves now, and answers no target for an identity nothing was published to or before the first publish', async () => {
    await topic('g.resolve');
    const v1 = await publish('g.resolve', 'eu only', ['region=eu-west-1']);
    const eu = await rpc('Resolve', { topic: 'g.resolve', identity: EU });
    expect(eu).toMatchObject({
      topic: 'g.resolve',
      target: { version: v1, pinned: false, scope: 'region=eu-west-1' },
    });
    expect((await rpc('Resolve', { topic: 'g.resolve', identity: US })).target).toBeNull();
    expect((await rpc('Resolve', { topic: 'g.resolve', identity: EU, atMs: 1 })).target).toBeNull();
  });
});

describe('poll', () => {
  it('follows currentVersion: the target when nothing is consumed, an empty list when up to date', async () => {
    await topic('g.poll');
    await publish('g.poll', 'one');
    const v2 = await publish('g.poll', 'two');

    const fresh = await poll(EU, [{ topic: 'g.poll' }, { topic: 'g.never-created' }]);
    expect(fresh).toHaveLength(1);
    expect(fresh[0]).toMatchObject({ topic: 'g.poll', version: v2, pinned: false });
    expect(Buffer.from(fresh[0].record.pointer.direct.data).toString()).toBe('two');

    expect(await poll(EU, [{ topic: 'g.poll', currentVersion: v2 }])).toEqual([]);
    expect(await poll(EU, [{ topic: 'g.poll', currentVersion: 1 }])).toMatchObject([{ version: v2 }]);
  });

  it('holds a long-poll until a publish lands, well before its waitMs', async () => {
    await topic('g.long');
    const v1 = await publish('g.long', 'one');
    const started = Date.now();
    const held = poll(EU, [{ topic: 'g.long', currentVersion: v1 }], 8_000);
    await vi.waitFor(() => expect(main.server.service.heldPolls).toBeGreaterThan(0));
    const v2 = await publish('g.long', 'two');
    expect(await held).toMatchObject([{ topic: 'g.long', version: v2 }]);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('releases a held long-poll when the caller cancels the call', async () => {
    await topic('g.cancel');
    const v1 = await publish('g.cancel', 'one');
    const before = main.server.service.heldPolls;
    const pending = (main.client as any).Poll(
      { identity: EU, topics: [{ topic: 'g.cancel', currentVersion: v1 }], waitMs: 60_000 },
      metadata(),
      () => undefined,
    ) as grpc.ClientUnaryCall;
    await vi.waitFor(() => expect(main.server.service.heldPolls).toBe(before + 1));
    pending.cancel();
    await vi.waitFor(() => expect(main.server.service.heldPolls).toBe(before));
  });

  it('reports which version each polling node runs through GetConsumers', async () => {
    await topic('g.consumers');
    const v1 = await publish('g.consumers', 'one');
    const v2 = await publish('g.consumers', 'two');
    await poll({ app: 'checkout', node: 'gc-1' }, [{ topic: 'g.consumers', currentVersion: v2 }]);
    await poll({ app: 'checkout', node: 'gc-2' }, [{ topic: 'g.consumers', currentVersion: v1 }]);
    const status = await rpc('GetConsumers', { topic: 'g.consumers' });
    expect(status.total).toBe(2);
    expect(status.distribution.map((d: any) => ({ version: d.version, nodes: d.nodes }))).toEqual([
      { version: v2, nodes: 1 },
      { version: v1, nodes: 1 },
    ]);
  });

  it('counts gRPC polls in the metrics', async () => {
    const text = await main.server.metrics.registry.getSingleMetricAsString('meshpress_polls_total');
    expect(text).toMatch(/meshpress_polls_total\{transport="grpc",outcome="update"\} [1-9]/);
    expect(text).toMatch(/meshpress_polls_total\{transport="grpc",outcome="none"\} [1-9]/);
  });
});

// --- failures ----------------------------------------------------------------------------------------

describe('bad input', () => {
  it.each([
    ['GetTopic', { topic: 'Not A Topic' }, 'topic'],
    ['PutTopic', { topic: '-bad' }, 'topic'],
    ['PutTopic', { topic: 'g.ok', retention: { maxVersions: 0 } }, 'retention.maxVersions'],
    ['PutTopic', { topic: 'g.ok', kind: 'mesh.unknown.v9' }, 'kind'],
    ['Publish', { topic: 'g.inline', data: bytes('x'), scopes: ['colour=blue'] }, 'scopes.0'],
    ['Publish', { topic: 'g.inline', data: bytes('x'), metadata: { 'bad key!': 'v' } }, 'metadata.bad key!'],
    ['Publish', { topic: 'g.inline', data: bytes('x'), sha256: 'nothex' }, 'sha256'],
    ['Publish', { topic: 'g.inline' }, 'payload'],
    [
      'Publish',
      { topic: 'g.inline', s3: { locations: [], size: 1, sha256: 'a'.repeat(64) } },
      's3.locations',
    ],
    ['GetVersion', { topic: 'g.inline', version: 0 }, 'version'],
    ['GetVersion', { topic: 'g.inline', version: -3 }, 'version'],
    ['ListVersions', { topic: 'g.inline', limit: 0 }, 'limit'],
    ['AddScopes', { topic: 'g.inline', version: 1, scopes: [] }, 'scopes'],
    ['Pin', { topic: 'g.inline', version: -1 }, 'version'],
    ['Pin', { topic: 'g.inline', scope: '', version: 1 }, 'scope'],
    ['GetPinHistory', { topic: 'g.inline', limit: 5000 }, 'limit'],
    ['GetPinHistory', { topic: 'g.inline', limit: 0 }, 'limit'],
    ['Resolve', { topic: 'g.inline', identity: { app: '' } }, 'identity.app'],
    ['Resolve', { topic: 'g.inline', atMs: -5 }, 'atMs'],
    ['Poll', { identity: EU, topics: [{ topic: 'g.inline', currentVersion: 0 }] }, 'topics.0.currentVersion'],
    ['Poll', { identity: EU, topics: [{ topic: 'g.inline' }], waitMs: -1 }, 'waitMs'],
    ['Poll', { identity: EU, topics: [{ topic: 'g.inline' }, { topic: 'g.inline' }] }, 'topics'],
  ])('%s %j is INVALID_ARGUMENT naming %s', async (method, request, path) => {
    const f = await failure(method, request);
    expect(f.status).toBe(grpc.status.INVALID_ARGUMENT);
    expect(f.code).toBe('VALIDATION_FAILED');
    expect(f.details.issues.map((i: any) => i.path)).toContain(path);
  });

  it('carries non-ASCII text in the details trailer as escaped JSON', async () => {
    const f = await failure('Publish', { topic: 'g.inline', data: bytes('x'), scopes: ['région=x'] });
    expect(f.code).toBe('VALIDATION_FAILED');
    expect(f.details.issues[0]).toMatchObject({
      path: 'scopes.0',
      message: expect.stringContaining('région'),
    });
  });

  it('cuts a long list of issues down to fit in metadata, saying how many were left out', async () => {
    const topics = Array.from({ length: 500 }, (_, i) => ({ topic: `Bad_Topic_${i}` }));
    const f = await failure('Poll', { identity: EU, topics });
    expect(f).toMatchObject({ status: grpc.status.INVALID_ARGUMENT, code: 'VALIDATION_FAILED' });
    expect(f.details.issues[0].path).toBe('topics.0.topic');
    expect(f.details.issues.length + f.details.omittedIssues).toBe(500);
  });

  it('answers NOT_FOUND with the stable code for unknown topics and versions', async () => {
    const topicMissing = await failure('GetTopic', { topic: 'g.missing' });
    expect(topicMissing).toMatchObject({
      status: grpc.status.NOT_FOUND,
      code: 'TOPIC_NOT_FOUND',
      details: { topic: 'g.missing' },
    });
    expect((await failure('Publish', { topic: 'g.missing', data: bytes('x') })).code).toBe('TOPIC_NOT_FOUND');
    expect((await failure('Resolve', { topic: 'g.missing', identity: EU })).code).toBe('TOPIC_NOT_FOUND');
    expect(await failure('GetPinHistory', { topic: 'g.missing' })).toMatchObject({
      status: grpc.status.NOT_FOUND,
      code: 'TOPIC_NOT_FOUND',
    });
    const versionMissing = await failure('GetVersion', { topic: 'g.inline', version: 999 });
    expect(versionMissing).toMatchObject({ status: grpc.status.NOT_FOUND, code: 'VERSION_NOT_FOUND' });
    expect((await failure('Pin', { topic: 'g.inline', version: 999 })).code).toBe('VERSION_NOT_FOUND');

    const streamed = await dataStream({ topic: 'g.inline', version: 999 }).then(
      () => undefined,
      (e: grpc.ServiceError) => e,
    );
    expect(streamed?.code).toBe(grpc.status.NOT_FOUND);
    expect(streamed?.metadata.get(ERROR_CODE_KEY)).toEqual(['VERSION_NOT_FOUND']);
  });

  it('answers INVALID_ARGUMENT to bytes that are not a protobuf message, and keeps serving', async () => {
    const raw = new grpc.Client(main.server.grpcAddress, grpc.credentials.createInsecure());
    const err = await new Promise<grpc.ServiceError>((resolve) => {
      raw.makeUnaryRequest(
        '/meshpress.v1.Meshpress/GetTopic',
        (x: Buffer) => x,
        (x: Buffer) => x,
        Buffer.from([0xff, 0xff, 0xff]),
        (e) => resolve(e as grpc.ServiceError),
      );
    });
    raw.close();
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.metadata.get(ERROR_CODE_KEY)).toEqual(['MALFORMED_REQUEST']);
    expect((await rpc('GetTopic', { topic: 'g.inline' })).topic.name).toBe('g.inline');
  });
});

describe('health', () => {
  it('answers SERVING for the server and for meshpress.v1.Meshpress', async () => {
    const Health = grpc.makeGenericClientConstructor(healthService, 'Health');
    const health = new Health(main.server.grpcAddress, grpc.credentials.createInsecure());
    for (const service of ['', 'meshpress.v1.Meshpress']) {
      const answer = await call('Check', { service }, metadata(), health);
      expect(answer.response.status).toBe('SERVING');
    }
    health.close();
  });
});

describe('limits and shutdown', () => {
  let small: Started;
  beforeAll(async () => {
    small = await start({ maxPayloadBytes: 1024 * 1024, shutdownGraceMs: 300 });
  });
  afterAll(async () => {
    await small?.dispose();
  });

  it('refuses payloads above the limit with RESOURCE_EXHAUSTED, with the stable code when the service sees them', async () => {
    await call('PutTopic', { topic: 'g.small' }, metadata(), small.client);
    const over = await failure(
      'Publish',
      { topic: 'g.small', data: Buffer.alloc(1024 * 1024 + 1) },
      small.client,
    );
    expect(over).toMatchObject({ status: grpc.status.RESOURCE_EXHAUSTED, code: 'PAYLOAD_TOO_LARGE' });
    // Beyond payload limit + envelope, grpc-js refuses the message before it is decoded.
    const huge = await failure(
      'Publish',
      { topic: 'g.small', data: Buffer.alloc(3 * 1024 * 1024) },
      small.client,
    );
    expect(huge.status).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const fits = await call(
      'Publish',
      { topic: 'g.small', data: Buffer.alloc(1024 * 1024) },
      metadata(),
      small.client,
    );
    expect(fits.response.version.size).toBe(1024 * 1024);
  });

  it('reports NOT_SERVING to health watchers as soon as the server starts draining', async () => {
    const Health = grpc.makeGenericClientConstructor(healthService, 'Health');
    const health = new Health(small.server.grpcAddress, grpc.credentials.createInsecure());
    const statuses: string[] = [];
    const watch = (health as any).Watch(
      { service: 'meshpress.v1.Meshpress' },
      metadata(),
    ) as grpc.ClientReadableStream<any>;
    watch.on('data', (message) => statuses.push(message.status));
    watch.on('error', () => undefined);
    await vi.waitFor(() => expect(statuses).toEqual(['SERVING']));
    const closed = small.server.close();
    await vi.waitFor(() => expect(statuses).toEqual(['SERVING', 'NOT_SERVING']));
    await closed;
    health.close();
  });
});
