import { ClosedError, type DataPointer, type TopicRecord } from '@meshpress/client';
import type { Logger } from 'pino';
import type { BlobStore } from '../blob/blob-store.js';
import { loadTopicView, type TopicView } from '../core/topic-view.js';
import type { ConfigStore } from '../store/config-store.js';
import { hasRetentionLimit, keptByRetention, protectedVersions } from './janitor-rules.js';

export interface PurgeTopicOptions {
  readonly store: ConfigStore;
  /** Says which of a purged version's blob locations it wrote itself (only those are ever deleted). */
  readonly blobs: BlobStore;
  readonly topic: TopicRecord;
  readonly now: number;
  readonly pageSize: number;
  readonly logger: Logger;
  readonly signal: AbortSignal;
}

export interface TopicPurge {
  /** Version numbers purged, oldest first. */
  readonly purged: readonly number[];
  /** Per digest, the distinct blob pointers the purged versions held that the blob store owns. */
  readonly blobs: ReadonlyMap<string, readonly DataPointer[]>;
  /** Set when a purge failed part-way: the versions purged before it are still reported. */
  readonly error?: unknown;
}

interface Candidate {
  readonly version: number;
  readonly sha256: string;
  readonly blob: DataPointer | undefined;
  /** Its publish scopes when the history was read: a scope beyond these was added during the run. */
  readonly scopes: ReadonlySet<string>;
}

const NOTHING: TopicPurge = { purged: [], blobs: new Map() };

/**
 * Purges the committed versions of one topic that its retention no longer keeps, except protected ones
 * (pinned, scope heads). The history is read first, page by page, keeping only what a purge needs; the
 * protected set is read after it, so a pin or scope added meanwhile is seen. Right before each delete
 * the version's scopes and the topic's pins are read once more (stillPurgeable): a version pinned, or
 * given a scope that makes it a head, since the protected set was read is kept. docs/retention.md.
 */
export async function purgeTopic(options: PurgeTopicOptions): Promise<TopicPurge> {
  const { store, topic, now, signal } = options;
  if (!hasRetentionLimit(topic.retention)) return NOTHING;

  const candidates: Candidate[] = [];
  let rank = 0;
  let before: number | undefined;
  do {
    throwIfAborted(signal);
    const page = await store.listVersions(topic.name, { before, limit: options.pageSize });
    for (const record of page.versions) {
      if (!keptByRetention(topic.retention, rank++, record.createdAt, now))
        candidates.push({
          version: record.version,
          sha256: record.sha256,
          blob: options.blobs.ownedPayload(record.pointer, record.sha256),
          scopes: new Set(record.scopes.map((s) => s.scope)),
        });
    }
    before = page.nextBefore;
  } while (before !== undefined);
  if (candidates.length === 0) return NOTHING;

  const view = await loadTopicView(store, topic.name, now);
  if (!view) return NOTHING;
  const keep = protectedVersions(view);

  // What was purged before a failure or a close is still reported, so the caller handles its blobs.
  const purged: number[] = [];
  const blobs = new Map<string, Map<string, DataPointer>>();
  let error: unknown;
  try {
    for (const candidate of candidates.reverse()) {
      if (keep.has(candidate.version)) continue;
      if (signal.aborted) break;
      if (!(await stillPurgeable(options, view, candidate))) continue;
      await store.deleteVersion(topic.name, candidate.version);
      purged.push(candidate.version);
      if (!candidate.blob) continue;
      let pointers = blobs.get(candidate.sha256);
      if (!pointers) blobs.set(candidate.sha256, (pointers = new Map()));
      pointers.set(JSON.stringify(candidate.blob), candidate.blob);
    }
    if (purged.length > 0) await warnAboutLatePins(options, purged);
  } catch (caught) {
    error = caught;
  }
  return {
    purged,
    blobs: new Map([...blobs].map(([sha256, pointers]) => [sha256, [...pointers.values()]])),
    ...(error === undefined ? {} : { error }),
  };
}

/**
 * Whether a candidate is still unprotected now, as far as one read of its record and one of the pins
 * can tell: not pinned, and every scope added to it since the history was read has a servable version
 * newer than it in the protected-set view (heads only move up, so it is not that scope's head or
 * fallback now either). A scope the view did not know, or knew with nothing newer, may make it a head:
 * it is kept, and considered again at the next run. A version already gone is skipped.
 */
async function stillPurgeable(
  options: PurgeTopicOptions,
  view: TopicView,
  candidate: Candidate,
): Promise<boolean> {
  const { store, topic, logger } = options;
  const { version } = candidate;
  const [record, pins] = await Promise.all([
    store.getVersion(topic.name, version),
    store.listPins(topic.name),
  ]);
  if (!record) return false;
  const pin = pins.find((p) => p.version === version);
  const scope = record.scopes.find(({ scope }) => {
    if (candidate.scopes.has(scope)) return false;
    const newest = view.newestServableByScope.get(scope);
    return newest === undefined || newest <= version;
  })?.scope;
  if (pin === undefined && scope === undefined) return true;
  logger.info(
    { topic: topic.name, version, ...(pin ? { pinnedFor: pin.scope } : { scope }) },
    'a version became protected while the janitor ran; kept',
  );
  return false;
}

/**
 * A pin set on a version between its last check (stillPurgeable) and its purge points at nothing: matching
 * consumers then keep what they run (a pinned target that fails the consistency check is never served).
 * Rare (an operator pinning a version old enough to be purged, at that very moment) and not undoable
 * here, so it is reported loudly for a human to re-pin.
 */
async function warnAboutLatePins(options: PurgeTopicOptions, purged: readonly number[]): Promise<void> {
  const gone = new Set(purged);
  const pins = await options.store.listPins(options.topic.name);
  for (const pin of pins.filter((p) => gone.has(p.version)))
    options.logger.error(
      { topic: options.topic.name, scope: pin.scope, version: pin.version },
      'a pin was set on a version while the janitor purged it; pin a retained version instead',
    );
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason ?? new ClosedError('janitor');
}
