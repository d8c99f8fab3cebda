import { GetObjectCommand } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { systemClock } from '../core/clock.js';
import { ClosedError, MeshpressError, UnavailableError } from '../core/errors.js';
import { type Identity, identitySchema } from '../core/names.js';
import { S3ClientPool, s3BucketSchema, s3CredentialsSchema } from '../core/s3-client.js';
import { parseOrThrow } from '../core/validation.js';
import { FallbackCacheMissingError } from './errors.js';
import { FallbackIndex } from './fallback-index.js';
import { DEFAULT_FALLBACK_CACHE_KEY, decodeFallbackCache } from './format.js';
import { commonReaderOptions } from './reader-options.js';
import { RefreshingIndex } from './refreshing-index.js';
import type { FallbackCacheReader, FallbackHit } from './types.js';

/** Per request (connect plus the whole download). The fallback path runs when things are already bad. */
export const DEFAULT_FALLBACK_S3_REQUEST_TIMEOUT_MS = 10_000;
/** SDK attempts per bucket; a failing region is better skipped for the next one than retried. */
export const DEFAULT_FALLBACK_S3_MAX_ATTEMPTS = 2;

export const s3FallbackCacheReaderOptionsSchema = z
  .object({
    /** Buckets that may hold a copy of the cache (the writer's primary bucket, replicas). */
    buckets: z.array(s3BucketSchema).min(1),
    /** The client's own region: its buckets are asked first, the others in the order given. */
    region: z.string().min(1).optional(),
    /** Object key, including the server's S3 key prefix if it has one. */
    key: z.string().min(1).max(1024).default(DEFAULT_FALLBACK_CACHE_KEY),
    /** Static credentials; the SDK's default provider chain when absent. */
    credentials: s3CredentialsSchema.optional(),
    requestTimeoutMs: z.number().int().positive().default(DEFAULT_FALLBACK_S3_REQUEST_TIMEOUT_MS),
    maxAttempts: z.number().int().min(1).max(10).default(DEFAULT_FALLBACK_S3_MAX_ATTEMPTS),
    ...commonReaderOptions,
  })
  .strict();

export type S3FallbackCacheReaderOptions = z.input<typeof s3FallbackCacheReaderOptionsSchema>;
type ParsedOptions = z.output<typeof s3FallbackCacheReaderOptionsSchema>;
type Bucket = ParsedOptions['buckets'][number];

interface SdkError {
  readonly name?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

/**
 * Reads the fallback cache the server writes to S3, nearest region first. A bucket that cannot answer
 * (down, no copy, corrupt copy) passes the read to the next one. Re-reads are conditional (ETag), so an
 * unchanged cache costs a 304, not a download.
 */
export class S3FallbackCacheReader implements FallbackCacheReader {
  readonly #options: ParsedOptions;
  readonly #buckets: readonly Bucket[];
  readonly #clients: S3ClientPool;
  readonly #index: RefreshingIndex;
  /** The bucket and ETag behind the current index. */
  #source: { bucket: Bucket; etag: string } | undefined;
  #closed = false;

  constructor(options: S3FallbackCacheReaderOptions) {
    this.#options = parseOrThrow(
      s3FallbackCacheReaderOptionsSchema,
      options,
      'S3FallbackCacheReader options',
    );
    const { credentials, maxAttempts, requestTimeoutMs } = this.#options;
    this.#clients = new S3ClientPool({
      what: 'S3FallbackCacheReader',
      credentials,
      maxAttempts,
      requestTimeoutMs,
    });
    const own = this.#options.region;
    this.#buckets = [
      ...this.#options.buckets.filter((b) => b.region === own),
      ...this.#options.buckets.filter((b) => b.region !== own),
    ];
    this.#index = new RefreshingIndex({
      clock: this.#options.clock ?? systemClock,
      ttlMs: this.#options.cacheTtlMs,
      what: 'S3FallbackCacheReader',
      onError: this.#options.onError,
      load: (signal) => this.#load(signal),
    });
  }

  async lookup(topic: string, identity: Identity): Promise<FallbackHit | undefined> {
    const who = parseOrThrow(identitySchema, identity, 'identity', 'identity');
    return (await this.#index.get()).lookup(topic, who);
  }

  /**
   * Resolves once a read in progress has finished: a lookup past the TTL answers from the document at
   * hand and re-reads in the background (tests, orderly shutdown).
   */
  idle(): Promise<void> {
    return this.#index.idle();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#index.close();
    this.#clients.close();
  }

  async #load(signal: AbortSignal): Promise<FallbackIndex | undefined> {
    const missing: string[] = [];
    const failures: MeshpressError[] = [];
    for (const bucket of this.#buckets) {
      const where = `s3://${bucket.bucket}/${this.#options.key} (${bucket.region})`;
      const etag = this.#source?.bucket === bucket ? this.#source.etag : undefined;
      try {
        const client = await this.#clients.client(bucket);
        const response = await client.send(
          new GetObjectCommand({ Bucket: bucket.bucket, Key: this.#options.key, IfNoneMatch: etag }),
          { abortSignal: signal },
        );
        const bytes = (await response.Body?.transformToByteArray()) ?? new Uint8Array(0);
        const doc = await decodeFallbackCache(bytes, { maxDocumentBytes: this.#options.maxDocumentBytes });
        this.#source = response.ETag ? { bucket, etag: response.ETag } : undefined;
        return new FallbackIndex(doc);
      } catch (error) {
        if (signal.aborted || this.#closed) throw new ClosedError('S3FallbackCacheReader');
        const sdk = error as SdkError;
        if (etag !== undefined && (sdk.name === 'NotModified' || sdk.$metadata?.httpStatusCode === 304))
          return undefined;
        if (sdk.name === 'NoSuchKey' || sdk.name === 'NotFound' || sdk.name === 'NoSuchBucket') {
          missing.push(where);
          continue;
        }
        failures.push(
          error instanceof MeshpressError
            ? error
            : new UnavailableError(
                `S3 GetObject ${where} failed: ${sdk.name ?? ''} ${(error as Error).message}`,
                {
                  cause: error,
                },
              ),
        );
      }
    }
    if (failures.length === 0) throw new FallbackCacheMissingError(missing.join(', '));
    // A single failing copy keeps its own class (a format error says more than "unavailable").
    if (failures.length === 1 && missing.length === 0) throw failures[0]!;
    throw new UnavailableError(
      `no readable fallback cache: ${[...failures.map((f) => f.message), ...missing.map((m) => `missing at ${m}`)].join('; ')}`,
      { cause: new AggregateError(failures) },
    );
  }
}
