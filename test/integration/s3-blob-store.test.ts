import {
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import {
  type DataPointer,
  IntegrityError,
  type S3Location,
  sha256Hex,
  UnavailableError,
  ValidationError,
} from '@meshpress/client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BlobNotFoundError } from '../../server/src/blob/errors.js';
import { S3BlobStore, type S3BlobStoreOptions } from '../../server/src/blob/s3-blob-store.js';
import { blobStoreConformance, pseudoRandomBytes } from '../conformance/blob-store.js';
import { freePort, type S3Service, startS3, uniqueBucketName } from '../support/services/index.js';

const SECOND_REGION = 'eu-west-1';
const text = (value: string) => new TextEncoder().encode(value);

let s3: S3Service;

beforeAll(async () => {
  s3 = await startS3();
});

afterAll(async () => {
  await s3?.stop();
});

function options(
  buckets: readonly { region: string; bucket: string }[],
  extra: Partial<S3BlobStoreOptions> = {},
): S3BlobStoreOptions {
  return {
    buckets: buckets.map((b) => ({ ...b, endpoint: s3.endpoint, forcePathStyle: true })),
    credentials: s3.credentials,
    requestTimeoutMs: 10_000,
    ...extra,
  };
}

function locationsOf(pointer: DataPointer): readonly S3Location[] {
  if (pointer.kind !== 's3') throw new Error(`expected an s3 pointer, got ${pointer.kind}`);
  return pointer.locations;
}

async function overwrite(location: S3Location, bytes: Uint8Array): Promise<void> {
  await s3.client.send(
    new PutObjectCommand({
      Bucket: location.bucket,
      Key: location.key,
      Body: bytes,
      ContentLength: bytes.length,
    }),
  );
}

async function readDirect(location: S3Location): Promise<Uint8Array> {
  const response = await s3.client.send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key }));
  return response.Body!.transformToByteArray();
}

async function exists(bucket: string, key: string): Promise<boolean> {
  try {
    await s3.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch {
    return false;
  }
}

async function harnessFor(regions: readonly string[]) {
  const buckets = regions.map((region) => ({ region, bucket: uniqueBucketName(`conf-${region}`) }));
  for (const b of buckets) await s3.createBucket(b.bucket);
  return {
    store: new S3BlobStore(options(buckets, { prefix: 'meshpress/test' })),
    async corrupt(pointer: DataPointer, bytes: Uint8Array) {
      for (const location of locationsOf(pointer)) await overwrite(location, bytes);
    },
  };
}

blobStoreConformance('S3BlobStore, one bucket', () => harnessFor(['us-east-1']));
blobStoreConformance('S3BlobStore, two regional buckets', () => harnessFor(['us-east-1', SECOND_REGION]));

describe('S3BlobStore across regions', () => {
  let first: { region: string; bucket: string };
  let second: { region: string; bucket: string };
  let store: S3BlobStore;

  beforeEach(async () => {
    first = { region: 'us-east-1', bucket: uniqueBucketName('primary') };
    second = { region: SECOND_REGION, bucket: uniqueBucketName('secondary') };
    await s3.createBucket(first.bucket);
    await s3.createBucket(second.bucket);
    store = new S3BlobStore(options([first, second]));
  });

  afterEach(async () => {
    await store.close();
  });

  it('stores a payload in every bucket and lists the locations in configured order', async () => {
    const data = pseudoRandomBytes(10_000, 1);
    const sha = sha256Hex(data);
    const pointer = await store.putPayload(data, sha);
    expect(pointer).toEqual({
      kind: 's3',
      locations: [
        { region: 'us-east-1', bucket: first.bucket, key: `blobs/${sha}` },
        { region: SECOND_REGION, bucket: second.bucket, key: `blobs/${sha}` },
      ],
    });
    for (const location of locationsOf(pointer)) {
      expect(sha256Hex(await readDirect(location))).toBe(sha);
    }
  });

  it('reads from the second region when the first copy was deleted', async () => {
    const data = text('routes v7');
    const sha = sha256Hex(data);
    const pointer = await store.putPayload(data, sha);
    const [a] = locationsOf(pointer);
    await s3.client.send(new DeleteObjectCommand({ Bucket: a!.bucket, Key: a!.key }));
    expect(await store.getPayload(pointer, sha)).toEqual(data);
  });

  it('reads from the second region when the first bucket no longer exists', async () => {
    const data = text('routes v8');
    const sha = sha256Hex(data);
    const pointer = await store.putPayload(data, sha);
    const [a] = locationsOf(pointer);
    await s3.client.send(new DeleteObjectCommand({ Bucket: a!.bucket, Key: a!.key }));
    await s3.client.send(new DeleteBucketCommand({ Bucket: a!.bucket }));
    expect(await store.getPayload(pointer, sha)).toEqual(data);
  });

  it('reads from the next location when the first names a bucket that never existed', async () => {
    const data = text('routes v9');
    const sha = sha256Hex(data);
    const stored = locationsOf(await store.putPayload(data, sha));
    const pointer: DataPointer = {
      kind: 's3',
      locations: [
        { region: 'ap-south-1', bucket: uniqueBucketName('missing'), key: `blobs/${sha}` },
        stored[1]!,
      ],
    };
    expect(await store.getPayload(pointer, sha)).toEqual(data);
  });

  it('skips a corrupt copy and serves the intact one from the next region', async () => {
    const data = pseudoRandomBytes(2048, 9);
    const sha = sha256Hex(data);
    const pointer = await store.putPayload(data, sha);
    await overwrite(locationsOf(pointer)[0]!, pseudoRandomBytes(2048, 10));
    expect(sha256Hex(await store.getPayload(pointer, sha))).toBe(sha);
  });

  it('reports IntegrityError when every copy is corrupt, and BlobNotFoundError when every copy is gone', async () => {
    const data = text('doomed');
    const sha = sha256Hex(data);
    const pointer = await store.putPayload(data, sha);
    for (const location of locationsOf(pointer)) await overwrite(location, text('DOOMED'));
    await expect(store.getPayload(pointer, sha)).rejects.toBeInstanceOf(IntegrityError);
    await store.deletePayload(pointer);
    for (const location of locationsOf(pointer))
      expect(await exists(location.bucket, location.key)).toBe(false);
    await expect(store.getPayload(pointer, sha)).rejects.toBeInstanceOf(BlobNotFoundError);
  });

  it('re-uploads a copy whose size is wrong instead of trusting it', async () => {
    const data = pseudoRandomBytes(5000, 2);
    const sha = sha256Hex(data);
    const pointer = await store.putPayload(data, sha);
    const [a] = locationsOf(pointer);
    await overwrite(a!, data.subarray(0, 100));
    await store.putPayload(data, sha);
    expect(sha256Hex(await readDirect(a!))).toBe(sha);
  });

  it('fails a put with UnavailableError when one configured bucket does not exist', async () => {
    const broken = new S3BlobStore(
      options([first, { region: SECOND_REGION, bucket: uniqueBucketName('absent') }]),
    );
    const data = text('x');
    await expect(broken.putPayload(data, sha256Hex(data))).rejects.toBeInstanceOf(UnavailableError);
    await broken.close();
  });

  it('putObject writes the primary; getObject falls back only when the primary cannot answer', async () => {
    await store.putObject('fallback/cache.json', text('primary copy'));
    expect(await exists(second.bucket, 'fallback/cache.json')).toBe(false);
    expect(await store.getObject('fallback/cache.json')).toEqual(text('primary copy'));

    // A primary that answers "no such key" is authoritative: no stale copy from another region.
    await overwrite({ ...second, key: 'fallback/other.json' }, text('secondary copy'));
    expect(await store.getObject('fallback/other.json')).toBeUndefined();

    // A primary bucket that is gone cannot answer, so the secondary is asked.
    await s3.client.send(new DeleteObjectCommand({ Bucket: first.bucket, Key: 'fallback/cache.json' }));
    await s3.client.send(new DeleteBucketCommand({ Bucket: first.bucket }));
    expect(await store.getObject('fallback/other.json')).toEqual(text('secondary copy'));
  });

  it('keeps keys under the configured prefix', async () => {
    const prefixed = new S3BlobStore(options([first], { prefix: 'meshpress/prod/' }));
    const data = text('prefixed');
    const sha = sha256Hex(data);
    const pointer = await prefixed.putPayload(data, sha);
    expect(locationsOf(pointer)[0]!.key).toBe(`meshpress/prod/blobs/${sha}`);
    await prefixed.putObject('fallback/cache.json', data);
    expect(await exists(first.bucket, 'meshpress/prod/fallback/cache.json')).toBe(true);
    await prefixed.close();
  });
});

describe('S3BlobStore failures and options', () => {
  it('maps an unreachable endpoint to UnavailableError with the network error as cause', async () => {
    const port = await freePort();
    const store = new S3BlobStore({
      buckets: [
        {
          region: 'us-east-1',
          bucket: 'unreachable',
          endpoint: `http://127.0.0.1:${port}`,
          forcePathStyle: true,
        },
      ],
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      maxAttempts: 1,
      requestTimeoutMs: 2_000,
    });
    const failure = await store.getObject('fallback/cache.json').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(UnavailableError);
    expect((failure as UnavailableError).cause).toBeInstanceOf(Error);
    await store.close();
  });

  it('rejects options without buckets, or with a malformed bucket, naming the field', () => {
    const issuesOf = (value: unknown): string[] => {
      try {
        new S3BlobStore(value as S3BlobStoreOptions);
      } catch (error) {
        expect(error).toBeInstanceOf(ValidationError);
        return (error as ValidationError).issues.map((issue) => issue.path);
      }
      return [];
    };
    expect(issuesOf({ buckets: [] })).toEqual(['buckets']);
    expect(issuesOf({ buckets: [{ region: 'us-east-1', bucket: 'Bad_Name' }] })).toEqual([
      'buckets.0.bucket',
    ]);
    expect(issuesOf({ buckets: [{ region: 'r', bucket: 'ok-bucket' }], prefix: '../up' })).toEqual([
      'prefix',
    ]);
  });
});
