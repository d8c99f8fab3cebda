import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { CounterCell, HotHistogram } from './hot-metrics.js';

/** The figures an operator alerts on. One registry per server instance, so tests can run several. */
export class ServerMetrics {
  readonly registry = new Registry();

  readonly #pollCells: CounterCell<'transport' | 'outcome'>[] = [];
  readonly #pollOutcomes = new Map<string, PollOutcomeCounters>();
  readonly polls: Counter<'transport' | 'outcome'> = new Counter({
    name: 'meshpress_polls_total',
    help: 'Poll requests answered, by transport and outcome (update, none, error)',
    labelNames: ['transport', 'outcome'] as const,
    registers: [this.registry],
    collect: () => {
      for (const cell of this.#pollCells) cell.flushInto(this.polls);
    },
  });
  /** Updates handed out, pinned or not: counted per update on the poll path, into `pollUpdates` at scrape. */
  readonly pollUpdateCounts = {
    pinned: new CounterCell<'pinned'>({ pinned: 'true' }),
    unpinned: new CounterCell<'pinned'>({ pinned: 'false' }),
  };
  readonly pollUpdates: Counter<'pinned'> = new Counter({
    name: 'meshpress_poll_updates_total',
    help: 'Topic updates handed to consumers; pinned=true counts rollbacks and pin moves',
    labelNames: ['pinned'] as const,
    registers: [this.registry],
    collect: () => {
      this.pollUpdateCounts.pinned.flushInto(this.pollUpdates);
      this.pollUpdateCounts.unpinned.flushInto(this.pollUpdates);
    },
  });
  readonly publishes = new Counter({
    name: 'meshpress_publishes_total',
    help: 'Versions published, by pointer kind',
    labelNames: ['pointer'] as const,
    registers: [this.registry],
  });
  readonly publishBytes = new Counter({
    name: 'meshpress_publish_bytes_total',
    help: 'Payload bytes published',
    registers: [this.registry],
  });
  readonly pinChanges = new Counter({
    name: 'meshpress_pin_changes_total',
    help: 'Pins set and removed',
    labelNames: ['action'] as const,
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'meshpress_errors_total',
    help: 'Requests that failed, by stable error code and transport',
    labelNames: ['code', 'transport'] as const,
    registers: [this.registry],
  });
  /** From a version commit to this instance serving it (observed per update handed out). */
  readonly propagationLag = new HotHistogram({
    name: 'meshpress_propagation_lag_seconds',
    help: 'From a version commit to this instance serving it from its consumer cache',
    labelNames: [],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  }).labels();
  #countHeldPolls: () => number = () => 0;
  // Read at each scrape: setting it on every held poll's start and end cost the long-poll path.
  readonly heldPolls: Gauge = new Gauge({
    name: 'meshpress_long_polls_held',
    help: 'Long-polls currently waiting for a change',
    registers: [this.registry],
    collect: () => this.heldPolls.set(this.#countHeldPolls()),
  });
  readonly cachedTopics = new Gauge({
    name: 'meshpress_cached_topics',
    help: 'Topics held in the consumer cache',
    registers: [this.registry],
  });
  readonly requestDuration = new HotHistogram({
    name: 'meshpress_request_duration_seconds',
    help: 'Request latency by transport and operation',
    labelNames: ['transport', 'operation'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers: [this.registry],
  });

  /** Counters of each poll outcome on a transport, for the poll paths (counted into `polls` at scrape). */
  pollOutcomes(transport: 'rest' | 'grpc'): PollOutcomeCounters {
    let outcomes = this.#pollOutcomes.get(transport);
    if (!outcomes) {
      const cell = (outcome: string) => {
        const counter = new CounterCell({ transport, outcome });
        this.#pollCells.push(counter);
        return counter;
      };
      outcomes = { update: cell('update'), none: cell('none'), error: cell('error') };
      this.#pollOutcomes.set(transport, outcomes);
    }
    return outcomes;
  }

  /** Where the held long-polls gauge reads its value (the service that holds them). */
  countHeldPollsWith(count: () => number): void {
    this.#countHeldPolls = count;
  }

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'meshpress_' });
  }
}

/** One counter per poll outcome (`meshpress_polls_total{outcome}`) of one transport. */
export type PollOutcomeCounters = Readonly<
  Record<'update' | 'none' | 'error', CounterCell<'transport' | 'outcome'>>
>;
