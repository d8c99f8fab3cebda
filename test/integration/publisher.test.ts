import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import {
  ClosedError,
  IntegrityError,
  MalformedRequestError,
  PayloadTooLargeError,
  sha256Hex,
  TopicNotFoundError,
  UnavailableError,
  ValidationError,
  VersionNotFoundError,
} from '@meshpress/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeshpressAdmin } from '../../client/src/publisher/admin.js';
import type { UploadProgress } from '../../client/src/publisher/progress.js';
import { type S3Service, startS3, uniqueBucketName } from '../support/services/index.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const INLINE_LIMIT = 64 * 1024;

let server: TestServer;
let s3: S3Service;
let dir: string;
let admin: MeshpressAdmin;
let s3Admin: MeshpressAdmin;
const buckets = { us: uniqueBucketName('pub-us'), eu: uniqueBucketName('pub-eu') };

beforeAll(async () => {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  [server, s3, dir] = await Promise.all([
    startTestServer({ inlineLimitBytes: INLINE_LIMIT }),
    startS3(),
    mkdtemp(join(tmpdir(), 'meshpress-publisher-')),
  ]);
  await Promise.all([s3.createBucket(buckets.us), s3.createBucket(buckets.eu)]);
  admin = new MeshpressAdmin({ baseUrl: server.httpUrl, principal: 'alice', inlineLimitBytes: INLINE_LIMIT });
  s3Admin = new MeshpressAdmin({
    baseUrl: server.httpUrl,
    principal: 'pipeline',
    inlineLimitBytes: INLINE_LIMIT,
    s3: {
      buckets: [
        { region: 'us-east-1', bucket: buckets.us, endpoint: s3.endpoint, forcePathStyle: true },
        { region: 'eu-west-1', bucket: buckets.eu, endpoint: s3.endpoint, forcePathStyle: true },
      ],
      credentials: s3.credentials,
    },
  });
});

afterAll(async () => {
  await admin?.close();
  await s3Admin?.close();
  await server?.dispose();
  await s3?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function objectBytes(bucket: string, key: string): Promise<Buffer> {
  const res = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

describe('topics', () => {
  it('creates, reports created vs replaced, updates one field keeping the others, reads with pins', async () => {
    const first = await admin.createTopic('pub.topics', {
      retention: { maxVersions: 7 },
      kind: 'mesh.routes.v1',
      description: 'routes',
    });
    expect(first.created).toBe(true);
    expect(first.topic).toMatchObject({ name: 'pub.topics', kind: 'mesh.routes.v1', latestVersion: 0 });
    expect(
      (await admin.createTopic('pub.topics', { retention: { maxVersions: 7 }, kind: 'mesh.routes.v1' }))
        .created,
    ).toBe(false);
    const updated = await admin.updateTopic('pub.topics', { description: 'inventory routes' });
    expect(updated).toMatchObject({
      description: 'inventory routes',
      kind: 'mesh.routes.v1',
      retention: { maxVersions: 7 },
    });
    const details = await admin.getTopic('pub.topics');
    expect(details.topic.name).toBe('pub.topics');
    expect(details.pins).toEqual([]);
  });

  it('iterates every topic across pages, in name order', async () => {
    for (const n of ['a', 'b', 'c', 'd', 'e']) await admin.createTopic(`pub.list.${n}`);
    const names: string[] = [];
    for await (const topic of admin.listTopics({ after: 'pub.list', pageSize: 2 }))
      if (topic.name.startsWith('pub.list.')) names.push(topic.name);
    expect(names).toEqual(['pub.list.a', 'pub.list.b', 'pub.list.c', 'pub.list.d', 'pub.list.e']);
    const page = await admin.listTopicsPage({ after: 'pub.list', limit: 2 });
    expect(page.topics.map((t) => t.name)).toEqual(['pub.list.a', 'pub.list.b']);
    expect(page.nextAfter).toBe('pub.list.b');
  });

  it('updating a topic that does not exist is a TopicNotFoundError', async () => {
    await expect(admin.updateTopic('pub.nope', { description: 'x' })).rejects.toBeInstanceOf(
      TopicNotFoundError,
    );
  });
});

describe('publish and download inline payloads', () => {
  beforeAll(async () => {
    await admin.createTopic('pub.inline');
  });

  it('publishes text, bytes, JSON and YAML documents and files, each downloaded byte-exact', async () => {
    const text = await admin.publish('pub.inline', 'hello mesh', { metadata: { build: '1' } });
    expect(text).toMatchObject({
      contentType: 'text/plain; charset=utf-8',
      publisher: 'alice',
      metadata: { build: '1' },
    });

    const bytes = randomBytes(1000);
    const raw = await admin.publish('pub.inline', bytes, {
      scopes: ['region=eu-west-1', 'app=checkout,region=us-east-1'],
      metadata: { 'git.sha': 'abc123', owner: 'team/mesh' },
    });
    expect(raw.contentType).toBe('application/octet-stream');
    expect(raw.sha256).toBe(sha256Hex(bytes));
    expect(raw.metadata).toEqual({ 'git.sha': 'abc123', owner: 'team/mesh' });
    expect(raw.scopes.map((s) => s.scope)).toEqual(['app=checkout,region=us-east-1', 'region=eu-west-1']);

    const doc = await admin.publish('pub.inline', { document: { routes: [{ prefix: '/a', weight: 1 }] } });
    const yaml = await admin.publish('pub.inline', { yaml: 'routes:\n  - prefix: /a\n    weight: 1\n' });
    expect(doc.contentType).toBe('application/json');
    expect(yaml.sha256).toBe(doc.sha256);

    const path = join(dir, 'config.json');
    await writeFile(path, '{"from":"file"}');
    const file = await admin.publish('pub.inline', { file: path });
    expect(file.contentType).toBe('application/json');

    expect(Buffer.from((await admin.download('pub.inline', text.version)).data).toString()).toBe(
      'hello mesh',
    );
    expect(Buffer.from((await admin.download('pub.inline', raw.version)).data).equals(bytes)).toBe(true);
    expect(
      JSON.parse(Buffer.from((await admin.download('pub.inline', yaml.version)).data).toString()),
    ).toEqual({
      routes: [{ prefix: '/a', weight: 1 }],
    });
    expect(Buffer.from((await admin.download('pub.inline', file.version)).data).toString()).toBe(
      '{"from":"file"}',
    );
    const record = await admin.getVersion('pub.inline', raw.version);
    expect(record.pointer.kind).toBe('direct');
  });

  it('publishes an empty payload and bytes with a JSON content type', async () => {
    const empty = await admin.publish('pub.inline', new Uint8Array(0));
    expect(empty.size).toBe(0);
    expect((await admin.download('pub.inline', empty.version)).data.byteLength).toBe(0);
    const json = await admin.publish('pub.inline', Buffer.from('[1,2]'), { contentType: 'application/json' });
    expect(json.contentType).toBe('application/json');
    expect(Buffer.from((await admin.download('pub.inline', json.version)).data).toString()).toBe('[1,2]');
  });

  it('refuses a payload that does not match the sha256 given with it, before sending it', async () => {
    await expect(admin.publish('pub.inline', 'x', { sha256: '0'.repeat(64) })).rejects.toBeInstanceOf(
      IntegrityError,
    );
  });

  it('rejects malformed YAML locally with MalformedRequestError', async () => {
    await expect(admin.publish('pub.inline', { yaml: 'a: [1, 2' })).rejects.toBeInstanceOf(
      MalformedRequestError,
    );
  });
});

describe('payloads above the inline limit', () => {
  beforeAll(async () => {
    await admin.createTopic('pub.large');
  });

  it('uploads to every regional bucket under blobs/<sha256>, publishes the s3 pointer, downloads byte-exact', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 11);
    const sha = sha256Hex(data);
    const progress: UploadProgress[] = [];
    const record = await s3Admin.publish('pub.large', data, {
      scopes: ['region=eu-west-1'],
      metadata: { source: 's3' },
      onProgress: (p) => progress.push(p),
    });
    expect(record).toMatchObject({
      size: data.length,
      sha256: sha,
      publisher: 'pipeline',
      metadata: { source: 's3' },
    });
    expect(record.pointer).toEqual({
      kind: 's3',
      locations: [
        { region: 'us-east-1', bucket: buckets.us, key: `blobs/${sha}` },
        { region: 'eu-west-1', bucket: buckets.eu, key: `blobs/${sha}` },
      ],
    });
    expect((await objectBytes(buckets.us, `blobs/${sha}`)).equals(data)).toBe(true);
    expect((await objectBytes(buckets.eu, `blobs/${sha}`)).equals(data)).toBe(true);

    const total = data.length * 2;
    expect(progress.at(-1)).toEqual({ sentBytes: total, totalBytes: total });
    expect(progress.length).toBeGreaterThan(4);
    for (let i = 1; i < progress.length; i++)
      expect(progress[i]!.sentBytes).toBeGreaterThanOrEqual(progress[i - 1]!.sentBytes);

    const stored = await s3Admin.getVersion('pub.large', record.version);
    expect(stored.pointer.kind).toBe('s3');
    const download = await s3Admin.download('pub.large', record.version);
    expect(Buffer.from(download.data).equals(data)).toBe(true);
  });

  it('without S3 options sends the bytes to the server, which keeps them in its blob store', async () => {
    const data = randomBytes(512 * 1024);
    let last: UploadProgress | undefined;
    const record = await admin.publish('pub.large', data, { onProgress: (p) => (last = p) });
    expect(record.pointer.kind).toBe('local');
    expect(last).toEqual({ sentBytes: data.length, totalBytes: data.length });
    expect(Buffer.from((await admin.download('pub.large', record.version)).data).equals(data)).toBe(true);
  });

  it('publishes a pointer to an object already in S3, and refuses corrupted bytes on download', async () => {
    const data = Buffer.from('already uploaded by the build system');
    const sha = sha256Hex(data);
    const key = `external/${sha}`;
    await s3.client.send(new PutObjectCommand({ Bucket: buckets.eu, Key: key, Body: data }));
    const record = await s3Admin.publishPointer(
      'pub.large',
      { locations: [{ region: 'eu-west-1', bucket: buckets.eu, key }], size: data.length, sha256: sha },
      { contentType: 'text/plain', scopes: ['region=eu-west-1'] },
    );
    expect(record.pointer).toEqual({
      kind: 's3',
      locations: [{ region: 'eu-west-1', bucket: buckets.eu, key }],
    });
    expect(Buffer.from((await s3Admin.download('pub.large', record.version)).data).equals(data)).toBe(true);

    await s3.client.send(
      new PutObjectCommand({ Bucket: buckets.eu, Key: key, Body: Buffer.from('tampered') }),
    );
    await expect(s3Admin.download('pub.large', record.version)).rejects.toBeInstanceOf(IntegrityError);
  });
});

describe('scopes, pins, history and resolution', () => {
  it('adds scopes, pins a URL-unsafe scope, resolves now and at an instant, unpins', async () => {
    await admin.createTopic('pub.pins');
    const v1 = await admin.publish('pub.pins', 'one');
    const v2 = await admin.publish('pub.pins', 'two', { scopes: ['region=eu-west-1'] });
    const eu = { app: 'checkout', region: 'eu-west-1', node: 'n1' };
    const us = { app: 'checkout', region: 'us-east-1', node: 'n2' };
    expect(await admin.resolve('pub.pins', eu)).toMatchObject({ version: v2.version, pinned: false });

    const widened = await admin.addScopes('pub.pins', v2.version, ['region=us-east-1']);
    expect(widened.scopes.map((s) => s.scope)).toEqual(['region=eu-west-1', 'region=us-east-1']);
    expect((await admin.resolve('pub.pins', us))?.version).toBe(v2.version);

    const pin = await admin.pin('pub.pins', v1.version, {
      scope: 'region=eu-west-1,app=checkout',
      reason: 'v2 breaks',
    });
    expect(pin).toMatchObject({
      scope: 'app=checkout,region=eu-west-1',
      version: v1.version,
      author: 'alice',
    });
    const pinned = await admin.resolve('pub.pins', eu);
    expect(pinned).toMatchObject({
      version: v1.version,
      pinned: true,
      scope: 'app=checkout,region=eu-west-1',
    });
    expect(pinned?.record?.sha256).toBe(v1.sha256);
    expect((await admin.getTopic('pub.pins')).pins.map((p) => p.scope)).toEqual([
      'app=checkout,region=eu-west-1',
    ]);

    expect(await admin.resolve('pub.pins', eu, v1.createdAt - 1)).toBeUndefined();
    expect((await admin.resolve('pub.pins', us, new Date(v2.createdAt)))?.version).toBeGreaterThanOrEqual(
      v1.version,
    );

    expect(await admin.unpin('pub.pins', { scope: 'app=checkout,region=eu-west-1' })).toEqual({
      removed: true,
    });
    expect(await admin.unpin('pub.pins', { scope: 'app=checkout,region=eu-west-1' })).toEqual({
      removed: false,
    });
    expect((await admin.resolve('pub.pins', eu))?.version).toBe(v2.version);

    await admin.pin('pub.pins', v1.version);
    expect((await admin.getTopic('pub.pins')).pins.map((p) => p.scope)).toEqual(['*']);
    expect(await admin.unpin('pub.pins')).toEqual({ removed: true });
  });

  it('lists the pin history newest first: a version for each pin set, none for a removal', async () => {
    await admin.createTopic('pub.pin-history');
    const v1 = await admin.publish('pub.pin-history', 'one');
    const v2 = await admin.publish('pub.pin-history', 'two');
    await admin.pin('pub.pin-history', v1.version, { reason: 'v2 breaks checkout' });
    await admin.pin('pub.pin-history', v2.version, { scope: 'region=eu-west-1' });
    await admin.unpin('pub.pin-history', { reason: 'fixed' });

    const history = await admin.pinHistory('pub.pin-history');
    expect(history.map((e) => [e.scope, e.version, e.reason, e.author])).toEqual([
      ['*', undefined, 'fixed', 'alice'],
      ['region=eu-west-1', v2.version, '', 'alice'],
      ['*', v1.version, 'v2 breaks checkout', 'alice'],
    ]);
    expect('version' in history[0]!).toBe(false);
    const times = history.map((e) => e.at);
    expect(times.every((t) => Number.isInteger(t) && t >= v2.createdAt)).toBe(true);
    expect([...times].sort((a, b) => b - a)).toEqual(times);

    expect(await admin.pinHistory('pub.pin-history', { limit: 2 })).toEqual(history.slice(0, 2));
    await expect(admin.pinHistory('pub.missing')).rejects.toBeInstanceOf(TopicNotFoundError);
    for (const limit of [0, 1001, 1.5]) {
      const error = await admin.pinHistory('pub.pin-history', { limit }).catch((e: unknown) => e);
      expect(error, `limit ${limit}`).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues.map((i) => i.path)).toEqual(['limit']);
    }
  });

  it('lists history newest first, by page and by iterator', async () => {
    await admin.createTopic('pub.history');
    for (let i = 1; i <= 5; i++) await admin.publish('pub.history', `h${i}`);
    const page = await admin.listVersionsPage('pub.history', { limit: 2 });
    expect(page.versions.map((v) => v.version)).toEqual([5, 4]);
    expect(page.nextBefore).toBe(4);
    const all: number[] = [];
    for await (const v of admin.listVersions('pub.history', { pageSize: 2 })) all.push(v.version);
    expect(all).toEqual([5, 4, 3, 2, 1]);
  });
});

describe('errors', () => {
  it('turns a server-side 400 into a ValidationError naming each bad field', async () => {
    await admin.createTopic('pub.errors');
    const error = await admin
      .publish('pub.errors', 'x', { scopes: ['*', 'planet=mars'], metadata: { 'bad key': 'v' } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    const paths = (error as ValidationError).issues.map((i) => i.path);
    expect(paths).toContain('scopes.1');
    expect(paths).toContain('metadata.bad key');

    const raw = await admin
      .publish('pub.errors', Buffer.from('x'), { scopes: ['planet=mars'] })
      .catch((e: unknown) => e);
    expect(raw).toBeInstanceOf(ValidationError);
    expect((raw as ValidationError).issues.map((i) => i.path)).toContain('scopes.0');
    // Sent as repeated `scope` and `meta.*` query parameters; reported under the options' names.
    const rawMany = await admin
      .publish('pub.errors', Buffer.from('x'), { scopes: ['*', 'planet=mars'], metadata: { 'bad key': 'v' } })
      .catch((e: unknown) => e);
    expect(rawMany).toBeInstanceOf(ValidationError);
    const rawPaths = (rawMany as ValidationError).issues.map((i) => i.path);
    expect(rawPaths).toContain('scopes.1');
    expect(rawPaths).toContain('metadata.bad key');

    const badName = await admin.getTopic('Bad Name').catch((e: unknown) => e);
    expect(badName).toBeInstanceOf(ValidationError);
    expect((badName as ValidationError).issues[0]?.path).toBe('topic');
  });

  it('decodes not-found answers into TopicNotFoundError and VersionNotFoundError', async () => {
    const topic = await admin.getTopic('pub.missing').catch((e: unknown) => e);
    expect(topic).toBeInstanceOf(TopicNotFoundError);
    expect((topic as TopicNotFoundError).topic).toBe('pub.missing');
    const version = await admin.download('pub.errors', 99).catch((e: unknown) => e);
    expect(version).toBeInstanceOf(VersionNotFoundError);
    expect((version as VersionNotFoundError).version).toBe(99);
    await expect(admin.publish('pub.missing', 'x')).rejects.toBeInstanceOf(TopicNotFoundError);
  });

  it("a payload over the server's limit is a PayloadTooLargeError, raw or inside the JSON envelope", async () => {
    const small = await startTestServer({ maxPayloadBytes: 64 * 1024 });
    const tight = new MeshpressAdmin({ baseUrl: small.httpUrl });
    try {
      await tight.createTopic('pub.limit');
      const data = randomBytes(100 * 1024);
      await expect(tight.publish('pub.limit', data)).rejects.toBeInstanceOf(PayloadTooLargeError);
      await expect(
        tight.publish('pub.limit', data, { contentType: 'application/json' }),
      ).rejects.toBeInstanceOf(PayloadTooLargeError);
      expect((await tight.listVersionsPage('pub.limit')).versions).toEqual([]);
    } finally {
      await tight.close();
      await small.dispose();
    }
  });

  it('a typed topic refuses a payload that is not a document', async () => {
    await admin.createTopic('pub.typed', { kind: 'mesh.policy.v1' });
    await expect(admin.publish('pub.typed', 'not json')).rejects.toBeInstanceOf(MalformedRequestError);
  });

  it('reports an unreachable server as UnavailableError after retrying idempotent calls', async () => {
    const port = await closedPort();
    const attempts: number[] = [];
    const offline = new MeshpressAdmin({
      baseUrl: `http://127.0.0.1:${port}`,
      retries: 2,
      retryBaseMs: 1,
      retryMaxMs: 1,
      random: () => {
        attempts.push(1);
        return 0;
      },
    });
    await expect(offline.getTopic('pub.x')).rejects.toBeInstanceOf(UnavailableError);
    expect(attempts).toHaveLength(2);
    // Publishing is not idempotent: one attempt only.
    await expect(offline.publish('pub.x', 'x')).rejects.toBeInstanceOf(UnavailableError);
    expect(attempts).toHaveLength(2);
    await offline.close();
  });

  it('refuses a base URL with credentials or a query, and names only origin and path in errors', async () => {
    for (const baseUrl of ['http://ci:s3cret@127.0.0.1:8080', 'http://127.0.0.1:8080/?token=s3cret']) {
      let error: unknown;
      try {
        new MeshpressAdmin({ baseUrl });
      } catch (e) {
        error = e;
      }
      expect(error, baseUrl).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues.map((i) => i.path)).toEqual(['baseUrl']);
      expect(JSON.stringify([(error as Error).message, (error as ValidationError).issues])).not.toContain(
        's3cret',
      );
    }
    const port = await closedPort();
    const offline = new MeshpressAdmin({ baseUrl: `http://127.0.0.1:${port}/meshpress/`, retries: 0 });
    const unreachable = await offline.getTopic('pub.x').catch((e: unknown) => e);
    expect((unreachable as Error).message).toContain(`cannot reach http://127.0.0.1:${port}/meshpress (`);
    await offline.close();
  });

  it('refuses calls after close, and close is idempotent', async () => {
    const closing = new MeshpressAdmin({ baseUrl: server.httpUrl });
    await closing.close();
    await closing.close();
    await expect(closing.getTopic('pub.errors')).rejects.toBeInstanceOf(ClosedError);
  });

  it('validates its options, naming each bad field', () => {
    const error = (() => {
      try {
        return new MeshpressAdmin({ baseUrl: 'ftp://x', timeoutMs: -1 });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((i) => i.path).sort()).toEqual(['baseUrl', 'timeoutMs']);
  });
});

/** A port nothing listens on: bound and released again. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 1));
    });
  });
}
