import type { Clock, TimerHandle } from '../core/clock.js';
import type { Identity } from '../core/names.js';
import type { FallbackCacheReader, FallbackHit } from '../fallback/types.js';
import { raceAbort, timeoutSignal } from './abort.js';
import type { DiskCache, DiskCacheEntry } from './disk-cache.js';
import type { ClientLogger } from './logger.js';
import type { ClientMetrics } from './metrics.js';
import { olderThanDiskEntry } from './stale-fallback.js';
import type { TopicChannel } from './topic-channel.js';

export interface FallbackChainDeps {
  readonly identity: Identity;
  readonly fallback: FallbackCacheReader | undefined;
  readonly diskCache: DiskCache | undefined;
  readonly metrics: ClientMetrics;
  readonly logger: ClientLogger;
  readonly clock: Clock;
  /** Budget of one fallback cache lookup (the reader takes no signal of its own). */
  readonly lookupTimeoutMs: number;
}

/**
 * Gives subscriptions that the service could not serve a starting value, in this order:
 * 1. the S3 fallback cache, which applies the same resolve() the service would (scopes and pins), unless
 *    its hit is unpinned and older than an unpinned disk cache entry (stale: see olderThanDiskEntry);
 * 2. the local disk cache: the last version this node applied;
 * 3. the default value.
 * Each candidate goes through the same download, sha256 and decode checks as a service update, and goes
 * only to subscriptions still without a value: these sources may be stale (an old pin in the fallback
 * cache), so they never move a subscription that already runs a version, nor the channel's version
 * (what the node reports and keeps on disk) unless the channel had none.
 */
export async function startFromFallbacks(
  channel: TopicChannel,
  deps: FallbackChainDeps,
  signal: AbortSignal,
  /** Whether, if nothing is found, to settle on the default now (else the caller decides later). */
  concludeDefault: () => boolean,
  /**
   * How long the fallback cache lookup and the download of its hit may run before a disk cache entry,
   * when there is one, is used instead: the time left before the startup bound (less a margin), so a
   * hanging S3 (or service) does not keep a proxy that has a good local copy on its default. Undefined:
   * the lookup gets its whole budget, and the download its own.
   */
  diskAfterMs?: number,
): Promise<void> {
  const topic = channel.topic;
  if (channel.unvalued.length === 0 || signal.aborted) return;

  // Local and cheap: read in parallel with the lookup, so it is at hand if S3 is too slow.
  const diskEntry = deps.diskCache?.read(topic).catch(() => undefined);
  if (deps.fallback) {
    const gaveWay = await lookupFallback(channel, deps, signal, diskEntry, diskAfterMs);
    if (gaveWay)
      deps.logger.warn(
        { topic, waitedMs: diskAfterMs },
        'fallback cache lookup or download still under way near the startup bound: starting from the disk cache',
      );
  }
  if (channel.unvalued.length === 0 || signal.aborted) return;

  const entry = await diskEntry;
  if (entry && !signal.aborted) {
    await channel.offer(
      {
        version: entry.record.version,
        pinned: entry.pinned,
        record: entry.record,
        source: 'disk-cache',
        data: entry.data,
      },
      signal,
      'unvalued',
    );
  }
  if (signal.aborted || !concludeDefault()) return;
  settleOnDefault(channel, deps);
}

/** Why a fallback cache lookup or its hit's download was abandoned: the disk cache goes first. */
class GaveWayToDisk extends Error {
  constructor() {
    super('gave way to the disk cache before the startup bound');
  }
}

/**
 * Looks the topic up in the fallback cache and offers the hit. Resolves true when it stopped waiting
 * because `diskAfterMs` passed and the disk cache has an entry. That deadline covers the hit's download
 * as well as the lookup: either may hang (an unreachable bucket, a hanging service as the only copy of a
 * `local` payload). The download is aborted, so the disk entry's offer, queued behind it on the channel,
 * goes ahead; the lookup is only abandoned (the reader takes no signal).
 */
async function lookupFallback(
  channel: TopicChannel,
  deps: FallbackChainDeps,
  signal: AbortSignal,
  diskEntry: Promise<DiskCacheEntry | undefined> | undefined,
  diskAfterMs: number | undefined,
): Promise<boolean> {
  const { topic } = channel;
  const giveWay = new AbortController();
  const onAbort = () => giveWay.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  let diskTimer: TimerHandle | undefined;
  if (diskEntry && diskAfterMs !== undefined)
    diskTimer = deps.clock.setTimeout(
      () => void diskEntry.then((entry) => entry && giveWay.abort(new GaveWayToDisk())),
      diskAfterMs,
    );
  const scoped = timeoutSignal(giveWay.signal, deps.clock, deps.lookupTimeoutMs, 'fallback cache lookup');
  try {
    const hit = await raceAbort(deps.fallback!.lookup(topic, deps.identity), scoped.signal);
    if (!hit) return false;
    if (await staleAgainstDisk(hit, diskEntry, scoped.signal)) {
      deps.logger.warn(
        { topic, version: hit.version },
        'fallback cache hit is older than the disk cache entry (unpinned both): starting from the disk cache',
      );
      return false;
    }
    // Raced as well: a decoder that takes its time is not interrupted, but is not waited for either.
    await raceAbort(
      channel.offer(
        { version: hit.version, pinned: hit.pinned, record: hit.record, source: 'fallback-cache' },
        giveWay.signal,
        'unvalued',
      ),
      giveWay.signal,
    );
  } catch (err) {
    if (giveWay.signal.reason instanceof GaveWayToDisk) return true;
    if (!signal.aborted) deps.logger.warn({ err, topic }, 'fallback cache unavailable');
  } finally {
    scoped.dispose();
    signal.removeEventListener('abort', onAbort);
    if (diskTimer) deps.clock.clearTimeout(diskTimer);
  }
  return false;
}

/**
 * Whether an unpinned hit is older than the unpinned disk cache entry (see olderThanDiskEntry): the disk
 * entry then goes first. A disk read that does not answer within the lookup's budget counts as none.
 */
async function staleAgainstDisk(
  hit: FallbackHit,
  diskEntry: Promise<DiskCacheEntry | undefined> | undefined,
  signal: AbortSignal,
): Promise<boolean> {
  if (hit.pinned || !diskEntry) return false;
  const entry = await raceAbort(diskEntry, signal).catch(() => undefined);
  return olderThanDiskEntry(hit, entry);
}

/** Subscriptions still without a value run on their default from now on (until a version arrives). */
export function settleOnDefault(
  channel: TopicChannel,
  deps: Pick<FallbackChainDeps, 'metrics' | 'logger'>,
): void {
  const left = channel.unvalued.filter((s) => s.startedFrom === 'pending');
  if (left.length === 0) return;
  for (const subscription of left) subscription.markStarted('default');
  deps.metrics.fallbackUsed(channel.topic, 'default');
  deps.logger.warn(
    { topic: channel.topic },
    'no value from the service or any fallback: running on the default',
  );
}
