import { decodeFallbackCache } from '@meshpress/client';
import type { Logger } from 'pino';
import type { BlobStore } from '../blob/blob-store.js';

/**
 * When the fallback cache now stored under `key` was generated. Undefined when there is none, or when it
 * cannot be read or decoded: the writer then writes, since a cache it cannot date is no reason to keep
 * clients on it.
 */
export async function storedGeneratedAt(
  blobs: BlobStore,
  key: string,
  logger: Logger,
): Promise<number | undefined> {
  try {
    const bytes = await blobs.getObject(key);
    return bytes === undefined ? undefined : (await decodeFallbackCache(bytes)).generatedAt;
  } catch (err) {
    logger.warn({ err: (err as Error).message, key }, 'could not read the stored fallback cache to date it');
    return undefined;
  }
}
