import { int, ms, pct, table } from './harness/format.js';
import { httpLoad } from './harness/load.js';
import { sampleDocument } from './harness/poll-fixture.js';
import { startMeshpress } from './harness/processes.js';
import { eachLimited, putTopic } from './harness/rest.js';
import type { BenchContext, Benchmark, BenchResult, SummaryRow } from './harness/types.js';
import type { HttpLoadResult } from './workers/http-load.js';

/** A running server the publish benchmark can drive over REST. */
export interface PublishServer {
  readonly httpUrl: string;
  /** For the server's CPU share; omit when the server is not a local process. */
  readonly pid?: number;
  stop(): Promise<void>;
}

/**
 * Where publishes go. The Cassandra store adds one entry to PUBLISH_TARGETS below, whose `start` runs a
 * server over Cassandra (e.g. startMeshpress with the distributed-mode env, after starting Cassandra);
 * the benchmark then reports a row pair for it next to the embedded store's.
 */
export interface PublishTarget {
  readonly name: string;
  start(): Promise<PublishServer>;
}

export const PUBLISH_TARGETS: PublishTarget[] = [
  {
    name: 'embedded (SQLite)',
    start: () => startMeshpress(),
  },
];

export const PUBLISH_LOAD = {
  topics: 16,
  sequential: { inFlight: 1, durationMs: 10_000, maxRequests: 5_000 },
  concurrent: { inFlight: 16, durationMs: 10_000, maxRequests: 20_000 },
  warmupMs: 1_000,
  distinctBodies: 500,
} as const;

/** Runs the sequential and concurrent windows against one target. Exported for other targets' scripts. */
export async function measurePublishes(target: PublishTarget, ctx: BenchContext) {
  const server = await target.start();
  try {
    const topics = Array.from({ length: PUBLISH_LOAD.topics }, (_, i) => `bench.publish.t${i}`);
    await eachLimited(topics, 4, (topic) => putTopic(server.httpUrl, topic));
    // Small inline JSON documents, each distinct, spread over the topics round-robin.
    const requests = Array.from({ length: PUBLISH_LOAD.distinctBodies }, (_, i) => {
      const topic = topics[i % topics.length]!;
      return {
        method: 'POST' as const,
        path: `/v1/topics/${topic}/versions`,
        body: JSON.stringify({ payload: { document: sampleDocument(topic, i) }, scopes: ['*'] }),
      };
    });
    const payloadBytes = Buffer.byteLength(JSON.stringify(sampleDocument(topics[0]!, 0)));
    const window = (w: { inFlight: number; durationMs: number; maxRequests: number }) =>
      httpLoad({
        origin: server.httpUrl,
        requests,
        connections: w.inFlight,
        pipelining: 1,
        warmupMs: ctx.quick ? 200 : PUBLISH_LOAD.warmupMs,
        durationMs: ctx.quick ? 1_500 : w.durationMs,
        maxRequests: w.maxRequests,
        ...(server.pid === undefined ? {} : { serverPid: server.pid }),
      });
    const sequential = await window(PUBLISH_LOAD.sequential);
    const concurrent = await window(PUBLISH_LOAD.concurrent);
    return { target: target.name, payloadBytes, sequential, concurrent };
  } finally {
    await server.stop();
  }
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const measured: Awaited<ReturnType<typeof measurePublishes>>[] = [];
  for (const target of PUBLISH_TARGETS) {
    ctx.log(
      `${target.name}: ${PUBLISH_LOAD.topics} topics, sequential then ${PUBLISH_LOAD.concurrent.inFlight} in flight`,
    );
    measured.push(await measurePublishes(target, ctx));
  }
  const problems = (r: HttpLoadResult) => {
    const ok = r.statuses['201'] ?? 0;
    return ok === r.requests && r.errors === 0
      ? ''
      : `; statuses ${JSON.stringify(r.statuses)}, ${r.errors} errors`;
  };
  const lines = measured.flatMap((m) =>
    (['sequential', 'concurrent'] as const).map((mode) => ({ m, mode, r: m[mode] })),
  );
  ctx.log(
    `\n${table(
      ['store', 'mode', 'publishes/s', 'p50', 'p99', 'max', 'server CPU', 'load CPU'],
      lines.map(({ m, mode, r }) => [
        m.target,
        mode === 'sequential' ? 'sequential' : `${PUBLISH_LOAD.concurrent.inFlight} in flight`,
        int(r.requestsPerSecond),
        ms(r.latencyMs.p50),
        ms(r.latencyMs.p99),
        ms(r.latencyMs.max),
        pct(r.serverCpu ?? 0),
        pct(r.loadCpu),
      ]),
    )}`,
  );
  const rows: SummaryRow[] = lines.map(({ m, mode, r }) => ({
    label: `publish, ${m.target}, ${mode === 'sequential' ? 'sequential' : `${PUBLISH_LOAD.concurrent.inFlight} in flight`} (${m.payloadBytes} B inline JSON)`,
    goal: '',
    measured: `${int(r.requestsPerSecond)} publishes/s, p50 ${ms(r.latencyMs.p50)}, p99 ${ms(r.latencyMs.p99)}${problems(r)}`,
    verdict: problems(r) ? 'fail' : 'info',
  }));
  return {
    rows,
    details: { load: PUBLISH_LOAD, targets: measured },
    notes: [
      'Each publish is a REST POST of a small inline JSON document with scope *; the server commits it to its store and refreshes its consumer cache before answering 201.',
    ],
  };
}

export const publishThroughput: Benchmark = {
  name: 'publish-throughput',
  title: 'Publish throughput on the embedded store (SQLite)',
  goal: 'figures only (no goal in the issue)',
  run,
};
