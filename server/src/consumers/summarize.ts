import type { ConsumerStatus, LaggingNode, VersionCount } from './consumer-status-store.js';

/** One live node as a store keeps it: its latest report, plus when its current lag began. */
export interface ConsumerEntry {
  readonly node: string;
  readonly app?: string | undefined;
  readonly region?: string | undefined;
  readonly cluster?: string | undefined;
  readonly currentVersion?: number | undefined;
  readonly targetVersion?: number | undefined;
  readonly lastSeen: number;
  /** Set while the node is behind its target: the first report of this lag for this target. */
  readonly lagSince?: number | undefined;
}

/** Whether a report shows the node behind (or ahead of, pending a rollback) the version it should run. */
export function isBehind(currentVersion: number | undefined, targetVersion: number | undefined): boolean {
  return targetVersion !== undefined && currentVersion !== targetVersion;
}

/**
 * The lag start to keep for a node's new report: the previous one when the node was already behind the
 * same target, else the report's own time; undefined when the node is not behind.
 */
export function nextLagSince(
  previous: Pick<ConsumerEntry, 'currentVersion' | 'targetVersion' | 'lagSince'> | undefined,
  report: { currentVersion?: number | undefined; targetVersion?: number | undefined; at: number },
): number | undefined {
  if (!isBehind(report.currentVersion, report.targetVersion)) return undefined;
  if (
    previous?.lagSince !== undefined &&
    previous.targetVersion === report.targetVersion &&
    isBehind(previous.currentVersion, previous.targetVersion)
  )
    return Math.min(previous.lagSince, report.at);
  return report.at;
}

/** Both stores answer `status` through this, so they cannot drift apart. Entries must be live ones. */
export function summarize(
  topic: string,
  entries: Iterable<ConsumerEntry>,
  now: number,
  graceMs: number,
): ConsumerStatus {
  const counts = new Map<number | null, number>();
  const lagging: LaggingNode[] = [];
  let total = 0;
  for (const entry of entries) {
    total++;
    const version = entry.currentVersion ?? null;
    counts.set(version, (counts.get(version) ?? 0) + 1);
    const target = entry.targetVersion;
    if (target === undefined || !isBehind(entry.currentVersion, target)) continue;
    const since = entry.lagSince ?? entry.lastSeen;
    if (now - since <= graceMs) continue;
    lagging.push({
      node: entry.node,
      ...(entry.app === undefined ? {} : { app: entry.app }),
      ...(entry.region === undefined ? {} : { region: entry.region }),
      ...(entry.cluster === undefined ? {} : { cluster: entry.cluster }),
      ...(entry.currentVersion === undefined ? {} : { currentVersion: entry.currentVersion }),
      targetVersion: target,
      since,
      lastSeen: entry.lastSeen,
    });
  }
  const distribution: VersionCount[] = [...counts]
    .map(([version, nodes]) => ({ version, nodes }))
    .sort((a, b) => (b.version ?? -1) - (a.version ?? -1));
  lagging.sort((a, b) => a.since - b.since || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  return { topic, distribution, lagging, total };
}
