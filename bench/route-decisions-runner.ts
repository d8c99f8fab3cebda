import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, runToExit } from './harness/processes.js';
import type { Benchmark, BenchResult, SummaryRow } from './harness/types.js';

const SCRIPT = 'bench/route-decisions.ts';
/** A line a standalone benchmark may print to hand its rows to the harness. */
export const RESULT_PREFIX = 'BENCH_RESULT ';

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
      log: ctx.log,
    });
    if (timedOut || code !== 0)
      throw new Error(`${SCRIPT} ${timedOut ? 'timed out' : `exited with ${code}`}`);
    const line = output
      .split('\n')
      .reverse()
      .find((l) => l.startsWith(RESULT_PREFIX));
    if (line) {
      const parsed = JSON.parse(line.slice(RESULT_PREFIX.length)) as {
        rows?: SummaryRow[];
        details?: Record<string, unknown>;
      };
      return { rows: parsed.rows ?? [], details: parsed.details ?? {} };
    }
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
