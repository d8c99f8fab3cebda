import type { DiskCacheEntry } from './disk-cache.js';

/**
 * Whether an unpinned version from the fallback cache is older than an unpinned disk cache entry, and so
 * stale. The entry is a version this node applied for this identity: committed and visible to it. Publish
 * scopes are never removed, so without a pin the version an identity resolves to never goes back below
 * it; only a pin can, and the hit would then say `pinned`. Such a hit comes from a fallback cache written
 * before the entry's version existed (it is rewritten only every few minutes).
 */
export function olderThanDiskEntry(
  candidate: { readonly version: number; readonly pinned: boolean },
  entry: DiskCacheEntry | undefined,
): boolean {
  return (
    entry !== undefined && !candidate.pinned && !entry.pinned && candidate.version < entry.record.version
  );
}
