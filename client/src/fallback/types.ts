import type { VersionRecord } from '../core/model.js';
import type { Identity } from '../core/names.js';

/** What the fallback cache gives one identity for one topic: the same answer the service's resolve gives. */
export interface FallbackHit {
  readonly version: number;
  readonly pinned: boolean;
  readonly record: VersionRecord;
}

/**
 * Read side of the fallback cache (publish metadata the server writes to S3 every few minutes). The
 * client consults it only when the service cannot be reached, and applies the shared resolve() to it.
 */
export interface FallbackCacheReader {
  /** Undefined when the cache has nothing for this identity (or the topic). Throws when it cannot be read. */
  lookup(topic: string, identity: Identity): Promise<FallbackHit | undefined>;
  /** Idempotent. */
  close(): Promise<void>;
}
