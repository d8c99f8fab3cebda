import {
  type Identity,
  type PollUpdate,
  scopeFromCanonical,
  scopeMatches,
  type VersionRecord,
} from '@meshpress/client';
import type { TopicView } from './topic-view.js';

export type { PollUpdate };
/**
 * The poll contract for one topic (DESIGN.md "Poll contract"): the resolved target, or nothing.
 * Never steps through intermediate versions, never goes backwards unless the target is pinned, and
 * never serves a version that fails the consistency check.
 */
export function evaluatePoll(
  view: TopicView,
  identity: Identity,
  currentVersion: number | undefined,
  target = view.resolution.resolve(identity),
): PollUpdate | undefined {
  if (!target) return undefined;
  const record = view.servable.get(target.version);

  if (currentVersion === undefined) {
    if (record) return { topic: view.topic.name, version: target.version, pinned: target.pinned, record };
    const fallback = newestServableVisible(view, identity);
    return fallback === undefined
      ? undefined
      : { topic: view.topic.name, version: fallback.version, pinned: false, record: fallback };
  }
  if (!record) return undefined;
  const newer = target.version > currentVersion;
  const rollback = target.pinned && target.version !== currentVersion;
  return newer || rollback
    ? { topic: view.topic.name, version: target.version, pinned: target.pinned, record }
    : undefined;
}

function newestServableVisible(view: TopicView, identity: Identity): VersionRecord | undefined {
  let best: VersionRecord | undefined;
  for (const [scope, version] of view.newestServableByScope) {
    if (best && version <= best.version) continue;
    if (scopeMatches(scopeFromCanonical(scope), identity)) best = view.servable.get(version);
  }
  return best;
}
