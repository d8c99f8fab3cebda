import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '@meshpress/client';
import pino from 'pino';
import type { BlobStore } from '../../server/src/blob/blob-store.js';
import { DirBlobStore } from '../../server/src/blob/dir-blob-store.js';
import { InProcessChangeBus } from '../../server/src/bus/in-process-bus.js';
import type { Caller } from '../../server/src/core/caller.js';
import { MeshpressService } from '../../server/src/core/service.js';
import { ServerMetrics } from '../../server/src/metrics.js';
import type { ConfigStore } from '../../server/src/store/config-store.js';
import { SqliteConfigStore } from '../../server/src/store/sqlite/sqlite-config-store.js';

export const caller: Caller = { principal: 'tester', app: 'tests', requestId: 'r-1' };

/**
 * A MeshpressService on in-memory SQLite, a temp blob directory and a ManualClock: no network, no sleeps.
 * `wrapStore` and `blobs` let a test put a stub in front of the store or replace the blob store; the
 * harness still closes the real ones.
 */
export async function serviceHarness(
  options: {
    inlineLimitBytes?: number;
    maxPayloadBytes?: number;
    refreshIntervalMs?: number;
    wrapStore?: (store: ConfigStore) => ConfigStore;
    blobs?: BlobStore;
  } = {},
) {
  const { wrapStore, blobs: blobsOverride, ...serviceOptions } = options;
  const clock = new ManualClock();
  const store = await SqliteConfigStore.open({ path: ':memory:' });
  const blobDir = mkdtempSync(join(tmpdir(), 'meshpress-blobs-'));
  const blobs = new DirBlobStore({ root: blobDir });
  const bus = new InProcessChangeBus();
  const metrics = new ServerMetrics();
  const service = new MeshpressService({
    store: wrapStore ? wrapStore(store) : store,
    blobs: blobsOverride ?? blobs,
    bus,
    clock,
    logger: pino({ level: 'silent' }),
    metrics,
    instanceId: 'test',
    ...serviceOptions,
  });
  return {
    clock,
    store,
    blobs,
    bus,
    metrics,
    service,
    async close() {
      service.close();
      await Promise.all([bus.close(), blobs.close(), store.close()]);
      rmSync(blobDir, { recursive: true, force: true });
    },
  };
}

export const text = (s: string) => ({ kind: 'bytes' as const, data: new TextEncoder().encode(s) });
