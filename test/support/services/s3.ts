import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BucketAlreadyOwnedByYou, CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';

/** Point integration tests at an existing S3 API, e.g. `http://minioadmin:minioadmin@127.0.0.1:9000`. */
export const S3_URL_ENV = 'MESHPRESS_TEST_S3_URL';
/** Signing region for the service named by MESHPRESS_TEST_S3_URL (default us-east-1). */
export const S3_REGION_ENV = 'MESHPRESS_TEST_S3_REGION';

const DEFAULT_REGION = 'us-east-1';
const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface S3Service {
  /** Base URL to pass as `endpoint` (use path-style addressing). */
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: S3Credentials;
  /** A client for direct manipulation in tests (delete an object behind a store's back, …). */
  readonly client: S3Client;
  /** Creates the bucket; an existing bucket of ours is fine. */
  createBucket(name: string): Promise<void>;
  /** Stops what startS3 started and removes its files; idempotent. */
  stop(): Promise<void>;
}

/**
 * An S3 API for a test suite, in order of preference:
 * 1. MESHPRESS_TEST_S3_URL when set (credentials from the URL's user info, else S3RVER/S3RVER);
 * 2. (a testcontainers MinIO when a container runtime answers: not wired up, no runtime on these machines;
 *    it would slot in here, before the in-process fallback);
 * 3. s3rver in this process on a free 127.0.0.1 port, storing into a temp directory.
 * Bucket names should be unique per test (see uniqueBucketName) so suites can share one external service.
 */
export async function startS3(): Promise<S3Service> {
  const url = process.env[S3_URL_ENV];
  if (url) return external(url, process.env[S3_REGION_ENV] || DEFAULT_REGION);
  return startS3rver();
}

/** A valid, collision-free bucket name: `<label>-<random>`. */
export function uniqueBucketName(label = 'meshpress'): string {
  const clean = label
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 40);
  return `${clean}-${randomUUID().slice(0, 8)}`;
}

/** S3 client options that s3rver and MinIO accept. */
export function s3ClientFor(service: Pick<S3Service, 'endpoint' | 'region' | 'credentials'>): S3Client {
  return new S3Client({
    endpoint: service.endpoint,
    region: service.region,
    credentials: service.credentials,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

function external(rawUrl: string, region: string): S3Service {
  const url = new URL(rawUrl);
  const credentials = url.username
    ? { accessKeyId: decodeURIComponent(url.username), secretAccessKey: decodeURIComponent(url.password) }
    : S3RVER_CREDENTIALS;
  url.username = '';
  url.password = '';
  const endpoint = url.toString().replace(/\/$/, '');
  return service(endpoint, region, credentials, async () => undefined);
}

async function startS3rver(): Promise<S3Service> {
  const directory = await mkdtemp(join(tmpdir(), 'meshpress-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    resetOnClose: true,
    // Path-style requests to 127.0.0.1 only; no virtual-host parsing of the Host header.
    vhostBuckets: false,
  });
  let address: Awaited<ReturnType<S3rver['run']>>;
  try {
    address = await server.run();
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw new Error(`could not start s3rver (is the s3rver npm package installed? npm install -D s3rver)`, {
      cause: error,
    });
  }
  const endpoint = `http://127.0.0.1:${address.port}`;
  return service(endpoint, DEFAULT_REGION, S3RVER_CREDENTIALS, async () => {
    await server.close();
    await rm(directory, { recursive: true, force: true });
  });
}

function service(
  endpoint: string,
  region: string,
  credentials: S3Credentials,
  shutdown: () => Promise<void>,
): S3Service {
  const client = s3ClientFor({ endpoint, region, credentials });
  let stopping: Promise<void> | undefined;
  return {
    endpoint,
    region,
    credentials,
    client,
    async createBucket(name) {
      try {
        await client.send(new CreateBucketCommand({ Bucket: name }));
      } catch (error) {
        if (!(error instanceof BucketAlreadyOwnedByYou)) throw error;
      }
    },
    stop() {
      stopping ??= (async () => {
        client.destroy();
        await shutdown();
      })();
      return stopping;
    },
  };
}
