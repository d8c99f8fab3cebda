import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Resident and peak resident memory of a process, in bytes, from /proc/<pid>/status. */
export function memoryOf(pid: number): { rss: number; peakRss: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!match) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(match[1]) * 1024;
  };
  return { rss: kib('VmRSS'), peakRss: kib('VmHWM') };
}

let ticksPerSecond: number | undefined;

/** CPU time (user + system, all threads) a process has used so far, in milliseconds. */
export function cpuMsOf(pid: number): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / ticksPerSecond;
}

/**
 * CPU time of a process and of every process below it, in milliseconds: a launcher that starts the
 * real worker (a reference proxy under bench/reference-proxies/) is measured with its worker.
 */
export function treeCpuMsOf(pid: number): number {
  let total = cpuMsOf(pid);
  for (const child of childrenOf(pid)) {
    try {
      total += treeCpuMsOf(child);
    } catch {
      // The child exited between the listing and the read: its time is gone with it.
    }
  }
  return total;
}

/** A process's children, from /proc; none where the kernel does not list them. */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    let listed = '';
    try {
      listed = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
    } catch {
      // A thread that ended, or a kernel without CONFIG_PROC_CHILDREN.
    }
    if (listed) children.push(...listed.split(' ').map(Number));
  }
  return children;
}

/** Number of open file descriptors of a process. */
export function openFdsOf(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Samples a process's CPU time across a window; `stop()` gives the share of one core it used. */
export function cpuMeter(pid: number): { stop(): { cpuMs: number; coreShare: number } } {
  const startCpu = cpuMsOf(pid);
  const startWall = performance.now();
  return {
    stop() {
      const cpuMs = cpuMsOf(pid) - startCpu;
      return { cpuMs, coreShare: cpuMs / Math.max(1, performance.now() - startWall) };
    },
  };
}
