import {
  ClosedError,
  FALLBACK_FORMAT_VERSION,
  type FallbackDocument,
  type FallbackTopic,
  type VersionRecord,
} from '@meshpress/client';
import { loadTopicView } from '../core/topic-view.js';
import type { ConfigStore } from '../store/config-store.js';

export const DEFAULT_FALLBACK_PAGE_SIZE = 200;
/** Topics loaded at once: enough to hide store latency, few enough not to crowd out live traffic. */
export const DEFAULT_FALLBACK_CONCURRENCY = 8;

/**
 * Servable version records per topic, reused by the next build for versions still committed then
 * (committed records never change, except for scopes added later, which the load checks).
 */
export type KnownRecords = ReadonlyMap<string, ReadonlyMap<number, VersionRecord>>;

export interface BuildFallbackOptions {
  readonly store: ConfigStore;
  readonly now: number;
  readonly writer: string;
  readonly signal?: AbortSignal | undefined;
  readonly known?: KnownRecords | undefined;
  readonly pageSize?: number | undefined;
  readonly concurrency?: number | undefined;
}

/**
 * Builds the fallback cache from the store, each topic through the consumer cache's own loader
 * (loadTopicView): the same scope heads, the same consistency check, so a client resolving against the
 * document answers as the service would. A topic failing to load fails the whole build: a document
 * missing a topic would tell clients it has nothing for them, worse than the previous document.
 */
export async function buildFallbackDocument(
  options: BuildFallbackOptions,
): Promise<{ document: FallbackDocument; known: KnownRecords }> {
  const { store, now, signal } = options;
  const pageSize = options.pageSize ?? DEFAULT_FALLBACK_PAGE_SIZE;
  const concurrency = options.concurrency ?? DEFAULT_FALLBACK_CONCURRENCY;
  const topics: FallbackTopic[] = [];
  const known = new Map<string, ReadonlyMap<number, VersionRecord>>();

  let after: string | undefined;
  for (;;) {
    throwIfAborted(signal);
    const page = await store.listTopics({ after, limit: pageSize });
    await forEachLimited(page, concurrency, async ({ name }) => {
      throwIfAborted(signal);
      // loadTopicView reuses a known record only while the snapshot lists its version as committed.
      const view = await loadTopicView(store, name, now, options.known?.get(name));
      // Deleted between the listing and the load.
      if (!view) return;
      known.set(name, view.servable);
      topics.push({
        topic: view.topic,
        pins: [...view.state.pins].sort((a, b) => compare(a.scope, b.scope)),
        publishes: [...view.state.publishes].sort((a, b) => compare(a.scope, b.scope)),
        newestServable: [...view.newestServableByScope]
          .map(([scope, version]) => ({ scope, version }))
          .sort((a, b) => compare(a.scope, b.scope)),
        versions: [...view.servable.values()].sort((a, b) => b.version - a.version),
      });
    });
    if (page.length < pageSize) break;
    after = page[page.length - 1]!.name;
  }

  topics.sort((a, b) => compare(a.topic.name, b.topic.name));
  return {
    document: { formatVersion: FALLBACK_FORMAT_VERSION, generatedAt: now, writer: options.writer, topics },
    known,
  };
}

async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      try {
        await fn(items[next++]!);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  // Settle every worker before reporting, so no load is still running against the store afterwards.
  const results = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const failure = results.find((r) => r.status === 'rejected');
  if (failure) throw failure.reason;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason ?? new ClosedError('fallback writer');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
