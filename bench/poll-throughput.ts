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

/** Load shape, identical for the baseline and for meshpress. */
export const POLL_LOAD = {
  http: { connections: 64, pipelining: 1 },
  grpc: { channels: 4, concurrency: 64 },
  warmupMs: 2_000,
  durationMs: 10_000,
  maxRequests: 5_000_000,
  apps: 20,
  identities: 2_000,
} as const;

const GOAL_RATIO = 0.7;

type Scenario = {
  readonly name: string;
  readonly transport: 'rest' | 'grpc';
  readonly result: HttpLoadResult | GrpcLoadResult;
  /** Share of answers that carried an update. */
  readonly updateShare: number;
  readonly problems: string[];
};

async function run(ctx: BenchContext): Promise<BenchResult> {
  const window = ctx.quick
    ? { warmupMs: 500, durationMs: 2_000 }
    : { warmupMs: POLL_LOAD.warmupMs, durationMs: POLL_LOAD.durationMs };
  const servers: ServerProcess[] = [];
  try {
    const meshpress = await startMeshpress();
    servers.push(meshpress);
    const helloHttp = await startProcess({
      name: 'hello-http',
      script: 'bench/servers/hello-http.ts',
      ready: /listening (\S+)/,
    });
    servers.push(helloHttp.server);
    const helloGrpc = await startProcess({
      name: 'hello-grpc',
      script: 'bench/servers/hello-grpc.ts',
      ready: /listening (\S+)/,
    });
    servers.push(helloGrpc.server);

    ctx.log(
      `seeding ${POLL_LOAD.apps * TOPICS_PER_POLL} topics (${POLL_LOAD.apps} apps × ${TOPICS_PER_POLL})…`,
    );
    const fixture = await seedPollTopics(meshpress.httpUrl, POLL_LOAD.apps);
    const who = identities(fixture, ctx.quick ? 200 : POLL_LOAD.identities);
    const bodyFor = await latestPollBodies(meshpress.httpUrl, fixture, who);
    const noUpdate = who.map((id) => bodyFor(id));
    const halfUpdate = who.map((id, i) => bodyFor(id, { stale: i % 2 === 0 }));

    const common = { ...window, maxRequests: POLL_LOAD.maxRequests };
    const rest = (origin: string, serverPid: number, requests: Parameters<typeof httpLoad>[0]['requests']) =>
      httpLoad({ origin, requests, serverPid, ...POLL_LOAD.http, ...common });
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
    const grpcRun = (
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
        countNonEmpty: service === 'meshpress' ? 'updates' : undefined,
        ...POLL_LOAD.grpc,
        ...common,
      });

    const scenarios: Scenario[] = [];
    const record = (
      name: string,
      transport: 'rest' | 'grpc',
      result: HttpLoadResult | GrpcLoadResult,
      expectUpdates?: number,
    ) => {
      const problems: string[] = [];
      let updateShare = 0;
      if ('statuses' in result) {
        const ok = (result.statuses['200'] ?? 0) + (result.statuses['204'] ?? 0);
        updateShare = (result.statuses['200'] ?? 0) / Math.max(1, result.requests);
        if (ok !== result.requests) problems.push(`unexpected statuses ${JSON.stringify(result.statuses)}`);
      } else updateShare = result.nonEmpty / Math.max(1, result.requests);
      if (result.errors > 0) problems.push(`${result.errors} errors, e.g. ${result.errorSamples[0]}`);
      if (expectUpdates !== undefined && Math.abs(updateShare - expectUpdates) > 0.05)
        problems.push(
          `expected ${pct(expectUpdates)} of answers to carry an update, got ${pct(updateShare)}`,
        );
      scenarios.push({ name, transport, result, updateShare, problems });
      ctx.log(
        `  ${name}: ${int(result.requestsPerSecond)} req/s, p50 ${ms(result.latencyMs.p50)}, p99 ${ms(result.latencyMs.p99)}` +
          `, server CPU ${pct(result.serverCpu ?? 0)}, load CPU ${pct(result.loadCpu)}${problems.length ? `  PROBLEM: ${problems.join('; ')}` : ''}`,
      );
    };

    ctx.log(
      `REST: ${POLL_LOAD.http.connections} connections, pipelining ${POLL_LOAD.http.pipelining}, ${window.durationMs / 1000} s each`,
    );
    record(
      'rest hello-world',
      'rest',
      await rest(helloHttp.match[1]!, helloHttp.server.pid, [{ method: 'GET', path: '/' }]),
    );
    record('rest poll, no update', 'rest', await rest(meshpress.httpUrl, meshpress.pid, asRest(noUpdate)), 0);
    record(
      'rest poll, half updated',
      'rest',
      await rest(meshpress.httpUrl, meshpress.pid, asRest(halfUpdate)),
      0.5,
    );

    ctx.log(
      `gRPC: ${POLL_LOAD.grpc.channels} channels, ${POLL_LOAD.grpc.concurrency} calls in flight, ${window.durationMs / 1000} s each`,
    );
    record(
      'grpc hello-world',
      'grpc',
      await grpcRun(helloGrpc.match[1]!, helloGrpc.server.pid, 'hello', [{ message: { name: 'bench' } }]),
    );
    record(
      'grpc poll, no update',
      'grpc',
      await grpcRun(meshpress.grpcAddress, meshpress.pid, 'meshpress', asGrpc(noUpdate)),
      0,
    );
    record(
      'grpc poll, half updated',
      'grpc',
      await grpcRun(meshpress.grpcAddress, meshpress.pid, 'meshpress', asGrpc(halfUpdate)),
      0.5,
    );

    ctx.log(
      `\n${table(
        ['scenario', 'req/s', 'p50', 'p99', 'ratio', 'updates', 'server CPU', 'load CPU'],
        scenarios.map((s) => [
          s.name,
          int(s.result.requestsPerSecond),
          ms(s.result.latencyMs.p50),
          ms(s.result.latencyMs.p99),
          s.name.includes('hello') ? '1.00' : fixed(ratio(s, scenarios)),
          pct(s.updateShare),
          pct(s.result.serverCpu ?? 0),
          pct(s.result.loadCpu),
        ]),
      )}`,
    );

    const rows: SummaryRow[] = scenarios
      .filter((s) => !s.name.includes('hello'))
      .map((s) => {
        const r = ratio(s, scenarios);
        const base = baseline(s, scenarios);
        return {
          label: `${s.name} (${TOPICS_PER_POLL} topics) vs ${s.transport} hello-world`,
          goal: `≥ ${GOAL_RATIO} of hello-world`,
          measured:
            `${fixed(r)} (${int(s.result.requestsPerSecond)} vs ${int(base.result.requestsPerSecond)} req/s; ` +
            `p50 ${ms(s.result.latencyMs.p50)}, p99 ${ms(s.result.latencyMs.p99)})` +
            (s.problems.length ? `; ${s.problems.join('; ')}` : ''),
          verdict: r >= GOAL_RATIO && s.problems.length === 0 ? 'pass' : 'fail',
        };
      });
    return {
      rows,
      details: {
        load: { ...POLL_LOAD, ...window, identities: who.length },
        scenarios: scenarios.map((s) => ({
          name: s.name,
          transport: s.transport,
          ratioToHelloWorld: s.name.includes('hello') ? 1 : Math.round(ratio(s, scenarios) * 1000) / 1000,
          updateShare: Math.round(s.updateShare * 1000) / 1000,
          problems: s.problems,
          ...s.result,
        })),
      },
      notes: [
        'Server and load generator are separate processes on the same 2 cores: "server CPU" near 100% means the server was the bottleneck; "load CPU" near 100% means the load generator was.',
        'REST baseline: Fastify hello-world GET route with Fastify defaults (no logger); meshpress runs with its production logger at level warn.',
      ],
    };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

function baseline(s: Scenario, all: readonly Scenario[]): Scenario {
  return all.find((b) => b.transport === s.transport && b.name.includes('hello'))!;
}

function ratio(s: Scenario, all: readonly Scenario[]): number {
  return s.result.requestsPerSecond / Math.max(1, baseline(s, all).result.requestsPerSecond);
}

export const pollThroughput: Benchmark = {
  name: 'poll-throughput',
  title: 'Poll throughput, REST and gRPC, against hello-world',
  goal: `≥ ${GOAL_RATIO} of hello-world requests/s`,
  run,
};
