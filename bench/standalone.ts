import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { REPO_ROOT, runToExit } from './harness/processes.js';
import type { Benchmark, BenchResult } from './harness/types.js';

/** A line a standalone benchmark script prints to hand its rows to the harness. */
export const RESULT_PREFIX = 'BENCH_RESULT ';

const standaloneResultSchema = z.object({
  rows: z.array(
    z.object({
      label: z.string(),
      goal: z.string(),
      measured: z.string(),
      verdict: z.enum(['pass', 'fail', 'info', 'not-run']),
    }),
  ),
  details: z.record(z.string(), z.unknown()).default({}),
});

/**
 * A benchmark that is a script of its own (owned by the work it measures), run as its own process:
 * `node --conditions=meshpress-source --import tsx <script>`, with BENCH_QUICK=1 under --quick. If it
 * prints a line `BENCH_RESULT {"rows":[...],"details":{...}}`, those rows go into the summary;
 * otherwise the summary records that it ran. The script may write bench/results/<name>.json itself, so
 * the harness keeps its own record as <name>.harness.json.
 */
export function standaloneBenchmark(options: {
  name: string;
  script: string;
  title: string;
  goal: string;
  timeoutMs: number;
}): Benchmark {
  return {
    name: options.name,
    recordName: `${options.name}.harness`,
    title: options.title,
    goal: options.goal,
    async run(ctx): Promise<BenchResult> {
      if (!existsSync(join(REPO_ROOT, options.script)))
        return {
          rows: [
            {
              label: options.title,
              goal: '',
              measured: `${options.script} not present yet`,
              verdict: 'not-run',
            },
          ],
          details: {},
        };
      const { code, output, timedOut } = await runToExit({
        script: options.script,
        env: ctx.quick ? { BENCH_QUICK: '1' } : {},
        timeoutMs: options.timeoutMs,
        // Its machine-readable line goes into the record, not on screen.
        log: (line) => {
          if (!line.includes(RESULT_PREFIX)) ctx.log(line);
        },
      });
      if (timedOut || code !== 0)
        throw new Error(
          `${options.script} ${timedOut ? `timed out after ${options.timeoutMs} ms` : `exited with ${code}`}`,
        );
      const line = output
        .split('\n')
        .reverse()
        .find((l) => l.startsWith(RESULT_PREFIX));
      if (line) return standaloneResultSchema.parse(JSON.parse(line.slice(RESULT_PREFIX.length)));
      return {
        rows: [
          {
            label: options.title,
            goal: '',
            measured: 'ran (exit 0); figures in its own output',
            verdict: 'info',
          },
        ],
        details: { outputTail: output.slice(-4000) },
      };
    },
  };
}

/** Mesh snapshots (issue 4): route decisions per second, compile and swap cost. */
export const routeDecisions = standaloneBenchmark({
  name: 'route-decisions',
  script: 'bench/route-decisions.ts',
  title: 'Route decisions on a 1,000-route snapshot, compile and swap',
  goal: '> 1M route decisions/s on one core',
  timeoutMs: 5 * 60_000,
});

/** Reference sidecar (issue 4): latency it adds over calling the upstream directly. */
export const sidecarLatency = standaloneBenchmark({
  name: 'sidecar-latency',
  script: 'bench/sidecar-latency.ts',
  title: 'Latency the reference sidecar adds',
  goal: 'p99 added < 1 ms at moderate load',
  timeoutMs: 5 * 60_000,
});
