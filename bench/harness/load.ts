import type { GrpcLoadConfig, GrpcLoadResult } from '../workers/grpc-load.js';
import type { HttpLoadConfig, HttpLoadResult } from '../workers/http-load.js';
import { forkWorker } from './processes.js';

type WorkerMessage = { type: 'result'; result: unknown } | { type: 'error'; message: string };
const isResult = (m: WorkerMessage): m is { type: 'result'; result: unknown } => m.type === 'result';

/** Runs one HTTP load window from a separate process and returns its figures. */
export async function httpLoad(config: HttpLoadConfig): Promise<HttpLoadResult> {
  return runLoadWorker(
    'bench/workers/http-load.ts',
    config,
    config.warmupMs + config.durationMs,
  ) as Promise<HttpLoadResult>;
}

/** Runs one gRPC load window from a separate process and returns its figures. */
export async function grpcLoad(config: GrpcLoadConfig): Promise<GrpcLoadResult> {
  return runLoadWorker(
    'bench/workers/grpc-load.ts',
    config,
    config.warmupMs + config.durationMs,
  ) as Promise<GrpcLoadResult>;
}

async function runLoadWorker(script: string, config: unknown, windowMs: number): Promise<unknown> {
  const worker = forkWorker<WorkerMessage>(script);
  try {
    worker.send({ type: 'start', config });
    // Startup (tsx, proto parsing) plus the window plus draining in-flight requests.
    return (await worker.next(isResult, windowMs + 60_000)).result;
  } finally {
    await worker.stop();
  }
}
