import { connect, type Socket } from 'node:net';
import { z } from 'zod';
import { LatencyRecorder } from '../harness/latency.js';
import { serveWorker, type WorkerIo } from './runtime.js';

/**
 * Holds many REST long-polls open against one server, then, when told, publishes once and times how
 * long until every poll has been answered. Raw sockets and a minimal HTTP/1.1 response parser keep this
 * side cheap: one socket costs the load process a few KiB, so 20,000 fit next to the server on one
 * machine. When the open-file limit allows fewer sockets than polls, the remaining polls are pipelined
 * as a second request on some sockets (Node's HTTP server dispatches pipelined requests concurrently and
 * answers them in order).
 */
export const heldPollsConfigSchema = z.object({
  host: z.string(),
  port: z.number().int().min(1).max(65_535),
  /** Local addresses to connect from (127.0.0.x), round-robin, so ephemeral ports never run short. */
  sourceAddresses: z.array(z.string()).min(1),
  connections: z.number().int().min(1).max(100_000),
  /** One JSON poll body per held poll. */
  bodies: z.array(z.string()).min(1).max(200_000),
  /** Sent as x-meshpress-app with the poll at the same index. */
  apps: z.array(z.string()).min(1),
  connectConcurrency: z.number().int().min(1).max(4096),
  publish: z.object({ path: z.string(), body: z.string() }),
  setupTimeoutMs: z.number().int().min(1000).max(600_000),
  answerTimeoutMs: z.number().int().min(1000).max(600_000),
});
export type HeldPollsConfig = z.infer<typeof heldPollsConfigSchema>;

export interface HeldPollsResult {
  readonly polls: number;
  readonly connections: number;
  readonly pipelinedPolls: number;
  readonly setupMs: number;
  /** Polls answered before the publish (timeouts, shedding): each one is a problem. */
  readonly answeredEarly: number;
  readonly earlyStatuses: Record<string, number>;
  readonly publishStatus: number;
  readonly publishMs: number;
  readonly answered: number;
  readonly statuses: Record<string, number>;
  /** From sending the publish to each poll's complete answer. */
  readonly answerMs: ReturnType<LatencyRecorder['summary']>;
  readonly allAnsweredMs: number | null;
  readonly socketErrors: number;
  readonly errorSamples: string[];
}

/** Parses consecutive HTTP/1.1 responses off one socket (Content-Length bodies or none). */
class ResponseReader {
  #buffer: Buffer = Buffer.alloc(0);
  constructor(private readonly onResponse: (status: number) => void) {}

  push(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const end = this.#buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.#buffer.subarray(0, end).toString('latin1');
      const status = Number(head.slice(9, 12));
      if (/\r\ntransfer-encoding:\s*chunked/i.test(head))
        throw new Error('chunked responses are not expected');
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      if (this.#buffer.length < end + 4 + length) return;
      this.#buffer = this.#buffer.subarray(end + 4 + length);
      this.onResponse(status);
    }
  }
}

async function run(config: HeldPollsConfig, io: WorkerIo): Promise<HeldPollsResult> {
  const polls = config.bodies.length;
  const connections = Math.min(config.connections, polls);
  const sockets: Socket[] = [];
  const latency = new LatencyRecorder();
  const statuses: Record<string, number> = {};
  const earlyStatuses: Record<string, number> = {};
  const errorSamples: string[] = [];
  let socketErrors = 0;
  let published: number | undefined;
  let answered = 0;
  let answeredEarly = 0;
  let lastAnswerAt = 0;
  let allAnswered: (() => void) | undefined;

  const onAnswer = (status: number) => {
    if (published === undefined) {
      answeredEarly++;
      earlyStatuses[status] = (earlyStatuses[status] ?? 0) + 1;
      return;
    }
    const now = performance.now();
    latency.recordMs(now - published);
    statuses[status] = (statuses[status] ?? 0) + 1;
    lastAnswerAt = now;
    if (++answered + answeredEarly >= polls) allAnswered?.();
  };

  const request = (index: number) => {
    const body = config.bodies[index]!;
    return (
      `POST /v1/poll HTTP/1.1\r\nhost: ${config.host}:${config.port}\r\ncontent-type: application/json\r\n` +
      `x-meshpress-app: ${config.apps[index % config.apps.length]}\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
    );
  };

  const open = (c: number) =>
    new Promise<void>((resolve) => {
      const socket = connect({
        host: config.host,
        port: config.port,
        localAddress: config.sourceAddresses[c % config.sourceAddresses.length],
      });
      const reader = new ResponseReader(onAnswer);
      socket.setNoDelay(true);
      socket.on('data', (chunk) => reader.push(chunk));
      socket.on('error', (err) => {
        socketErrors++;
        if (errorSamples.length < 5) errorSamples.push(String(err));
        resolve();
      });
      socket.once('connect', () => {
        // Socket c carries polls c, c + connections, ...: a second one only when sockets are short.
        let payload = '';
        for (let i = c; i < polls; i += connections) payload += request(i);
        socket.write(payload);
        resolve();
      });
      sockets.push(socket);
    });

  const setupStarted = performance.now();
  const progress = setInterval(() => io.report({ type: 'progress', connected: sockets.length }), 2_000);
  let next = 0;
  const lane = async () => {
    while (next < connections) {
      if (performance.now() - setupStarted > config.setupTimeoutMs)
        throw new Error(`opening ${connections} connections took over ${config.setupTimeoutMs} ms`);
      await open(next++);
    }
  };
  try {
    await Promise.all(Array.from({ length: config.connectConcurrency }, lane));
  } finally {
    clearInterval(progress);
  }
  const setupMs = performance.now() - setupStarted;
  io.report({ type: 'written', connections, setupMs });

  await io.next('publish');
  const done = new Promise<void>((resolve) => {
    allAnswered = resolve;
    if (answeredEarly >= polls) resolve();
  });
  published = performance.now();
  const response = await fetch(`http://${config.host}:${config.port}${config.publish.path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: config.publish.body,
  });
  await response.arrayBuffer();
  const publishMs = performance.now() - published;
  const timedOut = await Promise.race([
    done.then(() => false),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(true), config.answerTimeoutMs)),
  ]);
  for (const socket of sockets) socket.destroy();
  return {
    polls,
    connections,
    pipelinedPolls: polls - connections,
    setupMs: Math.round(setupMs),
    answeredEarly,
    earlyStatuses,
    publishStatus: response.status,
    publishMs: Math.round(publishMs * 100) / 100,
    answered,
    statuses,
    answerMs: latency.summary(),
    allAnsweredMs: timedOut || answered === 0 ? null : Math.round((lastAnswerAt - published) * 100) / 100,
    socketErrors,
    errorSamples,
  };
}

serveWorker(heldPollsConfigSchema, run);
