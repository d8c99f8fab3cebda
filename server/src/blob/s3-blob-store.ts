import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  bucketSettingsFor,
  ClosedError,
  type DataPointer,
  IntegrityError,
  type MeshpressError,
  PayloadTooLargeError,
  parseOrThrow,
  S3ClientPool,
  type S3Location,
  UnavailableError,
  ValidationError,
} from '@meshpress/client';
import { isPayloadKey, ownedPayloadKey, parseObjectKey, parseSha256 } from './blob-key.js';
import { type BlobStore, type PayloadReadOptions, payloadKey } from './blob-store.js';
import { readBodyAtMost } from './bounded-read.js';
import { BlobNotFoundError } from './errors.js';
import { assertDigest } from './integrity.js';
import { isNoSuchBucket, isNoSuchKey, toUnavailable } from './s3-errors.js';
import {
  type ParsedS3BlobStoreOptions,
  type S3BlobStoreOptions,
  type S3BucketOptions,
  s3BlobStoreOptionsSchema,
} from './s3-options.js';

export {
  DEFAULT_S3_MAX_ATTEMPTS,
  DEFAULT_S3_REQUEST_TIMEOUT_MS,
  type S3BlobStoreOptions,
  type S3BucketOptions,
  s3BlobStoreOptionsSchema,
} from './s3-options.js';

/**
 * Distributed-mode blob store: every payload is copied to one bucket per region so clients in any region
 * can download it next to them, and a reader falls back region by region. Keys are content-addressed, so
 * replicas never disagree about what a key holds.
 *
 * Limits: each object is one PutObject (S3 caps that at 5 GiB; no multipart upload), held in memory.
 */
export class S3BlobStore implements BlobStore {
  readonly #options: ParsedS3BlobStoreOptions;
  readonly #clients: S3ClientPool;
  readonly #abort = new AbortController();
  #closed = false;

  constructor(options: S3BlobStoreOptions) {
    this.#options = parseOrThrow(s3BlobStoreOptionsSchema, options, 'S3BlobStore options');
    const { credentials, maxAttempts, requestTimeoutMs } = this.#options;
    this.#clients = new S3ClientPool({ what: 'S3BlobStore', credentials, maxAttempts, requestTimeoutMs });
  }

  async putPayload(data: Uint8Array, sha256: string): Promise<DataPointer> {
    this.#assertOpen();
    const digest = parseSha256(sha256);
    assertDigest(data, digest, 'payload to store');
    const key = this.#options.prefix + payloadKey(digest);
    const locations = this.#options.buckets.map((b) => ({ region: b.region, bucket: b.bucket, key }));
    await settleAll(locations.map((location) => this.#ensureUploaded(location, data)));
    return { kind: 's3', locations };
  }

  async getPayload(pointer: DataPointer, sha256: string, options?: PayloadReadOptions): Promise<Uint8Array> {
    this.#assertOpen();
    const digest = parseSha256(sha256);
    const failures: MeshpressError[] = [];
    for (const location of s3Locations(pointer)) {
      try {
        const data = await this.#download(location, options?.maxBytes);
        if (data === undefined) throw new BlobNotFoundError(describe(location));
        assertDigest(data, digest, `blob ${describe(location)}`);
        return data;
      } catch (error) {
        if (this.#closed) throw new ClosedError('S3BlobStore');
        failures.push(toUnavailable(error, `GetObject ${describe(location)}`));
      }
    }
    throw summarize(failures);
  }

  /**
   * Only locations in a configured (region, bucket) at exactly `<prefix>blobs/<sha256>`: a pointer
   * published to another bucket may use a look-alike key, and that object is its publisher's.
   */
  ownedPayload(pointer: DataPointer, sha256: string): DataPointer | undefined {
    const key = ownedPayloadKey(sha256, this.#options.prefix);
    if (pointer.kind !== 's3' || key === undefined) return undefined;
    const locations = pointer.locations.filter((l) => l.key === key && this.#configured(l) !== undefined);
    return locations.length > 0 ? { kind: 's3', locations } : undefined;
  }

  async deletePayload(pointer: DataPointer): Promise<void> {
    this.#assertOpen();
    const locations = s3Locations(pointer);
    // Checked for every location before any delete: a refused pointer deletes nothing.
    locations.forEach((location, i) => {
      if (this.#configured(location) === undefined || !isPayloadKey(location.key, this.#options.prefix)) {
        throw new ValidationError(`not a payload of this store: ${describe(location)}`, [
          {
            path: `pointer.locations.${i}`,
            message: `expected a configured bucket and key ${this.#options.prefix}blobs/<sha256>`,
          },
        ]);
      }
    });
    await settleAll(
      locations.map(async (location) => {
        try {
          await (await this.#clientFor(location)).send(
            new DeleteObjectCommand({ Bucket: location.bucket, Key: location.key }),
            { abortSignal: this.#abort.signal },
          );
        } catch (error) {
          if (isNoSuchKey(error) || isNoSuchBucket(error)) return;
          throw this.#fail(error, `DeleteObject ${describe(location)}`);
        }
      }),
    );
  }

  /** Writes to the primary bucket only: a single PutObject is atomic, replicas would not be. */
  async putObject(key: string, data: Uint8Array): Promise<void> {
    this.#assertOpen();
    const location = this.#objectLocation(this.#options.buckets[0]!, key);
    await this.#upload(location, data);
  }

  /**
   * Reads from the primary; the next bucket is asked only when one cannot answer (down, missing bucket).
   * A bucket that answers "no such key" is authoritative, so a stale copy elsewhere is never preferred.
   */
  async getObject(key: string): Promise<Uint8Array | undefined> {
    this.#assertOpen();
    const failures: MeshpressError[] = [];
    for (const bucket of this.#options.buckets) {
      const location = this.#objectLocation(bucket, key);
      try {
        return await this.#download(location);
      } catch (error) {
        if (this.#closed) throw new ClosedError('S3BlobStore');
        failures.push(toUnavailable(error, `GetObject ${describe(location)}`));
      }
    }
    throw summarize(failures);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort(new ClosedError('S3BlobStore'));
    this.#clients.close();
  }

  /** Content addressing makes an object of the right size the same bytes, so the upload can be skipped. */
  async #ensureUploaded(location: S3Location, data: Uint8Array): Promise<void> {
    const client = await this.#clientFor(location);
    try {
      const head = await client.send(new HeadObjectCommand({ Bucket: location.bucket, Key: location.key }), {
        abortSignal: this.#abort.signal,
      });
      if (head.ContentLength === data.byteLength) return;
    } catch {
      if (this.#closed) throw new ClosedError('S3BlobStore');
      // Not found, or no permission to look: the upload below decides.
    }
    await this.#upload(location, data);
  }

  async #upload(location: S3Location, data: Uint8Array): Promise<void> {
    try {
      await (await this.#clientFor(location)).send(
        new PutObjectCommand({
          Bucket: location.bucket,
          Key: location.key,
          Body: data,
          ContentLength: data.byteLength,
          ContentType: 'application/octet-stream',
        }),
        { abortSignal: this.#abort.signal },
      );
    } catch (error) {
      throw this.#fail(error, `PutObject ${describe(location)}`);
    }
  }

  /**
   * The object's bytes, or undefined when the bucket says the key does not exist; PayloadTooLargeError
   * for an object over `maxBytes`, refused on its ContentLength or once that many bytes have arrived.
   */
  async #download(location: S3Location, maxBytes?: number): Promise<Uint8Array | undefined> {
    try {
      const response = await (await this.#clientFor(location)).send(
        new GetObjectCommand({ Bucket: location.bucket, Key: location.key }),
        { abortSignal: this.#abort.signal },
      );
      if (!response.Body) return new Uint8Array(0);
      if (maxBytes !== undefined)
        return await readBodyAtMost(response.Body, response.ContentLength, maxBytes);
      return await response.Body.transformToByteArray();
    } catch (error) {
      if (isNoSuchKey(error)) return undefined;
      throw this.#fail(error, `GetObject ${describe(location)}`);
    }
  }

  #configured(location: S3Location): S3BucketOptions | undefined {
    return this.#options.buckets.find((b) => b.bucket === location.bucket && b.region === location.region);
  }

  #objectLocation(bucket: S3BucketOptions, key: string): S3Location {
    return { region: bucket.region, bucket: bucket.bucket, key: this.#options.prefix + parseObjectKey(key) };
  }

  /**
   * A client for the location's region, with the endpoint settings of the configured bucket it names.
   * A pointer may name a bucket that is not configured (published as an existing S3 pointer); it is read
   * with the settings of a configured bucket in the same region, else of the primary. Such a bucket is
   * only ever read: deletePayload refuses it.
   */
  #clientFor(location: S3Location): Promise<S3Client> {
    return this.#clients.client(bucketSettingsFor(this.#options.buckets, location));
  }

  #fail(error: unknown, what: string): MeshpressError {
    if (this.#closed) return new ClosedError('S3BlobStore');
    return toUnavailable(error, what);
  }

  #assertOpen(): void {
    if (this.#closed) throw new ClosedError('S3BlobStore');
  }
}

function s3Locations(pointer: DataPointer): readonly S3Location[] {
  if (pointer.kind !== 's3') {
    throw new ValidationError(`S3BlobStore cannot read a '${pointer.kind}' pointer`, [
      { path: 'pointer.kind', message: "expected 's3'" },
    ]);
  }
  if (pointer.locations.length === 0) {
    throw new ValidationError('S3 pointer has no locations', [
      { path: 'pointer.locations', message: 'at least one location is required' },
    ]);
  }
  return pointer.locations;
}

function describe(location: S3Location): string {
  return `s3://${location.bucket}/${location.key} (${location.region})`;
}

/** Waits for every operation (none is left running unobserved), then reports the failures, if any. */
async function settleAll(operations: readonly Promise<void>[]): Promise<void> {
  const results = await Promise.allSettled(operations);
  const failures = results.flatMap((r) =>
    r.status === 'rejected' ? [toUnavailable(r.reason, 'request')] : [],
  );
  if (failures.length > 0) throw summarize(failures);
}

/**
 * One error for several failed copies: "not found" only when every copy is missing, an integrity error
 * when some copy was corrupt or too large (the most actionable: another try will not change it), else
 * unavailable.
 */
function summarize(failures: readonly MeshpressError[]): MeshpressError {
  if (failures.length === 1) return failures[0]!;
  const cause = new AggregateError(failures, 'every copy failed');
  if (failures.every((f) => f instanceof BlobNotFoundError)) {
    return new BlobNotFoundError(failures.map((f) => (f as BlobNotFoundError).where).join(', '), { cause });
  }
  const corrupt = failures.find((f) => f instanceof IntegrityError || f instanceof PayloadTooLargeError);
  if (corrupt) return corrupt;
  return new UnavailableError(`every copy failed: ${failures.map((f) => f.message).join('; ')}`, { cause });
}
