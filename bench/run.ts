import { cachememory } from './cache-memory.js';
import { machineInfo } from './harness/machine.js';
import { BUSY_OTHERS_CORES, isBusy, machineLoad, waitForIdle, watchOthers } from './harness/machine-load.js';
import { buildPackages } from './harness/processes.js';
import { writeRecord, writeSummary } from './harness/results.js';
import type { Benchmark, BenchRecord } from './harness/types.js';
import { heldPolls } from './held-polls.js';
import { pollThroughput } from './poll-throughput.js';
import { propagation } from './propagation.js';
import { publishThroughput } from './publish-throughput.js';
import { routeDecisions, sidecarLatency } from './standalone.js';

/**
 * `npm run bench [-- name...] [--quick]`: runs the named benchmarks (all by default) one after another,
 * prints their figures, writes bench/results/<name>.json and rebuilds bench/results/summary.md.
 * Exits 1 when a benchmark could not run (an error), not when one misses its goal: that is a finding,
 * recorded as FAIL in the summary.
 */
const BENCHMARKS: readonly Benchmark[] = [
  pollThroughput,
  propagation,
  heldPolls,
  publishThroughput,
  cachememory,
  routeDecisions,
  sidecarLatency,
];

const args = process.argv.slice(2);
const quick = args.includes('--quick') || process.env.BENCH_QUICK === '1';
// --wait-idle[=seconds]: before each benchmark, wait (bounded) for other work on the machine to settle.
const waitIdleArg = args.find((a) => a.startsWith('--wait-idle'));
const waitIdleMs = waitIdleArg === undefined ? 0 : (Number(waitIdleArg.split('=')[1]) || 300) * 1000;
if (args.includes('--help') || args.includes('--list')) {
  process.stdout.write(
    `usage: npm run bench [-- <name>... ] [--quick] [--wait-idle[=seconds]]\n\n${BENCHMARKS.map((b) => `  ${b.name.padEnd(18)} ${b.title}`).join('\n')}\n`,
  );
  process.exit(0);
}
const names = args.filter((a) => !a.startsWith('--'));
const unknown = names.filter((n) => !BENCHMARKS.some((b) => b.name === n));
if (unknown.length > 0) {
  process.stderr.write(
    `unknown benchmark(s): ${unknown.join(', ')}; known: ${BENCHMARKS.map((b) => b.name).join(', ')}\n`,
  );
  process.exit(2);
}
const selected = names.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => names.includes(b.name));

const machine = machineInfo();
const log = (line: string) => process.stdout.write(`${line}\n`);
log(
  `meshpress benchmarks${quick ? ' (quick: figures not comparable)' : ''}: ${selected.map((b) => b.name).join(', ')}`,
);
log(
  `machine: ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}; load and servers share these cores, loopback only`,
);

buildPackages();

let errors = 0;
const runStarted = performance.now();
for (const benchmark of selected) {
  log(`\n=== ${benchmark.name}: ${benchmark.title} (goal: ${benchmark.goal})`);
  const loadBefore = waitIdleMs > 0 ? await waitForIdle(waitIdleMs, log) : machineLoad();
  if (isBusy(loadBefore))
    log(
      `WARNING: machine busy (load ${loadBefore.load1}, CPU pressure ${loadBefore.cpuPressure10s}%): figures will be low`,
    );
  const others = watchOthers();
  const startedAt = new Date().toISOString();
  const started = performance.now();
  let record: BenchRecord;
  try {
    const result = await benchmark.run({ quick, log: (line) => log(line) });
    const verdicts = result.rows.map((r) => r.verdict);
    record = {
      name: benchmark.recordName ?? benchmark.name,
      title: benchmark.title,
      goal: benchmark.goal,
      status: verdicts.includes('fail')
        ? 'fail'
        : verdicts.every((v) => v === 'not-run')
          ? 'not-run'
          : 'pass',
      quick,
      startedAt,
      elapsedMs: Math.round(performance.now() - started),
      machine,
      machineLoad: loadSince(loadBefore, others.stop()),
      rows: result.rows,
      details: result.details,
      notes: result.notes ?? [],
    };
  } catch (err) {
    errors++;
    log(`ERROR: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    record = {
      name: benchmark.recordName ?? benchmark.name,
      title: benchmark.title,
      goal: benchmark.goal,
      status: 'error',
      quick,
      startedAt,
      elapsedMs: Math.round(performance.now() - started),
      machine,
      machineLoad: loadSince(loadBefore, others.stop()),
      rows: [],
      details: {},
      notes: [],
      error: err instanceof Error ? err.message.split('\n')[0]! : String(err),
    };
  }
  for (const row of record.rows)
    log(`  [${row.verdict}] ${row.label}: ${row.measured} (goal ${row.goal || 'none'})`);
  log(`  -> ${writeRecord(record)} (${(record.elapsedMs / 1000).toFixed(1)} s)`);
}
const summary = writeSummary(
  BENCHMARKS.map((b) => ({ name: b.name, recordName: b.recordName ?? b.name, title: b.title })),
);
log(`\nsummary: ${summary} (total ${((performance.now() - runStarted) / 1000).toFixed(0)} s)`);
process.exit(errors > 0 ? 1 : 0);

function loadSince(before: ReturnType<typeof machineLoad>, othersCores: number | null) {
  if (othersCores !== null && othersCores > BUSY_OTHERS_CORES)
    log(`WARNING: other processes used ${othersCores} cores' worth of CPU during this benchmark`);
  return { before, othersCores, busy: isBusy(before) || (othersCores ?? 0) > BUSY_OTHERS_CORES };
}
