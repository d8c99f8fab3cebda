import type { MachineLoad } from './machine-load.js';

/** How one summary row compares with its goal. `info` rows carry a figure that has no goal of its own. */
export type Verdict = 'pass' | 'fail' | 'info' | 'not-run';

/** One line of bench/results/summary.md. */
export interface SummaryRow {
  readonly label: string;
  readonly goal: string;
  readonly measured: string;
  readonly verdict: Verdict;
}

export interface BenchResult {
  readonly rows: readonly SummaryRow[];
  /** Every figure behind the rows, written to bench/results/<name>.json as is. */
  readonly details: Record<string, unknown>;
  readonly notes?: readonly string[];
}

export interface BenchContext {
  /** Shorter windows and smaller counts, to check the harness itself; figures are not comparable. */
  readonly quick: boolean;
  readonly log: (line: string) => void;
}

/** One benchmark of `npm run bench`. `name` is the CLI argument and the results file name. */
export interface Benchmark {
  readonly name: string;
  /** Results file name when it must differ from `name` (a script that writes `<name>.json` itself). */
  readonly recordName?: string;
  readonly title: string;
  readonly goal: string;
  run(context: BenchContext): Promise<BenchResult>;
}

/** What a results file holds. */
export interface BenchRecord {
  readonly name: string;
  readonly title: string;
  readonly goal: string;
  readonly status: 'pass' | 'fail' | 'not-run' | 'error';
  readonly quick: boolean;
  readonly startedAt: string;
  readonly elapsedMs: number;
  readonly machine: Record<string, unknown>;
  /** Load of the machine just before and just after the benchmark (other work on the same cores). */
  readonly machineLoad: {
    readonly before: MachineLoad;
    /** Cores' worth of CPU other processes used during the benchmark (null where unknown). */
    readonly othersCores: number | null;
    readonly busy: boolean;
  };
  readonly rows: readonly SummaryRow[];
  readonly details: Record<string, unknown>;
  readonly notes: readonly string[];
  readonly error?: string;
}
