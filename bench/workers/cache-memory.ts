import { setImmediate as tick } from 'node:timers/promises';
import { sha256Hex, systemClock } from '@meshpress/client';
import pino from 'pino';
import { z } from 'zod';
import { ConsumerCache } from '../../server/src/core/consumer-cache.js';
import { SqliteConfigStore } from '../../server/src/store/sqlite/sqlite-config-store.js';
import { serveWorker } from './runtime.js';

/**
 * Memory the consumer cache takes per topic, measured in this process alone: fill a SQLite store, load
 * every topic into a ConsumerCache, and compare V8 heap and array-buffer use before and after, each
 * after full garbage collections (needs --expose-gc).
 */
export const cacheMemoryConfigSchema = z.object({
  topics: z.number().int().min(1).max(1_000_000),
  /** Store file, or :memory: (SQLite's memory is native either way and not counted in the heap). */
  storePath: z.string().min(1),
  payloadBytes: z.number().int().min(0).max(1_048_576),
  /** Every n-th topic also has a pin. */
  pinEvery: z.number().int().min(1),
  loadConcurrency: z.number().int().min(1).max(256),
});
export type CacheMemoryConfig = z.infer<typeof cacheMemoryConfigSchema>;

type Memory = ReturnType<typeof process.memoryUsage>;

export interface CacheMemoryResult {
  readonly topics: number;
  readonly versionsPerTopic: number;
  readonly scopesPerTopic: number;
  readonly payloadBytes: number;
  readonly pinnedTopics: number;
  readonly cachedTopics: number;
  readonly seedMs: number;
  readonly loadMs: number;
  readonly before: Memory;
  readonly after: Memory;
  readonly delta: { heapUsed: number; arrayBuffers: number; external: number; rss: number };
}

/** Three versions per topic, each to its own scope, as a mesh topic with regional overrides looks. */
const SCOPES = (i: number) => [['*'], ['region=eu-west-1'], [`app=svc-${i % 100},region=us-east-1`]];

async function fullGc(): Promise<Memory> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  for (let i = 0; i < 4; i++) {
    gc();
    await tick();
  }
  return process.memoryUsage();
}

async function run(config: CacheMemoryConfig): Promise<CacheMemoryResult> {
  const store = await SqliteConfigStore.open({ path: config.storePath });
  const names = Array.from(
    { length: config.topics },
    (_, i) => `mesh.bench.cache.topic-${String(i).padStart(6, '0')}`,
  );
  const seedStarted = performance.now();
  let pinnedTopics = 0;
  for (const [i, name] of names.entries()) {
    const now = systemClock.now();
    await store.putTopic({ name, retention: { maxVersions: 100 } }, now);
    const scopes = SCOPES(i);
    for (const scope of scopes) {
      const version = await store.allocateVersion(name);
      const data = Buffer.from(
        JSON.stringify({ name, version, pad: 'x'.repeat(config.payloadBytes) }).slice(0, config.payloadBytes),
      );
      await store.writeVersion({
        topic: name,
        version,
        metadata: { source: 'bench', commit: `c${i}-${version}` },
        pointer: { kind: 'direct', data },
        size: data.length,
        sha256: sha256Hex(data),
        contentType: 'application/json',
        publisher: 'bench',
        createdAt: now,
      });
      await store.addScopes(name, version, scope, now);
      await store.commitVersion(name, version, now);
    }
    if (i % config.pinEvery === 0) {
      await store.setPin(name, {
        scope: 'region=ap-south-1',
        version: 1,
        reason: 'bench',
        author: 'bench',
        setAt: now,
      });
      pinnedTopics++;
    }
  }
  const seedMs = performance.now() - seedStarted;

  const cache = new ConsumerCache({ store, clock: systemClock, logger: pino({ level: 'silent' }) });
  const before = await fullGc();
  const loadStarted = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: config.loadConcurrency }, async () => {
      while (next < names.length) {
        const name = names[next++]!;
        if (!(await cache.refresh(name))) throw new Error(`${name} did not load`);
      }
    }),
  );
  const loadMs = performance.now() - loadStarted;
  const after = await fullGc();
  const cachedTopics = cache.size;
  cache.close();
  await store.close();
  return {
    topics: config.topics,
    versionsPerTopic: SCOPES(0).length,
    scopesPerTopic: SCOPES(0).length,
    payloadBytes: config.payloadBytes,
    pinnedTopics,
    cachedTopics,
    seedMs: Math.round(seedMs),
    loadMs: Math.round(loadMs),
    before,
    after,
    delta: {
      heapUsed: after.heapUsed - before.heapUsed,
      arrayBuffers: after.arrayBuffers - before.arrayBuffers,
      external: after.external - before.external,
      rss: after.rss - before.rss,
    },
  };
}

serveWorker(cacheMemoryConfigSchema, run);
