import { int, mib, table } from './harness/format.js';
import { forkWorker, SOURCE_FLAGS } from './harness/processes.js';
import type { BenchContext, Benchmark, BenchResult } from './harness/types.js';
import type { CacheMemoryConfig, CacheMemoryResult } from './workers/cache-memory.js';

export const CACHE_MEMORY: CacheMemoryConfig = {
  topics: 10_000,
  storePath: ':memory:',
  payloadBytes: 512,
  pinEvery: 10,
  loadConcurrency: 16,
};

type Message = { type: 'result'; result: CacheMemoryResult } | { type: 'error'; message: string };

async function run(ctx: BenchContext): Promise<BenchResult> {
  const config = { ...CACHE_MEMORY, topics: ctx.quick ? 1_000 : CACHE_MEMORY.topics };
  ctx.log(
    `${int(config.topics)} topics × 3 scoped versions (${config.payloadBytes} B inline payloads), a pin on every ${config.pinEvery}th; loading all into a ConsumerCache in a process of its own`,
  );
  const worker = forkWorker<Message>('bench/workers/cache-memory.ts', [...SOURCE_FLAGS, '--expose-gc']);
  let result: CacheMemoryResult;
  try {
    worker.send({ type: 'start', config });
    ({ result } = await worker.next(
      (m): m is Extract<Message, { type: 'result' }> => m.type === 'result',
      300_000,
    ));
  } finally {
    await worker.stop();
  }
  const per10k = (bytes: number) => (bytes * 10_000) / result.topics;
  const total = result.delta.heapUsed + result.delta.arrayBuffers;
  const problems =
    result.cachedTopics === result.topics
      ? []
      : [`only ${result.cachedTopics} of ${result.topics} topics cached`];
  ctx.log(
    `\n${table(
      ['figure', `for ${int(result.topics)} topics`, 'per 10,000 topics', 'per topic'],
      [
        [
          'V8 heap used',
          mib(result.delta.heapUsed),
          mib(per10k(result.delta.heapUsed)),
          `${(result.delta.heapUsed / result.topics / 1024).toFixed(2)} KiB`,
        ],
        [
          'array buffers (payloads)',
          mib(result.delta.arrayBuffers),
          mib(per10k(result.delta.arrayBuffers)),
          `${(result.delta.arrayBuffers / result.topics / 1024).toFixed(2)} KiB`,
        ],
        [
          'heap + array buffers',
          mib(total),
          mib(per10k(total)),
          `${(total / result.topics / 1024).toFixed(2)} KiB`,
        ],
        ['RSS (includes allocator slack)', mib(result.delta.rss), mib(per10k(result.delta.rss)), ''],
      ],
    )}\nseeded in ${(result.seedMs / 1000).toFixed(1)} s, loaded in ${(result.loadMs / 1000).toFixed(1)} s${problems.length ? `\nPROBLEMS: ${problems.join('; ')}` : ''}`,
  );
  return {
    rows: [
      {
        label: `consumer cache memory per 10,000 topics (3 scoped versions, ${result.payloadBytes} B payloads, 1 in ${config.pinEvery} pinned)`,
        goal: '',
        measured:
          `${mib(per10k(total))} (heap ${mib(per10k(result.delta.heapUsed))} + payload buffers ${mib(per10k(result.delta.arrayBuffers))})` +
          (problems.length ? `; ${problems.join('; ')}` : ''),
        verdict: problems.length ? 'fail' : 'info',
      },
    ],
    details: {
      config,
      result,
      per10kTopicsBytes: {
        heapUsed: per10k(result.delta.heapUsed),
        arrayBuffers: per10k(result.delta.arrayBuffers),
        total: per10k(total),
      },
    },
    notes: [
      'Measured with process.memoryUsage() after four global.gc() passes before and after loading; the store is SQLite in memory, whose pages are native memory outside the V8 heap.',
    ],
  };
}

export const cachememory: Benchmark = {
  name: 'cache-memory',
  title: 'Consumer cache memory per 10,000 topics',
  goal: 'figures only (no goal in the issue)',
  run,
};
