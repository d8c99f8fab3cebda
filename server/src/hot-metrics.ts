import type { Counter, Registry } from 'prom-client';

/**
 * One label set of a prom-client counter, for per-request paths: an increment bumps a plain number, and
 * the counter takes the sum when it is collected (at scrape), instead of hashing the labels every time.
 */
export class CounterCell<L extends string> {
  #pending = 0;

  constructor(readonly labels: Readonly<Record<L, string>>) {}

  inc(): void {
    this.#pending += 1;
  }

  /** Adds what was counted since the last flush to `counter`. */
  flushInto(counter: Counter<L>): void {
    if (this.#pending === 0) return;
    counter.inc(this.labels, this.#pending);
    this.#pending = 0;
  }
}

/** One label set's observations: a count per bucket (the last one is +Inf), their sum and number. */
export class HistogramCell {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: Float64Array,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const { bounds } = this;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]! += 1;
    this.sum += value;
    this.count += 1;
  }
}

interface HotHistogramOptions<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly buckets: readonly number[];
  readonly registers: readonly Registry[];
}

/**
 * A Prometheus histogram for per-request paths. prom-client's histogram hashes the label values and
 * looks the bucket up by its number-as-string key on every observation (about a microsecond on a busy
 * server, more than a poll's own resolution); here a label set's cell is found once (`labels()`) and an
 * observation is a short loop over the bounds. The registry renders it through the same `get()` contract
 * as prom-client's own metrics, so the exposition is identical (held to it by a unit test).
 */
export class HotHistogram<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #labelNames: readonly L[];
  readonly #bounds: Float64Array;
  readonly #cells = new Map<string, HistogramCell>();

  constructor(options: HotHistogramOptions<L>) {
    this.name = options.name;
    this.help = options.help;
    this.#labelNames = options.labelNames;
    this.#bounds = Float64Array.from([...options.buckets].sort((a, b) => a - b));
    for (const registry of options.registers)
      registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** The cell of these label values, in `labelNames` order; keep it to observe without a lookup. */
  labels(...values: string[]): HistogramCell {
    const key = values.join('\u0000');
    let cell = this.#cells.get(key);
    if (!cell) {
      const labels: Record<string, string> = {};
      this.#labelNames.forEach((name, i) => {
        labels[name] = values[i] ?? '';
      });
      this.#cells.set(key, (cell = new HistogramCell(labels, this.#bounds)));
    }
    return cell;
  }

  observe(labels: Readonly<Record<L, string>>, value: number): void {
    this.labels(...this.#labelNames.map((name) => labels[name])).observe(value);
  }

  reset(): void {
    this.#cells.clear();
  }

  /** What prom-client's registry renders: cumulative buckets, +Inf, sum and count per label set. */
  async get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: ExportedValue[];
  }> {
    const values: ExportedValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const cell of this.#cells.values()) {
      const sharedLabels = cell.labels;
      let cumulative = 0;
      this.#bounds.forEach((le, i) => {
        cumulative += cell.counts[i]!;
        values.push({ labels: { le }, sharedLabels, value: cumulative, metricName: bucket });
      });
      values.push(
        { labels: { le: '+Inf' }, sharedLabels, value: cell.count, metricName: bucket },
        { labels: {}, sharedLabels, value: cell.sum, metricName: `${this.name}_sum` },
        { labels: {}, sharedLabels, value: cell.count, metricName: `${this.name}_count` },
      );
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/** As prom-client's histogram exports a value: the bucket bound as a label, the label set shared. */
interface ExportedValue {
  readonly labels: Readonly<Record<string, string | number>>;
  readonly sharedLabels: Readonly<Record<string, string>>;
  readonly value: number;
  readonly metricName: string;
}
