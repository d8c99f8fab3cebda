import type { RetentionPolicy } from '@meshpress/client';
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
