import { Pool } from 'undici';
import { z } from 'zod';
import { LatencyRecorder } from '../harness/latency.js';
import { cpuMeter } from '../harness/proc-stats.js';
import { serveWorker } from './runtime.js';

/**
 * HTTP/1.1 load generator on undici's Pool: `connections` keep-alive sockets, each with up to
 * `pipelining` requests in flight, requests taken round-robin from `requests`. The same tool measures
 * the hello-world baseline and meshpress, so both see the same client costs.
 */
export const httpLoadConfigSchema = z.object({
  origin: z.url(),
  requests: z
    .array(
      z.object({
        method: z.enum(['GET', 'POST', 'PUT']),
        path: z.string().startsWith('/'),
        body: z.string().optional(),
        headers: z.record(z.string(), z.string()).optional(),
      }),
    )
    .min(1),
  connections: z.number().int().min(1).max(1024),
  pipelining: z.number().int().min(1).max(64),
  warmupMs: z.number().int().min(0).max(60_000),
  durationMs: z.number().int().min(100).max(120_000),
  /** Stops the window early once this many requests completed in it. */
  maxRequests: z.number().int().min(1).max(100_000_000),
  /** The server's pid, to report its CPU share over the same window. */
  serverPid: z.number().int().optional(),
});
export type HttpLoadConfig = z.infer<typeof httpLoadConfigSchema>;

export interface HttpLoadResult {
  readonly requests: number;
  readonly windowMs: number;
  readonly requestsPerSecond: number;
  readonly latencyMs: ReturnType<LatencyRecorder['summary']>;
  readonly statuses: Record<string, number>;
  readonly errors: number;
  readonly errorSamples: string[];
  /** Share of one core used over the window (1.0 = one core busy). */
  readonly loadCpu: number;
  readonly serverCpu?: number;
}

async function run(config: HttpLoadConfig): Promise<HttpLoadResult> {
  const pool = new Pool(config.origin, {
    connections: config.connections,
    pipelining: config.pipelining,
    keepAliveTimeout: 120_000,
  });
  const latency = new LatencyRecorder();
  const statuses: Record<string, number> = {};
  const errorSamples: string[] = [];
  let errors = 0;
  let completed = 0;
  let measuring = false;
  let stopped = false;
  let next = 0;
  let windowEnd: (() => void) | undefined;

  const lane = async () => {
    while (!stopped) {
      const spec = config.requests[next++ % config.requests.length]!;
      const started = process.hrtime.bigint();
      try {
        const res = await pool.request({
          path: spec.path,
          method: spec.method,
          headers:
            spec.body === undefined ? spec.headers : { 'content-type': 'application/json', ...spec.headers },
          body: spec.body,
        });
        await res.body.dump();
        if (!measuring) continue;
        latency.recordNs(process.hrtime.bigint() - started);
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
      } catch (err) {
        if (!measuring) continue;
        errors++;
        if (errorSamples.length < 5) errorSamples.push(String(err));
      }
      if (++completed >= config.maxRequests) windowEnd?.();
    }
  };

  const lanes = Array.from({ length: config.connections * config.pipelining }, lane);
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
  await pool.destroy();
  return {
    requests,
    windowMs: Math.round(windowMs),
    requestsPerSecond: Math.round((requests / windowMs) * 1000),
    latencyMs: latency.summary(),
    statuses,
    errors,
    errorSamples,
    loadCpu: round2(loadCpu),
    ...(serverCpu === undefined ? {} : { serverCpu: round2(serverCpu) }),
  };
}

const round2 = (n: number) => Math.round(n * 100) / 100;

serveWorker(httpLoadConfigSchema, run);
