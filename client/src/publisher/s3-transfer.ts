import type { Clock } from '../core/clock.js';
import { ClosedError, IntegrityError, MeshpressError, UnavailableError } from '../core/errors.js';
import type { S3Location } from '../core/model.js';
import { bucketSettingsFor, loadS3Sdk, S3ClientPool } from '../core/s3-client.js';
import { sha256Hex } from '../core/sha256.js';
import { sleep } from './abortable-sleep.js';
import { countingNodeStream } from './progress.js';
import { retryDelayMs } from './retry-delay.js';
import type { ParsedS3UploadOptions, S3Target } from './s3-options.js';

/** The content-addressed key of a payload, shared with the server's blob stores. */
export function blobKey(prefix: string, sha256: string): string {
  return `${prefix}blobs/${sha256}`;
}

/**
 * Copies payloads to every configured regional bucket and reads `s3` pointers back. Keys are
 * content-addressed, so an object already present with the right size is the same bytes and is not
 * sent again.
 */
export class S3Transfer {
  readonly #options: ParsedS3UploadOptions;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #clients: S3ClientPool;
  readonly #closing = new AbortController();

  constructor(options: ParsedS3UploadOptions, clock: Clock, random: () => number) {
    this.#options = options;
    this.#clock = clock;
    this.#random = random;
    // Attempts are counted here, not by the SDK: it cannot replay an upload stream it consumed.
    const { credentials, requestTimeoutMs } = options;
    this.#clients = new S3ClientPool({
      what: 'MeshpressAdmin',
      credentials,
      maxAttempts: 1,
      requestTimeoutMs,
    });
  }

  /** Uploads `data` to every bucket (concurrently); fails unless every copy landed. */
  async upload(
    data: Uint8Array,
    sha256: string,
    onSent: (bytes: number) => void,
    signal?: AbortSignal,
  ): Promise<S3Location[]> {
    const key = blobKey(this.#options.prefix, sha256);
    const locations = this.#options.buckets.map((b) => ({ region: b.region, bucket: b.bucket, key }));
    const results = await Promise.allSettled(
      this.#options.buckets.map((target) => this.#uploadOne(target, key, data, onSent, signal)),
    );
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (failures.length > 0) {
      if (this.#closing.signal.aborted) throw new ClosedError('MeshpressAdmin');
      if (signal?.aborted) throw signal.reason;
      const messages = failures.map((f) => (f instanceof Error ? f.message : String(f)));
      throw new UnavailableError(
        `upload to ${failures.length} of ${locations.length} S3 buckets failed: ${messages.join('; ')}`,
        { cause: failures.length === 1 ? failures[0] : new AggregateError(failures) },
      );
    }
    return locations;
  }

  /**
   * Reads the first location that answers with the right bytes, trying configured regions first (in the
   * order configured: the caller lists the closest first), then the others.
   */
  async download(
    locations: readonly S3Location[],
    sha256: string,
    signal?: AbortSignal,
  ): Promise<Uint8Array> {
    const rank = (l: S3Location) => {
      const index = this.#options.buckets.findIndex((b) => b.region === l.region);
      return index === -1 ? this.#options.buckets.length : index;
    };
    const ordered = [...locations].sort((a, b) => rank(a) - rank(b));
    const abortSignal = this.#signal(signal);
    const failures: string[] = [];
    for (let round = 0; round < this.#options.maxAttempts; round++) {
      if (round > 0) await sleep(this.#clock, retryDelayMs(round - 1, 200, 5_000, this.#random), abortSignal);
      failures.length = 0;
      let corrupt: IntegrityError | undefined;
      for (const location of ordered) {
        try {
          const data = await this.#get(location, abortSignal);
          const actual = sha256Hex(data);
          if (actual === sha256) return data;
          corrupt = new IntegrityError(`${describe(location)} does not match sha256 ${sha256}`, {
            location,
            expected: sha256,
            actual,
          });
          failures.push(corrupt.message);
        } catch (error) {
          if (this.#closing.signal.aborted) throw new ClosedError('MeshpressAdmin');
          if (signal?.aborted) throw signal.reason;
          failures.push(`${describe(location)}: ${sdkReason(error)}`);
        }
      }
      // Corrupt bytes stay corrupt: asking again does not help.
      if (corrupt) {
        if (failures.length === 1) throw corrupt;
        break;
      }
    }
    throw new UnavailableError(`no S3 copy could be read: ${failures.join('; ')}`);
  }

  async #get(location: S3Location, abortSignal: AbortSignal): Promise<Uint8Array> {
    const sdk = await loadS3Sdk();
    const client = await this.#client(location);
    const response = await client.send(
      new sdk.GetObjectCommand({ Bucket: location.bucket, Key: location.key }),
      { abortSignal },
    );
    return response.Body ? await response.Body.transformToByteArray() : new Uint8Array(0);
  }

  /** Aborts transfers in flight and releases connections. Idempotent. */
  close(): void {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort(new ClosedError('MeshpressAdmin'));
    this.#clients.close();
  }

  async #uploadOne(
    target: S3Target,
    key: string,
    data: Uint8Array,
    onSent: (bytes: number) => void,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const location = { region: target.region, bucket: target.bucket, key };
    const sdk = await loadS3Sdk();
    const client = await this.#client(location);
    const abortSignal = this.#signal(signal);
    try {
      const head = await client.send(new sdk.HeadObjectCommand({ Bucket: target.bucket, Key: key }), {
        abortSignal,
      });
      if (head.ContentLength === data.byteLength) {
        onSent(data.byteLength);
        return;
      }
    } catch (error) {
      if (abortSignal.aborted) throw error;
      // Absent, or no permission to look: the upload decides.
    }
    // The SDK cannot replay a stream it has consumed, so attempts are counted here, each with a fresh body;
    // the bytes of a failed attempt are taken back off the progress.
    for (let attempt = 0; ; attempt++) {
      let sent = 0;
      try {
        await client.send(
          new sdk.PutObjectCommand({
            Bucket: target.bucket,
            Key: key,
            Body: countingNodeStream(data, (bytes) => {
              sent += bytes;
              onSent(bytes);
            }),
            ContentLength: data.byteLength,
            ContentType: 'application/octet-stream',
          }),
          { abortSignal },
        );
        return;
      } catch (error) {
        onSent(-sent);
        if (abortSignal.aborted || attempt + 1 >= this.#options.maxAttempts) {
          if (error instanceof MeshpressError) throw error;
          throw new UnavailableError(`PutObject ${describe(location)} failed: ${sdkReason(error)}`, {
            cause: error,
          });
        }
        await sleep(this.#clock, retryDelayMs(attempt, 200, 5_000, this.#random), abortSignal);
      }
    }
  }

  /** A client for the location's region, with the endpoint settings of the bucket it names (see bucketSettingsFor). */
  #client(location: S3Location) {
    return this.#clients.client(bucketSettingsFor(this.#options.buckets, location));
  }

  #signal(signal: AbortSignal | undefined): AbortSignal {
    return signal ? AbortSignal.any([this.#closing.signal, signal]) : this.#closing.signal;
  }
}

function describe(location: S3Location): string {
  return `s3://${location.bucket}/${location.key} (${location.region})`;
}

function sdkReason(error: unknown): string {
  const sdk = error as
    | { name?: string; message?: string; $metadata?: { httpStatusCode?: number } }
    | undefined;
  const status = sdk?.$metadata?.httpStatusCode;
  const parts = [sdk?.name, status === undefined ? undefined : `HTTP ${status}`, sdk?.message];
  return parts.filter((p) => p !== undefined && p !== '').join(', ') || String(error);
}
