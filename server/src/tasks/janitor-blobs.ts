import type { DataPointer } from '@meshpress/client';
import type { Logger } from 'pino';
import type { BlobStore } from '../blob/blob-store.js';
import { BlobNotFoundError } from '../blob/errors.js';
import type { ConfigStore } from '../store/config-store.js';

/**
 * - `in-use`: some version record still references the digest; nothing touched.
 * - `missing`: no copy left to delete.
 * - `deleted`: deleted, and still unreferenced afterwards.
 * - `restored`: deleted, then put back because a publish started using the same bytes meanwhile.
 */
export type BlobOutcome = 'in-use' | 'missing' | 'deleted' | 'restored';

export interface DeleteBlobOptions {
  readonly store: ConfigStore;
  readonly blobs: BlobStore;
  readonly logger: Logger;
  readonly sha256: string;
  /** Every distinct pointer the purged versions held for this digest that `blobs.ownedPayload` returned. */
  readonly pointers: readonly DataPointer[];
}

/**
 * Deletes a content-addressed blob no version references, without ever leaving a committed version
 * pointing at nothing (docs/retention.md "The publish race"): the bytes are read first, deleted, and the
 * references checked again; if a publish took the blob meanwhile, the bytes go back. The publisher, for
 * its part, stores its blob once more between writing its record and committing. When the second check
 * cannot answer, the bytes go back too: only a proven absence of references keeps a blob deleted.
 * A delete that fails is followed by the same re-check and put-back; it rejects only when the blob is
 * still unreferenced (some copies may be left), and counts as `restored` when the bytes went back.
 */
export async function deleteBlobIfUnreferenced(options: DeleteBlobOptions): Promise<BlobOutcome> {
  const { store, blobs, logger, sha256 } = options;
  if (await store.isPayloadReferenced(sha256)) return 'in-use';

  // Read before deleting, so the bytes can be put back. A copy that cannot be read (corrupt, store down)
  // is left alone: what cannot be restored is not deleted.
  let data: Uint8Array | undefined;
  const present: DataPointer[] = [];
  for (const pointer of options.pointers) {
    try {
      data ??= await blobs.getPayload(pointer, sha256);
      present.push(pointer);
    } catch (error) {
      if (!(error instanceof BlobNotFoundError)) throw error;
    }
  }
  if (data === undefined) return 'missing';

  // A failed delete may still have removed copies (S3 deletes every region, then reports a failure), so
  // whatever happened the re-check and put-back below must follow: a publish may have taken the blob
  // while a copy was gone. The other pointers are deleted too, so an unreferenced blob goes as far as it can.
  let deleteFailure: { readonly error: unknown } | undefined;
  for (const pointer of present) {
    try {
      await blobs.deletePayload(pointer);
    } catch (error) {
      deleteFailure ??= { error };
    }
  }

  let referenced: boolean;
  try {
    referenced = await store.isPayloadReferenced(sha256);
  } catch (error) {
    logger.warn({ err: error, sha256 }, 'could not re-check a deleted blob; putting it back');
    referenced = true;
  }
  if (!referenced) {
    // Unreferenced either way; some copies may be left, which the caller reports.
    if (deleteFailure) throw deleteFailure.error;
    return 'deleted';
  }
  try {
    await blobs.putPayload(data, sha256);
  } catch (error) {
    logger.error(
      { err: error, sha256 },
      'a blob deleted by the janitor is in use again and could not be put back; republish its version',
    );
    throw error;
  }
  // Every copy is back: the failed delete left nothing to report beyond this line.
  if (deleteFailure)
    logger.warn(
      { err: deleteFailure.error, sha256 },
      'a blob delete failed part-way; the blob is in use and was put back',
    );
  return 'restored';
}
