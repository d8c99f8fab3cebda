import type { Benchmark } from './harness/types.js';

/**
 * SLOT for benchmark 2 (issue 6): publish -> N client-library subscribers (long-poll mode) have all
 * applied the version, N = 1,000 / 5,000 / 10,000, p50/p99/max, against etcd watch with N watchers
 * (Debian's etcd-server) in the same run. Goal: p99 at 10,000 under 1 s and no worse than etcd's.
 *
 * Not written yet: it needs the client library's subscription API. To fill it in, replace `run` below;
 * startMeshpress (harness/processes.ts), forkWorker and the poll fixture are there to reuse, and the
 * subscribers belong in a worker process (bench/workers/) like the other load generators.
 */
export const propagation: Benchmark = {
  name: 'propagation',
  title: 'Propagation to N client-library subscribers vs etcd watch',
  goal: 'p99 at N = 10,000 under 1 s and no worse than etcd',
  async run() {
    return {
      rows: [
        {
          label: 'publish -> 1k/5k/10k subscribers applied (p50/p99/max), vs etcd watch',
          goal: 'p99 at 10,000 < 1 s, ≤ etcd',
          measured: 'not implemented yet (waits for the client library subscriptions)',
          verdict: 'not-run',
        },
      ],
      details: { pending: 'benchmark 2 is a slot: bench/propagation.ts' },
    };
  },
};
