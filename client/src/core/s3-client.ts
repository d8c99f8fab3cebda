import type { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { ClosedError } from './errors.js';

/** One bucket in one region, and how to reach it. */
export const s3BucketSchema = z.object({
  region: z.string().min(1),
  bucket: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'bucket names are 3-63 characters of a-z 0-9 . -'),
  /** Custom endpoint (MinIO, s3rver, a VPC endpoint); the AWS default for the region when absent. */
  endpoint: z.url().optional(),
  /** Path-style addressing, which most S3-compatible servers need. */
  forcePathStyle: z.boolean().optional(),
});

/**
 * Static credentials; the SDK's default provider chain (env, profile, instance role) when absent. Not
 * strict: SDK credential objects carry bookkeeping fields ($source) of their own.
 */
export const s3CredentialsSchema = z.object({
  accessKeyId: z.string().min(1),
  secretAccessKey: z.string().min(1),
  sessionToken: z.string().min(1).optional(),
});

/** For `.refine()` of a bucket list: a copy per region/bucket pair is one copy. */
export function hasDistinctBuckets(buckets: readonly { region: string; bucket: string }[]): boolean {
  return new Set(buckets.map((b) => `${b.region}/${b.bucket}`)).size === buckets.length;
}
export const DISTINCT_BUCKETS_MESSAGE = 'each region/bucket pair may appear once';

export type S3BucketSettings = z.output<typeof s3BucketSchema>;
export type S3Credentials = z.output<typeof s3CredentialsSchema>;
/** What picks a client: the same region behind another endpoint is another client. */
export type S3Endpoint = Pick<S3BucketSettings, 'region' | 'endpoint' | 'forcePathStyle'>;

type S3Sdk = typeof import('@aws-sdk/client-s3');
let sdkLoading: Promise<S3Sdk> | undefined;

/** The SDK is loaded on first use: it takes longer to import than the rest of the client together. */
export function loadS3Sdk(): Promise<S3Sdk> {
  sdkLoading ??= import('@aws-sdk/client-s3');
  return sdkLoading;
}

/**
 * The endpoint settings for a location: those of the configured bucket it names, else of a configured
 * bucket in its region (a pointer published elsewhere may name an unknown bucket), else of the first.
 */
export function bucketSettingsFor<B extends S3BucketSettings>(
  buckets: readonly B[],
  location: { readonly region: string; readonly bucket: string },
): S3Endpoint {
  return (
    buckets.find((b) => b.bucket === location.bucket && b.region === location.region) ??
    buckets.find((b) => b.region === location.region) ?? { ...buckets[0]!, region: location.region }
  );
}

export interface S3ClientPoolOptions {
  /** Names the owner in the ClosedError of a request made after close. */
  readonly what: string;
  readonly credentials?: Readonly<S3Credentials> | undefined;
  /** SDK attempts per request (1 = the caller decides about retries). */
  readonly maxAttempts: number;
  /** Budget of one request (connect plus the whole transfer); the SDK's defaults when absent. */
  readonly requestTimeoutMs?: number | undefined;
}

/** SDK clients shared per (region, endpoint, path style), all built with the same options. */
export class S3ClientPool {
  readonly #options: S3ClientPoolOptions;
  readonly #clients = new Map<string, S3Client>();
  #closed = false;

  constructor(options: S3ClientPoolOptions) {
    this.#options = options;
  }

  async client(target: S3Endpoint): Promise<S3Client> {
    const sdk = await loadS3Sdk();
    if (this.#closed) throw new ClosedError(this.#options.what);
    const id = JSON.stringify([target.region, target.endpoint ?? null, target.forcePathStyle ?? null]);
    let client = this.#clients.get(id);
    if (!client) {
      const { credentials, maxAttempts, requestTimeoutMs: timeout } = this.#options;
      client = new sdk.S3Client({
        region: target.region,
        ...(target.endpoint === undefined ? {} : { endpoint: target.endpoint }),
        ...(target.forcePathStyle === undefined ? {} : { forcePathStyle: target.forcePathStyle }),
        ...(credentials === undefined ? {} : { credentials }),
        maxAttempts,
        // Checksums only where S3 demands them: S3-compatible servers (s3rver, older MinIO) reject the
        // newer default trailers, and every reader verifies what it downloads (sha256, document decode).
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        ...(timeout === undefined
          ? {}
          : {
              requestHandler: {
                connectionTimeout: timeout,
                requestTimeout: timeout,
                throwOnRequestTimeout: true,
              },
            }),
      });
      this.#clients.set(id, client);
    }
    return client;
  }

  /** Releases every client's connections. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const client of this.#clients.values()) client.destroy();
    this.#clients.clear();
  }
}
