import { setTimeout as sleep } from 'node:timers/promises';
import { int, mib, ms, table } from './harness/format.js';
import { openFileLimit } from './harness/machine.js';
import { REGIONS } from './harness/poll-fixture.js';
import { memoryOf, openFdsOf } from './harness/proc-stats.js';
import { forkWorker, type MeshpressProcess, startMeshpress } from './harness/processes.js';
import { eachLimited, publishDocument, putTopic, restCall } from './harness/rest.js';
import type { BenchContext, Benchmark, BenchResult } from './harness/types.js';
import type { HeldPollsResult } from './workers/held-polls.js';

export const HELD_POLLS = {
  polls: 20_000,
  topicsPerPoll: 7,
  apps: 20,
  /** Longer than setup can take, so no poll times out before the publish. */
  waitMs: 120_000,
  sourceAddresses: ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'],
  connectConcurrency: 200,
  setupTimeoutMs: 90_000,
  answerTimeoutMs: 60_000,
  /** File descriptors kept free in each process beyond its sockets. */
  fdMargin: 100,
} as const;

const GOAL_RSS = 2 ** 30;

type Message =
  | { type: 'progress'; connected: number }
  | { type: 'written'; connections: number; setupMs: number }
  | { type: 'result'; result: HeldPollsResult }
  | { type: 'error'; message: string };

async function heldCount(server: MeshpressProcess): Promise<number> {
  const { json } = await restCall(server.httpUrl, 'GET', '/healthz');
  return (json as { heldPolls?: number }).heldPolls ?? Number.NaN;
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const polls = ctx.quick ? 2_000 : HELD_POLLS.polls;
  const server = await startMeshpress();
  const worker = forkWorker<Message>('bench/workers/held-polls.ts');
  try {
    // Every poll asks for the same 7 mesh-wide topics (identities differ), so one publish wakes all.
    const topics = Array.from({ length: HELD_POLLS.topicsPerPoll }, (_, i) => `mesh.bench.shared.t${i}`);
    await eachLimited(topics, 4, async (topic) => {
      await putTopic(server.httpUrl, topic);
      await publishDocument(server.httpUrl, topic, { topic, revision: 1 });
    });
    const apps = Array.from({ length: HELD_POLLS.apps }, (_, i) => `svc-${String(i).padStart(3, '0')}`);
    const bodies = Array.from({ length: polls }, (_, i) =>
      JSON.stringify({
        identity: {
          app: apps[i % apps.length],
          region: REGIONS[i % REGIONS.length],
          cluster: `c${i % 7}`,
          node: `node-${i}`,
        },
        topics: topics.map((topic) => ({ topic, currentVersion: 1 })),
        waitMs: HELD_POLLS.waitMs,
      }),
    );
    // Warm the consumer cache (and the server's JIT) with a few answered polls, then take the baseline.
    for (let i = 0; i < 200; i++)
      await restCall(server.httpUrl, 'POST', '/v1/poll', { ...JSON.parse(bodies[i % polls]!), waitMs: 0 });
    await sleep(1_000);
    const before = memoryOf(server.pid);
    const serverFds = openFdsOf(server.pid);

    // Each process may open at most `limit` files: sockets beyond what fits become pipelined polls.
    const limit = openFileLimit();
    // BENCH_HELD_MAX_CONNECTIONS lowers the socket count, to exercise the pipelined path on purpose.
    const cap = Number(process.env.BENCH_HELD_MAX_CONNECTIONS) || Number.POSITIVE_INFINITY;
    const connections = Math.min(polls, limit - serverFds - HELD_POLLS.fdMargin, cap);
    ctx.log(
      `server RSS before: ${mib(before.rss)}; open-file limit ${int(limit)} per process (server has ${serverFds} open): ` +
        `${int(polls)} polls over ${int(connections)} connections from ${HELD_POLLS.sourceAddresses.length} source addresses`,
    );

    const url = new URL(server.httpUrl);
    worker.send({
      type: 'start',
      config: {
        host: url.hostname,
        port: Number(url.port),
        sourceAddresses: [...HELD_POLLS.sourceAddresses],
        connections,
        bodies,
        apps,
        connectConcurrency: HELD_POLLS.connectConcurrency,
        publish: {
          path: `/v1/topics/${topics[0]}/versions`,
          body: JSON.stringify({ payload: { document: { topic: topics[0], revision: 2 } }, scopes: ['*'] }),
        },
        setupTimeoutMs: HELD_POLLS.setupTimeoutMs,
        answerTimeoutMs: HELD_POLLS.answerTimeoutMs,
      },
    });
    const written = await worker.next(
      (m): m is Extract<Message, { type: 'written' }> => m.type === 'written',
      HELD_POLLS.setupTimeoutMs + 30_000,
    );
    ctx.log(
      `opened ${int(written.connections)} connections in ${(written.setupMs / 1000).toFixed(1)} s; waiting for the server to hold all polls…`,
    );

    // Bounded wait until the server reports every poll held.
    const holdDeadline = performance.now() + 60_000;
    let held = await heldCount(server);
    while (held < polls && performance.now() < holdDeadline) {
      await sleep(500);
      held = await heldCount(server);
    }
    if (held < polls) throw new Error(`the server holds ${held} of ${polls} polls after 60 s`);
    await sleep(1_000);
    let whileHeld = memoryOf(server.pid);
    for (let i = 0; i < 2; i++) {
      await sleep(500);
      const sample = memoryOf(server.pid);
      if (sample.rss > whileHeld.rss) whileHeld = sample;
    }
    const heldFds = openFdsOf(server.pid);
    ctx.log(
      `holding ${int(held)}: server RSS ${mib(whileHeld.rss)} (${openFdsOf(server.pid)} fds); publishing once…`,
    );

    worker.send({ type: 'publish' });
    const { result } = await worker.next(
      (m): m is Extract<Message, { type: 'result' }> => m.type === 'result',
      HELD_POLLS.answerTimeoutMs + 30_000,
    );
    await sleep(500);
    const after = memoryOf(server.pid);
    const heldAfter = await heldCount(server);

    const perPoll = (whileHeld.rss - before.rss) / polls;
    const problems: string[] = [];
    if (result.answeredEarly > 0)
      problems.push(
        `${result.answeredEarly} polls answered before the publish ${JSON.stringify(result.earlyStatuses)}`,
      );
    if (result.answered + result.answeredEarly < polls)
      problems.push(`${polls - result.answered - result.answeredEarly} polls never answered`);
    if ((result.statuses['200'] ?? 0) !== result.answered)
      problems.push(`statuses ${JSON.stringify(result.statuses)}`);
    if (result.socketErrors > 0)
      problems.push(`${result.socketErrors} socket errors, e.g. ${result.errorSamples[0]}`);
    if (result.publishStatus !== 201) problems.push(`publish answered ${result.publishStatus}`);

    ctx.log(
      `\n${table(
        ['figure', 'value'],
        [
          [
            'held polls',
            `${int(polls)} (${int(connections)} connections, ${int(result.pipelinedPolls)} pipelined)`,
          ],
          ['server RSS before', mib(before.rss)],
          ['server RSS while held', `${mib(whileHeld.rss)} (peak ${mib(whileHeld.peakRss)})`],
          ['RSS per held poll', `${(perPoll / 1024).toFixed(1)} KiB`],
          ['server RSS after answers (peak)', `${mib(after.rss)} (${mib(after.peakRss)})`],
          ['publish (201)', ms(result.publishMs)],
          ['publish -> answers p50 / p99', `${ms(result.answerMs.p50)} / ${ms(result.answerMs.p99)}`],
          [
            'publish -> all answered',
            result.allAnsweredMs === null ? 'not all answered' : ms(result.allAnsweredMs),
          ],
          ['answers with an update (200)', int(result.statuses['200'] ?? 0)],
        ],
      )}${problems.length ? `\nPROBLEMS: ${problems.join('; ')}` : ''}`,
    );

    return {
      rows: [
        {
          label: `server RSS while holding ${int(polls)} REST long-polls`,
          goal: '< 1 GiB',
          measured:
            `${mib(whileHeld.rss)} (idle ${mib(before.rss)}; ${(perPoll / 1024).toFixed(1)} KiB per poll; ` +
            `peak ${mib(after.peakRss)} while answering them)${problems.length ? `; ${problems.join('; ')}` : ''}`,
          verdict: whileHeld.rss < GOAL_RSS && problems.length === 0 ? 'pass' : 'fail',
        },
        {
          label: `one publish -> all ${int(polls)} held polls answered`,
          goal: '',
          measured:
            result.allAnsweredMs === null
              ? `not all answered within ${HELD_POLLS.answerTimeoutMs / 1000} s (${int(result.answered)})`
              : `${ms(result.allAnsweredMs)} (p50 ${ms(result.answerMs.p50)}, p99 ${ms(result.answerMs.p99)})`,
          verdict: result.allAnsweredMs === null || problems.length > 0 ? 'fail' : 'info',
        },
      ],
      details: {
        config: { ...HELD_POLLS, polls, connections, openFileLimit: limit },
        memory: { before, whileHeld, after, perPollBytes: Math.round(perPoll) },
        serverFds: { idle: serverFds, whileHeld: heldFds },
        heldReportedByServer: held,
        heldAfterAnswers: heldAfter,
        result,
        problems,
      },
      notes: [
        `The open-file limit is ${limit} per process and cannot be raised here (no CAP_SYS_RESOURCE), so one server process can accept at most about ${int(limit - serverFds)} sockets: the ${int(Math.max(0, polls - connections))} polls beyond that are sent as a second, pipelined request on existing keep-alive connections (the server holds each request independently).`,
        'RSS is read from /proc/<pid>/status (VmRSS, VmHWM) of the server process, which runs from TypeScript sources through tsx (its loader thread is included in the figure).',
      ],
    };
  } finally {
    await worker.stop();
    await server.stop();
  }
}

export const heldPolls: Benchmark = {
  name: 'held-polls',
  title: '20,000 held REST long-polls: server memory and wake-up time',
  goal: 'server RSS < 1 GiB while holding 20,000',
  run,
};
