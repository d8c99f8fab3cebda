import * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import { serviceClient } from '../harness/grpc-protos.js';
import { LatencyRecorder } from '../harness/latency.js';
import { cpuMeter } from '../harness/proc-stats.js';
import { serveWorker } from './runtime.js';

/**
 * gRPC load generator on @grpc/grpc-js: `channels` separate HTTP/2 connections, `concurrency` unary
 * calls kept in flight across them, messages taken round-robin. The same tool measures the trivial
 * Greeter/SayHello baseline and meshpress Poll. Messages are serialized once up front and responses are
 * not decoded, so the tool spends its CPU on calls, not on protobuf: on two shared cores, a heavier
 * tool would cap both scenarios at its own speed.
 */
export const grpcLoadConfigSchema = z.object({
  target: z.string().min(1),
  service: z.enum(['hello', 'meshpress']),
  method: z.string().min(1),
  /** Requests, taken round-robin, each with the metadata to send (e.g. x-meshpress-app). */
  calls: z
    .array(
      z.object({
        message: z.record(z.string(), z.unknown()),
        metadata: z.record(z.string(), z.string()).optional(),
      }),
    )
    .min(1),
  channels: z.number().int().min(1).max(64),
  concurrency: z.number().int().min(1).max(4096),
  warmupMs: z.number().int().min(0).max(60_000),
  durationMs: z.number().int().min(100).max(120_000),
  maxRequests: z.number().int().min(1).max(100_000_000),
  serverPid: z.number().int().optional(),
  /**
   * Counts responses with a non-empty body. For Poll these are the answers carrying an update: its
   * response's only field is `updates`, and protobuf encodes an empty list as no bytes at all.
   */
  countNonEmpty: z.boolean().default(false),
});
export type GrpcLoadConfig = z.infer<typeof grpcLoadConfigSchema>;

export interface GrpcLoadResult {
  readonly requests: number;
  readonly windowMs: number;
  readonly requestsPerSecond: number;
  readonly latencyMs: ReturnType<LatencyRecorder['summary']>;
  readonly nonEmpty: number;
  readonly errors: number;
  readonly errorSamples: string[];
  readonly loadCpu: number;
  readonly serverCpu?: number;
}

async function run(config: GrpcLoadConfig): Promise<GrpcLoadResult> {
  const Client = serviceClient(config.service);
  // A local subchannel pool per client: otherwise grpc-js would share one connection among them all.
  const clients = Array.from(
    { length: config.channels },
    () =>
      new Client(config.target, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }),
  );
  await Promise.all(
    clients.map(
      (client) =>
        new Promise<void>((resolve, reject) =>
          client.waitForReady(Date.now() + 10_000, (err) => (err ? reject(err) : resolve())),
        ),
    ),
  );
  const definition = Client.service[config.method];
  if (!definition) throw new Error(`${config.service} has no method ${config.method}`);
  const calls = config.calls.map(({ message, metadata }) => {
    const m = new grpc.Metadata();
    for (const [key, value] of Object.entries(metadata ?? {})) m.set(key, value);
    return { bytes: definition.requestSerialize(message), metadata: m };
  });
  const passThrough = (bytes: Buffer) => bytes;
  const call = (client: grpc.Client, spec: (typeof calls)[number]) =>
    new Promise<Buffer>((resolve, reject) => {
      client.makeUnaryRequest(
        definition.path,
        passThrough,
        passThrough,
        spec.bytes,
        spec.metadata,
        (err: grpc.ServiceError | null, response?: Buffer) => (err ? reject(err) : resolve(response!)),
      );
    });

  const latency = new LatencyRecorder();
  const errorSamples: string[] = [];
  let errors = 0;
  let nonEmpty = 0;
  let completed = 0;
  let measuring = false;
  let stopped = false;
  let next = 0;
  let windowEnd: (() => void) | undefined;

  const lane = async (index: number) => {
    const client = clients[index % clients.length]!;
    while (!stopped) {
      const spec = calls[next++ % calls.length]!;
      const started = process.hrtime.bigint();
      try {
        const response = await call(client, spec);
        if (!measuring) continue;
        latency.recordNs(process.hrtime.bigint() - started);
        if (config.countNonEmpty && response.length > 0) nonEmpty++;
      } catch (err) {
        if (!measuring) continue;
        errors++;
        if (errorSamples.length < 5) errorSamples.push(String(err));
      }
      if (++completed >= config.maxRequests) windowEnd?.();
    }
  };

  const lanes = Array.from({ length: config.concurrency }, (_, i) => lane(i));
  await new Promise((resolve) => setTimeout(resolve, config.warmupMs));
  completed = 0;
  measuring = true;
  const load = cpuMeter(process.pid);
  const server = config.serverPid === undefined ? undefined : cpuMeter(config.serverPid);
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, config.durationMs);
    windowEnd = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  const windowMs = performance.now() - started;
  const loadCpu = load.stop().coreShare;
  const serverCpu = server?.stop().coreShare;
  measuring = false;
  stopped = true;
  const requests = completed;
  await Promise.race([Promise.all(lanes), new Promise((resolve) => setTimeout(resolve, 10_000))]);
  for (const client of clients) client.close();
  return {
    requests,
    windowMs: Math.round(windowMs),
    requestsPerSecond: Math.round((requests / windowMs) * 1000),
    latencyMs: latency.summary(),
    nonEmpty,
    errors,
    errorSamples,
    loadCpu: Math.round(loadCpu * 100) / 100,
    ...(serverCpu === undefined ? {} : { serverCpu: Math.round(serverCpu * 100) / 100 }),
  };
}

serveWorker(grpcLoadConfigSchema, run);
