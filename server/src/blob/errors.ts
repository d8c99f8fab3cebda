import { MeshpressError } from '@meshpress/client';

/**
 * A payload the caller holds a pointer to is not in the blob store (purged by the janitor, deleted out of
 * band, or never uploaded). It carries the `UNAVAILABLE` code because the error codes are a fixed, shared
 * vocabulary: to a consumer the version's data simply cannot be served, and a retry against another
 * instance or region may still succeed.
 */
export class BlobNotFoundError extends MeshpressError {
  constructor(
    readonly where: string,
    options: { cause?: unknown } = {},
  ) {
    super('UNAVAILABLE', `blob not found: ${where}`, { ...options, details: { blob: where } });
  }
}
