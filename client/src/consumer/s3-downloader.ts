import { GetObjectCommand } from '@aws-sdk/client-s3';
import { UnavailableError } from '../core/errors.js';
import type { S3Location } from '../core/model.js';
import { S3ClientPool, type S3Credentials } from '../core/s3-client.js';

export interface S3DownloadOptions {
  /** Custom endpoint for every region (MinIO, s3rver, a VPC endpoint); AWS's regional default when absent. */
  readonly endpoint?: string | undefined;
  /** Path-style addressing (most S3-compatible servers need it). */
  readonly forcePathStyle?: boolean | undefined;
  /** Static credentials; the SDK's default provider chain when absent. */
  readonly credentials?: Readonly<S3Credentials> | undefined;
  /** SDK attempts per object (1 = no SDK retry: the client moves on to the next region instead). */
  readonly maxAttempts?: number | undefined;
}

/** Fetches payload objects straight from S3, one SDK client per region. */
export class S3Downloader {
  readonly #options: S3DownloadOptions;
  readonly #clients: S3ClientPool;
  #closed = false;

  constructor(options: S3DownloadOptions = {}) {
    this.#options = options;
    const { credentials, maxAttempts } = options;
    this.#clients = new S3ClientPool({ what: 'S3 downloader', credentials, maxAttempts: maxAttempts ?? 1 });
  }

  /** The object's bytes; UnavailableError for anything S3 answers other than the object. */
  async get(location: S3Location, signal: AbortSignal): Promise<Uint8Array> {
    if (this.#closed) throw new UnavailableError('S3 downloader is closed');
    try {
      const { endpoint, forcePathStyle } = this.#options;
      const client = await this.#clients.client({ region: location.region, endpoint, forcePathStyle });
      const response = await client.send(
        new GetObjectCommand({ Bucket: location.bucket, Key: location.key }),
        { abortSignal: signal },
      );
      return response.Body ? await response.Body.transformToByteArray() : new Uint8Array(0);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      const sdk = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
      const status = sdk.$metadata?.httpStatusCode;
      const reason = [sdk.name, status === undefined ? undefined : `HTTP ${status}`, sdk.message]
        .filter(Boolean)
        .join(', ');
      throw new UnavailableError(
        `S3 GetObject s3://${location.bucket}/${location.key} (${location.region}) failed: ${reason}`,
        { cause: error },
      );
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clients.close();
  }
}

/** The client's own region first, then the others in the order the record lists them. */
export function orderByRegion(locations: readonly S3Location[], region: string | undefined): S3Location[] {
  if (!region) return [...locations];
  return [...locations.filter((l) => l.region === region), ...locations.filter((l) => l.region !== region)];
}
