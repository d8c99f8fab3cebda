import type { Clock } from '../core/clock.js';
import type { Identity } from '../core/names.js';
import type { FallbackCacheReader } from '../fallback/types.js';
import { raceAbort, timeoutSignal } from './abort.js';
import type { DiskCache } from './disk-cache.js';
import type { ClientLogger } from './logger.js';
import type { ClientMetrics } from './metrics.js';
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
 * 1. the S3 fallback cache, which applies the same resolve() the service would (scopes and pins);
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
): Promise<void> {
  const topic = channel.topic;
  if (channel.unvalued.length === 0 || signal.aborted) return;

  if (deps.fallback) {
    const scoped = timeoutSignal(signal, deps.clock, deps.lookupTimeoutMs, 'fallback cache lookup');
    try {
      const hit = await raceAbort(deps.fallback.lookup(topic, deps.identity), scoped.signal);
      if (hit) {
        await channel.offer(
          { version: hit.version, pinned: hit.pinned, record: hit.record, source: 'fallback-cache' },
          signal,
          'unvalued',
        );
      }
    } catch (err) {
      if (signal.aborted) return;
      deps.logger.warn({ err, topic }, 'fallback cache unavailable');
    } finally {
      scoped.dispose();
    }
  }
  if (channel.unvalued.length === 0 || signal.aborted) return;

  if (deps.diskCache) {
    const entry = await deps.diskCache.read(topic).catch(() => undefined);
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
  }
  if (signal.aborted || !concludeDefault()) return;
  settleOnDefault(channel, deps);
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
