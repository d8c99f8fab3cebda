import { fixed, int, ms, pct, table } from './harness/format.js';
import { grpcLoad, httpLoad } from './harness/load.js';
import {
  identities,
  latestPollBodies,
  type PollBody,
  seedPollTopics,
  TOPICS_PER_POLL,
} from './harness/poll-fixture.js';
import { type ServerProcess, startMeshpress, startProcess } from './harness/processes.js';
import type { BenchContext, Benchmark, BenchResult, SummaryRow } from './harness/types.js';
import type { GrpcLoadResult } from './workers/grpc-load.js';
import type { HttpLoadResult } from './workers/http-load.js';

/**
 * Load shape, identical for the baselines and for meshpress. Scenarios take turns in rounds (baseline,
 * poll, poll, baseline, ...) and each figure is the median round, so that other work coming and going on
 * the machine does not land on one scenario only.
 */
export const POLL_LOAD = {
  http: { connections: 64, pipelining: 1 },
  grpc: { channels: 4, concurrency: 64 },
  rounds: 5,
  warmupMs: 1_000,
  durationMs: 3_000,
  maxRequests: 5_000_000,
  apps: 20,
  identities: 2_000,
} as const;

const GOAL_RATIO = 0.7;

type Transport = 'rest' | 'grpc';

interface Round {
  readonly requests: number;
  readonly windowMs: number;
  readonly requestsPerSecond: number;
  readonly latencyMs: HttpLoadResult['latencyMs'];
  readonly serverCpu: number;
  readonly loadCpu: number;
  readonly updateShare: number;
  readonly problems: string[];
  readonly raw: HttpLoadResult | GrpcLoadResult;
}

interface ScenarioSpec {
  readonly name: string;
  readonly transport: Transport;
  readonly baseline: boolean;
  /** Measured for comparison only: no goal applies (e.g. a no-op POST of the same bodies). */
  readonly diagnostic?: boolean;
  /** Expected share of answers carrying an update (polls only). */
  readonly expectUpdates?: number;
  readonly load: () => Promise<HttpLoadResult | GrpcLoadResult>;
}

interface Scenario {
  readonly spec: ScenarioSpec;
  readonly rounds: Round[];
}

function toRound(raw: HttpLoadResult | GrpcLoadResult, expectUpdates: number | undefined): Round {
  const problems: string[] = [];
  let updateShare: number;
  if ('statuses' in raw) {
    const ok = (raw.statuses['200'] ?? 0) + (raw.statuses['204'] ?? 0);
    updateShare = (raw.statuses['200'] ?? 0) / Math.max(1, raw.requests);
    if (ok !== raw.requests) problems.push(`unexpected statuses ${JSON.stringify(raw.statuses)}`);
  } else updateShare = raw.nonEmpty / Math.max(1, raw.requests);
  if (raw.errors > 0) problems.push(`${raw.errors} errors, e.g. ${raw.errorSamples[0]}`);
  if (expectUpdates !== undefined && Math.abs(updateShare - expectUpdates) > 0.05)
    problems.push(`expected ${pct(expectUpdates)} of answers to carry an update, got ${pct(updateShare)}`);
  return {
    requests: raw.requests,
    windowMs: raw.windowMs,
    requestsPerSecond: raw.requestsPerSecond,
    latencyMs: raw.latencyMs,
    serverCpu: raw.serverCpu ?? 0,
    loadCpu: raw.loadCpu,
    updateShare,
    problems,
    raw,
  };
}

/** The round with the median throughput (its latency and CPU figures go with it). */
function median(s: Scenario): Round {
  const sorted = [...s.rounds].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** Requests per second of server CPU over all rounds: what a request costs the server, whatever the machine's load. */
function perServerCpuSecond(s: Scenario): number {
  const requests = s.rounds.reduce((sum, r) => sum + r.requests, 0);
  const cpuSeconds = s.rounds.reduce((sum, r) => sum + (r.serverCpu * r.windowMs) / 1000, 0);
  return requests / Math.max(1e-9, cpuSeconds);
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const shape = ctx.quick
    ? { rounds: 1, warmupMs: 300, durationMs: 1_500 }
    : { rounds: POLL_LOAD.rounds, warmupMs: POLL_LOAD.warmupMs, durationMs: POLL_LOAD.durationMs };
  const servers: ServerProcess[] = [];
  try {
    // One meshpress process per transport, as each transport has its own hello-world process. Node's
    // stream internals (Readable, Writable, EventEmitter) serve both HTTP/1 sockets and HTTP/2 streams:
    // once one process has carried gRPC load, that shared code is polymorphic and its REST polls cost more
    // for the rest of its life. The last REST scenario measures that on the gRPC process (docs/benchmarks.md).
    const meshpress = await startMeshpress();
    servers.push(meshpress);
    const meshpressGrpc = await startMeshpress();
    servers.push(meshpressGrpc);
    const helloHttp = await startProcess({
      name: 'hello-http',
      script: 'bench/servers/hello-http.ts',
      ready: /listening (\S+)/,
    });
    servers.push(helloHttp.server);
    const noopPost = await startProcess({
      name: 'noop-post',
      script: 'bench/servers/noop-post.ts',
      ready: /listening (\S+)/,
    });
    servers.push(noopPost.server);
    const helloGrpc = await startProcess({
      name: 'hello-grpc',
      script: 'bench/servers/hello-grpc.ts',
      ready: /listening (\S+)/,
    });
    servers.push(helloGrpc.server);

    ctx.log(
      `seeding ${POLL_LOAD.apps * TOPICS_PER_POLL} topics (${POLL_LOAD.apps} apps × ${TOPICS_PER_POLL})…`,
    );
    const bodiesOf = async (server: typeof meshpress) => {
      const fixture = await seedPollTopics(server.httpUrl, POLL_LOAD.apps);
      const who = identities(fixture, ctx.quick ? 200 : POLL_LOAD.identities);
      const bodyFor = await latestPollBodies(server.httpUrl, fixture, who);
      return {
        topics: POLL_LOAD.apps * TOPICS_PER_POLL,
        identities: who.length,
        noUpdate: who.map((id) => bodyFor(id)),
        halfUpdate: who.map((id, i) => bodyFor(id, { stale: i % 2 === 0 })),
      };
    };
    const restBodies = await bodiesOf(meshpress);
    const grpcBodies = await bodiesOf(meshpressGrpc);

    const window = {
      warmupMs: shape.warmupMs,
      durationMs: shape.durationMs,
      maxRequests: POLL_LOAD.maxRequests,
    };
    const rest = (origin: string, serverPid: number, requests: Parameters<typeof httpLoad>[0]['requests']) =>
      httpLoad({ origin, requests, serverPid, ...POLL_LOAD.http, ...window });
    // Each poll carries its app, as a real client does (per-app limits key on it).
    const asRest = (bodies: PollBody[]) =>
      bodies.map((b) => ({
        method: 'POST' as const,
        path: '/v1/poll',
        body: JSON.stringify(b),
        headers: { 'x-meshpress-app': b.identity.app },
      }));
    const asGrpc = (bodies: PollBody[]) =>
      bodies.map((b) => ({
        message: { identity: b.identity, topics: b.topics, waitMs: 0 },
        metadata: { 'x-meshpress-app': b.identity.app },
      }));
    const grpc = (
      target: string,
      serverPid: number,
      service: 'hello' | 'meshpress',
      calls: { message: Record<string, unknown>; metadata?: Record<string, string> }[],
    ) =>
      grpcLoad({
        target,
        service,
        method: service === 'hello' ? 'SayHello' : 'Poll',
        calls,
        serverPid,
        countNonEmpty: service === 'meshpress',
        ...POLL_LOAD.grpc,
        ...window,
      });

    const specs: ScenarioSpec[] = [
      {
        name: 'rest hello-world',
        transport: 'rest',
        baseline: true,
        load: () => rest(helloHttp.match[1]!, helloHttp.server.pid, [{ method: 'GET', path: '/' }]),
      },
      {
        name: 'rest poll, no update',
        transport: 'rest',
        baseline: false,
        expectUpdates: 0,
        load: () => rest(meshpress.httpUrl, meshpress.pid, asRest(restBodies.noUpdate)),
      },
      {
        name: 'rest no-op POST, same bodies (diagnostic)',
        transport: 'rest',
        baseline: false,
        diagnostic: true,
        expectUpdates: 0,
        load: () => rest(noopPost.match[1]!, noopPost.server.pid, asRest(restBodies.noUpdate)),
      },
      {
        name: 'rest poll, half updated',
        transport: 'rest',
        baseline: false,
        expectUpdates: 0.5,
        load: () => rest(meshpress.httpUrl, meshpress.pid, asRest(restBodies.halfUpdate)),
      },
      {
        name: 'grpc hello-world',
        transport: 'grpc',
        baseline: true,
        load: () =>
          grpc(helloGrpc.match[1]!, helloGrpc.server.pid, 'hello', [{ message: { name: 'bench' } }]),
      },
      {
        name: 'grpc poll, no update',
        transport: 'grpc',
        baseline: false,
        expectUpdates: 0,
        load: () =>
          grpc(meshpressGrpc.grpcAddress, meshpressGrpc.pid, 'meshpress', asGrpc(grpcBodies.noUpdate)),
      },
      {
        name: 'grpc poll, half updated',
        transport: 'grpc',
        baseline: false,
        expectUpdates: 0.5,
        load: () =>
          grpc(meshpressGrpc.grpcAddress, meshpressGrpc.pid, 'meshpress', asGrpc(grpcBodies.halfUpdate)),
      },
      {
        name: 'rest poll, no update, on the process serving the gRPC scenarios (diagnostic)',
        transport: 'rest',
        baseline: false,
        diagnostic: true,
        expectUpdates: 0,
        load: () => rest(meshpressGrpc.httpUrl, meshpressGrpc.pid, asRest(grpcBodies.noUpdate)),
      },
    ];

    ctx.log(
      `REST: ${POLL_LOAD.http.connections} connections, pipelining ${POLL_LOAD.http.pipelining}; ` +
        `gRPC: ${POLL_LOAD.grpc.channels} channels, ${POLL_LOAD.grpc.concurrency} calls in flight; ` +
        `${shape.rounds} round(s) of ${shape.durationMs / 1000} s per scenario`,
    );
    const scenarios: Scenario[] = specs.map((spec) => ({ spec, rounds: [] }));
    for (let round = 1; round <= shape.rounds; round++) {
      for (const scenario of scenarios) {
        const r = toRound(await scenario.spec.load(), scenario.spec.expectUpdates);
        scenario.rounds.push(r);
        ctx.log(
          `  round ${round} ${scenario.spec.name}: ${int(r.requestsPerSecond)} req/s, p50 ${ms(r.latencyMs.p50)}, ` +
            `p99 ${ms(r.latencyMs.p99)}, server CPU ${pct(r.serverCpu)}, load CPU ${pct(r.loadCpu)}` +
            (r.problems.length ? `  PROBLEM: ${r.problems.join('; ')}` : ''),
        );
      }
    }

    const baselineOf = (s: Scenario) =>
      scenarios.find((b) => b.spec.baseline && b.spec.transport === s.spec.transport)!;
    const ratio = (s: Scenario) =>
      median(s).requestsPerSecond / Math.max(1, median(baselineOf(s)).requestsPerSecond);
    const cpuRatio = (s: Scenario) => perServerCpuSecond(s) / Math.max(1, perServerCpuSecond(baselineOf(s)));
    const problemsOf = (s: Scenario) => [...new Set(s.rounds.flatMap((r) => r.problems))];

    ctx.log(
      `\n${table(
        [
          'scenario (median round)',
          'req/s',
          'p50',
          'p99',
          'ratio',
          'req/server-CPU-s',
          'cpu ratio',
          'updates',
          'server CPU',
          'load CPU',
        ],
        scenarios.map((s) => {
          const m = median(s);
          return [
            s.spec.name,
            int(m.requestsPerSecond),
            ms(m.latencyMs.p50),
            ms(m.latencyMs.p99),
            fixed(ratio(s)),
            int(perServerCpuSecond(s)),
            fixed(cpuRatio(s)),
            pct(m.updateShare),
            pct(m.serverCpu),
            pct(m.loadCpu),
          ];
        }),
      )}`,
    );

    const rows: SummaryRow[] = scenarios
      .filter((s) => !s.spec.baseline)
      .map((s) => {
        const m = median(s);
        const problems = problemsOf(s);
        const diagnostic = s.spec.diagnostic === true;
        return {
          label: `${s.spec.name} (${TOPICS_PER_POLL} topics) vs ${s.spec.transport} hello-world`,
          goal: diagnostic ? '' : `≥ ${GOAL_RATIO} of hello-world`,
          measured:
            `${fixed(ratio(s))} (${int(m.requestsPerSecond)} vs ${int(median(baselineOf(s)).requestsPerSecond)} req/s; ` +
            `p50 ${ms(m.latencyMs.p50)}, p99 ${ms(m.latencyMs.p99)}; per server CPU-second ${fixed(cpuRatio(s))} of hello-world)` +
            (problems.length ? `; ${problems.join('; ')}` : ''),
          verdict: diagnostic ? 'info' : ratio(s) >= GOAL_RATIO && problems.length === 0 ? 'pass' : 'fail',
        };
      });
    return {
      rows,
      details: {
        load: { ...POLL_LOAD, ...shape, identities: restBodies.identities, topics: restBodies.topics },
        scenarios: scenarios.map((s) => ({
          name: s.spec.name,
          transport: s.spec.transport,
          baseline: s.spec.baseline,
          ratioToHelloWorld: Math.round(ratio(s) * 1000) / 1000,
          requestsPerServerCpuSecond: Math.round(perServerCpuSecond(s)),
          cpuRatioToHelloWorld: Math.round(cpuRatio(s) * 1000) / 1000,
          median: { ...median(s), raw: undefined },
          problems: problemsOf(s),
          rounds: s.rounds.map((r) => r.raw),
        })),
      },
      notes: [
        'Server and load generator are separate processes on the same 2 cores: "server CPU" near 100% means the server was the bottleneck; "load CPU" near 100% means the load generator was.',
        '"per server CPU-second" divides requests by the CPU time the server process used: what one request costs the server, which stays comparable when other work shares the machine.',
        'REST baseline: Fastify hello-world GET route with Fastify defaults (no logger); meshpress runs with its production logger at level warn and its Prometheus metrics.',
        "Diagnostic: the same POST bodies to a Fastify route that parses them and answers 204 (no logger): the gap from hello-world is the cost of a JSON POST, the gap from the poll is meshpress's own work (resolution, consumer status, limiter, request logging, metrics).",
        "REST and gRPC polls go to two meshpress processes, as the two hello-worlds are two processes. The last diagnostic sends REST polls to the process that served the gRPC scenarios: in one process, Node's stream code shared by HTTP/1 sockets and HTTP/2 streams turns polymorphic after gRPC load, and REST polls there cost more.",
      ],
    };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

export const pollThroughput: Benchmark = {
  name: 'poll-throughput',
  title: 'Poll throughput, REST and gRPC, against hello-world',
  goal: `≥ ${GOAL_RATIO} of hello-world requests/s`,
  run,
};
