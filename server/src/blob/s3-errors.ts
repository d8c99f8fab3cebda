import { MeshpressError, UnavailableError } from '@meshpress/client';

interface SdkError {
  readonly name?: string;
  readonly message?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

/** The object is absent (GetObject says NoSuchKey; HeadObject, which has no body, says NotFound). */
export function isNoSuchKey(error: unknown): boolean {
  const name = (error as SdkError | undefined)?.name;
  return name === 'NoSuchKey' || name === 'NotFound';
}

export function isNoSuchBucket(error: unknown): boolean {
  return (error as SdkError | undefined)?.name === 'NoSuchBucket';
}

/** Anything the SDK throws (network, timeout, access, missing bucket) means that copy cannot be used now. */
export function toUnavailable(error: unknown, what: string): MeshpressError {
  if (error instanceof MeshpressError) return error;
  const sdk = error as SdkError | undefined;
  const status = sdk?.$metadata?.httpStatusCode;
  const reason = [sdk?.name, status === undefined ? undefined : `HTTP ${status}`, sdk?.message]
    .filter((part) => part !== undefined && part !== '')
    .join(', ');
  return new UnavailableError(`S3 ${what} failed: ${reason || String(error)}`, { cause: error });
}
