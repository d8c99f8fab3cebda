import type { DataPointer, RetentionPolicy } from '@meshpress/client';
import { payloadKey } from '../blob/blob-store.js';
import type { TopicView } from '../core/topic-view.js';

export const DAY_MS = 86_400_000;

/** False when the topic sets neither limit: then it keeps every version and the janitor skips it. */
export function hasRetentionLimit(retention: RetentionPolicy): boolean {
  return retention.maxVersions !== undefined || retention.maxAgeDays !== undefined;
}

/**
 * Whether the retention policy alone keeps a committed version: a version is kept when ANY configured rule
 * keeps it. `rank` is its place among the topic's committed versions, newest first (0 = newest); the
 * count rule keeps ranks below `maxVersions`. The age rule keeps versions created less than `maxAgeDays`
 * before `now` (a version exactly that old goes).
 */
export function keptByRetention(
  retention: RetentionPolicy,
  rank: number,
  createdAt: number,
  now: number,
): boolean {
  if (!hasRetentionLimit(retention)) return true;
  if (retention.maxVersions !== undefined && rank < retention.maxVersions) return true;
  return retention.maxAgeDays !== undefined && now - createdAt < retention.maxAgeDays * DAY_MS;
}

/**
 * Versions never purged whatever the retention says, read from the consumer cache's own loader so the
 * janitor protects exactly what polls can answer: every pinned version, the newest version of each
 * publish scope (some identity's target), and per scope the newest version passing the consistency
 * check (what a first poll falls back to when the target fails it).
 */
export function protectedVersions(view: TopicView): Set<number> {
  const versions = new Set<number>();
  for (const pin of view.state.pins) versions.add(pin.version);
  for (const head of view.state.publishes) versions.add(head.version);
  for (const version of view.newestServableByScope.values()) versions.add(version);
  return versions;
}

/**
 * The part of a pointer that names blobs meshpress wrote itself: content-addressed keys ending in
 * `blobs/<sha256>` of this very digest (any S3 key prefix allowed). Undefined when nothing qualifies: an
 * inline payload, or an object a publisher pointed at by its own key, which is theirs, never deleted.
 */
export function ownedBlobPointer(pointer: DataPointer, sha256: string): DataPointer | undefined {
  const suffix = payloadKey(sha256);
  const owned = (key: string) => key === suffix || key.endsWith(`/${suffix}`);
  switch (pointer.kind) {
    case 'direct':
      return undefined;
    case 'local':
      return owned(pointer.key) ? pointer : undefined;
    case 's3': {
      const locations = pointer.locations.filter((location) => owned(location.key));
      return locations.length > 0 ? { kind: 's3', locations } : undefined;
    }
    default:
      return undefined;
  }
}
