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
   * How long the fallback cache lookup may run before a disk cache entry, when there is one, is used
   * instead: the time left before the startup bound (less a margin), so a hanging S3 does not keep a
   * proxy that has a good local copy on its default. Undefined: the lookup gets its whole budget.
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
        'fallback cache lookup still unanswered near the startup bound: starting from the disk cache',
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

const DISK_FIRST = Symbol('disk first');

/**
 * Looks the topic up in the fallback cache and offers the hit. Resolves true when it stopped waiting
 * because `diskAfterMs` passed and the disk cache has an entry (the lookup is then abandoned: the reader
 * takes no signal).
 */
async function lookupFallback(
  channel: TopicChannel,
  deps: FallbackChainDeps,
  signal: AbortSignal,
  diskEntry: Promise<DiskCacheEntry | undefined> | undefined,
  diskAfterMs: number | undefined,
): Promise<boolean> {
  const { topic } = channel;
  const scoped = timeoutSignal(signal, deps.clock, deps.lookupTimeoutMs, 'fallback cache lookup');
  let diskTimer: TimerHandle | undefined;
  try {
    const racers: Promise<FallbackHit | undefined | typeof DISK_FIRST>[] = [
      raceAbort(deps.fallback!.lookup(topic, deps.identity), scoped.signal),
    ];
    if (diskEntry && diskAfterMs !== undefined && diskAfterMs < deps.lookupTimeoutMs)
      racers.push(
        new Promise((resolve) => {
          diskTimer = deps.clock.setTimeout(
            () => void diskEntry.then((entry) => entry && resolve(DISK_FIRST)),
            diskAfterMs,
          );
        }),
      );
    const hit = await Promise.race(racers);
    if (hit === DISK_FIRST) return true;
    if (hit && (await staleAgainstDisk(hit, diskEntry, scoped.signal))) {
      deps.logger.warn(
        { topic, version: hit.version },
        'fallback cache hit is older than the disk cache entry (unpinned both): starting from the disk cache',
      );
      return false;
    }
    if (hit)
      await channel.offer(
        { version: hit.version, pinned: hit.pinned, record: hit.record, source: 'fallback-cache' },
        signal,
        'unvalued',
      );
  } catch (err) {
    if (!signal.aborted) deps.logger.warn({ err, topic }, 'fallback cache unavailable');
  } finally {
    scoped.dispose();
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
