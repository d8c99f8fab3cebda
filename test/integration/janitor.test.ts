import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { type Clock, ManualClock, systemClock } from '@meshpress/client';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { S3BlobStore } from '../../server/src/blob/s3-blob-store.js';
import { SqliteConfigStore } from '../../server/src/store/sqlite/sqlite-config-store.js';
import { type Janitor, startJanitor } from '../../server/src/tasks/janitor.js';
import { DAY_MS } from '../../server/src/tasks/janitor-rules.js';
import { type S3Service, startS3, uniqueBucketName } from '../support/services/index.js';
import { http, startTestServer, type TestServer } from '../support/test-server.js';

/*
 * A real server (SQLite file store, S3 blob store on s3rver with two regional buckets and a key prefix)
 * takes publishes, pins and scopes through its REST API; the janitor shares its store and blob store, as
 * it will in main. After a run, everything is checked from the outside: REST answers and S3 objects.
 */

const US = 'us-east-1';
const EU = 'eu-west-1';
const INLINE_LIMIT = 64;
const PREFIX = 'meshpress/it';

let s3: S3Service;
let server: TestServer;
let store: SqliteConfigStore;
let blobs: S3BlobStore;
let dataDir: string;
const buckets = { us: uniqueBucketName('janitor-us'), eu: uniqueBucketName('janitor-eu') };
const teamBucket = uniqueBucketName('team-configs');
const cleanups: (() => Promise<void>)[] = [];

const call = (method: string, path: string, body?: unknown) => http(server.httpUrl, method, path, body);

beforeAll(async () => {
  s3 = await startS3();
  for (const bucket of [buckets.us, buckets.eu, teamBucket]) await s3.createBucket(bucket);
  dataDir = await mkdtemp(join(tmpdir(), 'meshpress-janitor-it-'));
  store = await SqliteConfigStore.open({ path: join(dataDir, 'store.db') });
  blobs = new S3BlobStore({
    buckets: [
      { region: US, bucket: buckets.us, endpoint: s3.endpoint, forcePathStyle: true },
      { region: EU, bucket: buckets.eu, endpoint: s3.endpoint, forcePathStyle: true },
    ],
    credentials: s3.credentials,
    prefix: PREFIX,
  });
  // The server owns (and closes) the store and blob store.
  server = await startTestServer({ inlineLimitBytes: INLINE_LIMIT }, { store, blobs });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await server?.dispose();
  await s3?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

function janitor(clock: Clock = systemClock): Janitor {
  const started = startJanitor({
    store,
    blobs,
    clock,
    logger: pino({ level: 'silent' }),
    intervalMs: 3_600_000,
    instanceId: 'integration-janitor',
  });
  cleanups.push(() => started.close());
  return started;
}

async function topic(name: string, retention: object): Promise<void> {
  const res = await call('PUT', `/v1/topics/${name}`, { retention });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}

/** A payload above the inline limit, so it is stored in S3 under `<prefix>/blobs/<sha256>`. */
function large(label: string): string {
  return `${label} `.padEnd(INLINE_LIMIT * 2, '.');
}

async function publish(name: string, body: object): Promise<number> {
  const res = await call('POST', `/v1/topics/${name}/versions`, body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.version;
}

const publishText = (name: string, text: string, scopes?: string[]) =>
  publish(name, { payload: { text }, ...(scopes ? { scopes } : {}) });

async function history(name: string): Promise<number[]> {
  const res = await call('GET', `/v1/topics/${name}/versions?limit=1000`);
  expect(res.status).toBe(200);
  return res.body.versions.map((v: { version: number }) => v.version);
}

async function poll(identity: object, name: string, currentVersion?: number) {
  const res = await call('POST', '/v1/poll', {
    identity,
    topics: [{ topic: name, ...(currentVersion === undefined ? {} : { currentVersion }) }],
  });
  expect([200, 204]).toContain(res.status);
  const update = res.status === 204 ? undefined : res.body.updates[0];
  return update && { version: update.version as number, pinned: update.pinned as boolean };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

async function exists(bucket: string, key: string): Promise<boolean> {
  try {
    await s3.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch {
    return false;
  }
}

/** Whether the payload's content-addressed copies exist, in [us, eu]. */
async function stored(text: string): Promise<[boolean, boolean]> {
  const key = `${PREFIX}/blobs/${sha256(text)}`;
  return [await exists(buckets.us, key), await exists(buckets.eu, key)];
}

describe('janitor against a running server', () => {
  it('purges beyond retention, keeping pins and scope heads, and deletes only the orphaned blobs', async () => {
    const name = 'it.routes';
    await topic(name, { maxVersions: 2 });
    const canary = await publishText(name, large('canary'), ['app=canary']);
    const pinned = await publishText(name, large('known good'));
    const gone = [await publishText(name, large('gone 1')), await publishText(name, large('gone 2'))];
    gone.push(await publishText(name, 'inline, no blob'));
    const newer = await publishText(name, large('newer'));
    const newest = await publishText(name, large('newest'));
    const pin = await call('PUT', `/v1/topics/${name}/pins/${encodeURIComponent('app=web')}`, {
      version: pinned,
      reason: 'hold',
    });
    expect(pin.status).toBe(200);
    expect(await stored(large('gone 1'))).toEqual([true, true]);
    const identities = [{ app: 'canary' }, { app: 'web' }, { app: 'api', region: EU }];
    /** What each identity gets now: a first poll and the resolve endpoint. */
    const answers = () =>
      Promise.all(
        identities.map(async (identity) => ({
          poll: await poll(identity, name),
          resolve: (await call('GET', `/v1/topics/${name}/resolve?app=${identity.app}`)).body,
        })),
      );
    const answersBefore = await answers();

    const report = await janitor().runOnce();

    expect(report).toMatchObject({
      leader: true,
      versionsPurged: 3,
      blobsDeleted: 2,
      failedTopics: [],
      failedBlobs: 0,
      topics: [{ topic: name, versionsPurged: 3, blobsDeleted: 2 }],
    });
    expect(await history(name)).toEqual([newest, newer, pinned, canary]);
    for (const version of gone) {
      const record = await call('GET', `/v1/topics/${name}/versions/${version}`);
      expect(record.status).toBe(404);
      expect(record.body.error.code).toBe('VERSION_NOT_FOUND');
      expect((await call('GET', `/v1/topics/${name}/versions/${version}/data`)).status).toBe(404);
    }
    expect(await stored(large('gone 1'))).toEqual([false, false]);
    expect(await stored(large('gone 2'))).toEqual([false, false]);
    for (const kept of ['canary', 'known good', 'newer', 'newest'])
      expect(await stored(large(kept))).toEqual([true, true]);
    const data = await fetch(`${server.httpUrl}/v1/topics/${name}/versions/${canary}/data`);
    expect(await data.text()).toBe(large('canary'));

    // Every identity still gets what it got before the purge, and nodes on a purged version move on.
    expect(await answers()).toEqual(answersBefore);
    expect(await poll({ app: 'web' }, name, gone[0])).toEqual({ version: pinned, pinned: true });
    expect(await poll({ app: 'api' }, name, gone[1])).toEqual({ version: newest, pinned: false });
    expect(await poll({ app: 'api' }, name, newest)).toBeUndefined();
  });

  it("never deletes a publisher's own S3 object, and keeps a blob another topic still uses", async () => {
    const own = 'it.by-pointer';
    const other = 'it.sharing';
    await topic(own, { maxVersions: 1 });
    await topic(other, { maxVersions: 10 });
    const teamKey = `exports/${randomBytes(4).toString('hex')}/routes.json`;
    const teamBytes = new TextEncoder().encode(large('owned by the team'));
    await s3.client.send(new PutObjectCommand({ Bucket: teamBucket, Key: teamKey, Body: teamBytes }));
    const byPointer = await publish(own, {
      payload: {
        s3: {
          locations: [{ region: US, bucket: teamBucket, key: teamKey }],
          size: teamBytes.byteLength,
          sha256: createHash('sha256').update(teamBytes).digest('hex'),
        },
      },
    });
    const shared = await publishText(own, large('shared payload'));
    const sharedElsewhere = await publishText(other, large('shared payload'));
    await publishText(own, large('latest of own'));

    const report = await janitor().runOnce();

    expect(report.topics).toEqual([{ topic: own, versionsPurged: 2, blobsDeleted: 0 }]);
    expect((await call('GET', `/v1/topics/${own}/versions/${byPointer}`)).status).toBe(404);
    expect((await call('GET', `/v1/topics/${own}/versions/${shared}`)).status).toBe(404);
    const team = await s3.client.send(new GetObjectCommand({ Bucket: teamBucket, Key: teamKey }));
    expect(await team.Body?.transformToString()).toBe(large('owned by the team'));
    expect(await stored(large('shared payload'))).toEqual([true, true]);
    const data = await fetch(`${server.httpUrl}/v1/topics/${other}/versions/${sharedElsewhere}/data`);
    expect(await data.text()).toBe(large('shared payload'));
  });

  it('never deletes an object in a bucket it is not configured with, even at a look-alike blobs/<sha> key', async () => {
    const name = 'it.look-alike';
    await topic(name, { maxVersions: 1 });
    const bytes = new TextEncoder().encode(large('team object at a meshpress-like key'));
    const digest = createHash('sha256').update(bytes).digest('hex');
    const key = `${PREFIX}/blobs/${digest}`;
    await s3.client.send(new PutObjectCommand({ Bucket: teamBucket, Key: key, Body: bytes }));
    await publish(name, {
      payload: {
        s3: { locations: [{ region: US, bucket: teamBucket, key }], size: bytes.byteLength, sha256: digest },
      },
    });
    await publishText(name, large('newer than the team object'));

    const report = await janitor().runOnce();

    expect(report.topics).toEqual([{ topic: name, versionsPurged: 1, blobsDeleted: 0 }]);
    expect(report.failedBlobs).toBe(0);
    expect(await exists(teamBucket, key)).toBe(true);
  });

  it('purges by age with the clock the janitor is given', async () => {
    const name = 'it.aged';
    await topic(name, { maxAgeDays: 1 });
    const versions = [];
    for (let i = 1; i <= 3; i++) versions.push(await publishText(name, large(`aged ${i}`)));

    expect((await janitor().runOnce()).versionsPurged).toBe(0);
    const twoDaysLater = new ManualClock(Date.now() + 2 * DAY_MS);
    const report = await janitor(twoDaysLater).runOnce();

    // The newest stays: it is the global scope's head, whatever its age.
    expect(report.topics).toEqual([{ topic: name, versionsPurged: 2, blobsDeleted: 2 }]);
    expect(await history(name)).toEqual([versions[2]]);
    expect(await poll({ app: 'api' }, name)).toEqual({ version: versions[2], pinned: false });
  });

  it('lets a publish reuse the bytes of a purged version right after the purge', async () => {
    const name = 'it.republish';
    await topic(name, { maxVersions: 1 });
    await publishText(name, large('comes back'));
    await publishText(name, large('in between'));
    await janitor().runOnce();
    expect(await stored(large('comes back'))).toEqual([false, false]);

    const again = await publishText(name, large('comes back'));

    expect(await stored(large('comes back'))).toEqual([true, true]);
    const data = await fetch(`${server.httpUrl}/v1/topics/${name}/versions/${again}/data`);
    expect(await data.text()).toBe(large('comes back'));
  });
});
