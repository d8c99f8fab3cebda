import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * How busy the machine is apart from us. Other work on the same cores (builds, test suites) lowers
 * every figure, so each results file records it and the summary flags runs that shared the machine.
 */
export interface MachineLoad {
  readonly load1: number;
  /** Share of the last 10 s in which some runnable task waited for a CPU (Linux PSI), 0..100. */
  readonly cpuPressure10s: number | null;
}

export function machineLoad(): MachineLoad {
  let pressure: number | null = null;
  try {
    const match = /some avg10=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    if (match) pressure = Number(match[1]);
  } catch {
    // No PSI (older kernel, not Linux): load average only.
  }
  return { load1: Math.round(loadavg()[0]! * 100) / 100, cpuPressure10s: pressure };
}

/** Before a benchmark, above this the machine counts as busy. */
const BUSY_PRESSURE = 25;
const BUSY_LOAD1 = 1.5;
/** During a benchmark, other processes using more than this many cores' worth flag the run. */
export const BUSY_OTHERS_CORES = 0.25;

export function isBusy(load: MachineLoad): boolean {
  return load.cpuPressure10s === null ? load.load1 > BUSY_LOAD1 : load.cpuPressure10s > BUSY_PRESSURE;
}

/** Waits (at most `maxMs`) until the machine is not busy; returns the load seen last. */
export async function waitForIdle(maxMs: number, log: (line: string) => void): Promise<MachineLoad> {
  const deadline = performance.now() + maxMs;
  let load = machineLoad();
  let said = false;
  while (isBusy(load) && performance.now() < deadline) {
    if (!said)
      log(
        `machine busy (load ${load.load1}, CPU pressure ${load.cpuPressure10s}%): waiting up to ${Math.round(maxMs / 1000)} s for it to settle…`,
      );
    said = true;
    await sleep(2_000);
    load = machineLoad();
  }
  return load;
}

/** All CPU time the machine spent busy, and the time this process and its reaped children used, in ticks. */
function cpuTicks(): { machineBusy: number; ours: number } | undefined {
  try {
    const total = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already inside user)
    const machineBusy = total[0]! + total[1]! + total[2]! + total[5]! + total[6]! + total[7]!;
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    // utime stime cutime cstime: the benchmark's servers and load workers are our children, reaped
    // before the benchmark returns, so their time is in cutime/cstime by then.
    return { machineBusy, ours: f[11]! + f[12]! + f[13]! + f[14]! };
  } catch {
    return undefined;
  }
}

/**
 * Measures, across a benchmark, how many cores' worth of CPU processes other than ours used. Call
 * `stop()` after every child process of the benchmark has exited.
 */
export function watchOthers(): { stop(): number | null } {
  const start = cpuTicks();
  const started = performance.now();
  return {
    stop() {
      const end = cpuTicks();
      if (!start || !end) return null;
      const ticksPerMs = ticksPerSecond() / 1000;
      const othersTicks = end.machineBusy - start.machineBusy - (end.ours - start.ours);
      const cores = othersTicks / ticksPerMs / Math.max(1, performance.now() - started);
      return Math.round(Math.max(0, Math.min(cores, cpus().length)) * 100) / 100;
    },
  };
}

function ticksPerSecond(): number {
  // USER_HZ is 100 on every Linux architecture Node supports.
  return 100;
}
