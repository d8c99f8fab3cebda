import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { REPO_ROOT, runToExit } from './harness/processes.js';
import type { Benchmark, BenchResult } from './harness/types.js';

const SCRIPT = 'bench/route-decisions.ts';
/** A line a standalone benchmark may print to hand its rows to the harness. */
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
 * Runs bench/route-decisions.ts (the mesh snapshot benchmarks, owned by the mesh-documents work) as its
 * own process, when it exists. If it prints a line `BENCH_RESULT {"rows":[...],"details":{...}}`, those
 * rows go into the summary; otherwise its exit status does. BENCH_QUICK=1 is set under --quick.
 */
export const routeDecisions: Benchmark = {
  name: 'route-decisions',
  // The script may write bench/results/route-decisions.json itself: keep the harness's record apart.
  recordName: 'route-decisions.harness',
  title: 'Route decisions, sidecar latency, snapshot compile/swap',
  goal: 'see bench/route-decisions.ts',
  async run(ctx): Promise<BenchResult> {
    if (!existsSync(join(REPO_ROOT, SCRIPT)))
      return {
        rows: [
          {
            label: 'route decisions (bench/route-decisions.ts)',
            goal: '',
            measured: `${SCRIPT} not present yet`,
            verdict: 'not-run',
          },
        ],
        details: {},
      };
    const { code, output, timedOut } = await runToExit({
      script: SCRIPT,
      env: ctx.quick ? { BENCH_QUICK: '1' } : {},
      timeoutMs: 5 * 60_000,
      // Its machine-readable line goes into the record, not on screen.
      log: (line) => {
        if (!line.includes(RESULT_PREFIX)) ctx.log(line);
      },
    });
    if (timedOut || code !== 0)
      throw new Error(`${SCRIPT} ${timedOut ? 'timed out' : `exited with ${code}`}`);
    const line = output
      .split('\n')
      .reverse()
      .find((l) => l.startsWith(RESULT_PREFIX));
    if (line) return standaloneResultSchema.parse(JSON.parse(line.slice(RESULT_PREFIX.length)));
    return {
      rows: [
        {
          label: 'route decisions (bench/route-decisions.ts)',
          goal: '',
          measured: 'ran (exit 0); figures in its own output and results file',
          verdict: 'info',
        },
      ],
      details: { outputTail: output.slice(-4000) },
    };
  },
};
