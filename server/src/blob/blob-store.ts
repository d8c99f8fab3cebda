import type { DataPointer } from '@meshpress/client';

/**
 * Where payloads over the inline limit live (and the fallback cache). Keys for payloads are
 * content-addressed (`blobs/<sha256>`), so writing the same bytes twice is harmless and a blob is never
 * overwritten with different content.
 *
 * Implementations: a directory (embedded) and S3 (distributed; one bucket per region).
 * Every implementation passes test/conformance/blob-store.ts unchanged.
 */
export interface BlobStore {
  /** Stores `data` under `blobs/<sha256>` after checking the digest; returns the pointer to record. */
  putPayload(data: Uint8Array, sha256: string): Promise<DataPointer>;
  /**
   * Reads a payload by pointer; IntegrityError if the bytes do not hash to `sha256`. With `maxBytes`, an
   * object larger than that is refused with PayloadTooLargeError without being read whole (a publisher's
   * pointer may name an object of any size).
   */
  getPayload(pointer: DataPointer, sha256: string, options?: PayloadReadOptions): Promise<Uint8Array>;
  /**
   * The part of `pointer` this store wrote for `sha256` and so may delete: locations it is configured
   * with (same store, bucket and region) whose key is exactly the content-addressed key it gives that
   * digest. Undefined when nothing qualifies: an inline payload, an object a publisher pointed at (its
   * own key, or a look-alike key in a bucket this store does not manage). The janitor deletes only this.
   */
  ownedPayload(pointer: DataPointer, sha256: string): DataPointer | undefined;
  /**
   * Deletes a payload (janitor); missing is not an error. Refuses (ValidationError), before deleting
   * anything, a location that is not one of this store's content-addressed payload keys.
   */
  deletePayload(pointer: DataPointer): Promise<void>;
  /** Writes an arbitrary object (e.g. the fallback cache) atomically: readers see the old or the new bytes. */
  putObject(key: string, data: Uint8Array): Promise<void>;
  /** Reads an object; undefined when it does not exist. */
  getObject(key: string): Promise<Uint8Array | undefined>;
  /** Idempotent. */
  close(): Promise<void>;
}

export interface PayloadReadOptions {
  readonly maxBytes?: number | undefined;
}

export function payloadKey(sha256: string): string {
  return `blobs/${sha256}`;
}
