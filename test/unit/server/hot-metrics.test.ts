import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CounterCell, HotHistogram } from '../../../server/src/hot-metrics.js';

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.1, 1];
const OBSERVATIONS: [string, string, number][] = [
  ['rest', '/v1/poll', 0.0002],
  ['rest', '/v1/poll', 0.0005],
  ['rest', '/v1/poll', 0.003],
  ['rest', '/v1/poll', 7],
  ['grpc', 'poll', 0.0011],
  ['rest', '/v1/topics/:topic', 0.02],
  ['grpc', 'poll', 1],
];

function both() {
  const reference = new Registry();
  const hot = new Registry();
  const options = { name: 'x_seconds', help: 'latency', labelNames: ['transport', 'operation'] as const };
  return {
    reference,
    hot,
    prom: new Histogram({ ...options, buckets: BUCKETS, registers: [reference] }),
    ours: new HotHistogram({ ...options, buckets: BUCKETS, registers: [hot] }),
  };
}

describe('HotHistogram', () => {
  it("renders exactly what prom-client's histogram renders for the same observations", async () => {
    const { reference, hot, prom, ours } = both();
    for (const [transport, operation, seconds] of OBSERVATIONS) {
      prom.labels(transport, operation).observe(seconds);
      ours.labels(transport, operation).observe(seconds);
    }
    expect(await hot.metrics()).toBe(await reference.metrics());
  });

  it('observes through label objects as through a kept cell, and resets', async () => {
    const { reference, hot, prom, ours } = both();
    for (const [transport, operation, seconds] of OBSERVATIONS) {
      prom.observe({ transport, operation }, seconds);
      ours.observe({ transport, operation }, seconds);
    }
    expect(await hot.metrics()).toBe(await reference.metrics());
    prom.reset();
    ours.reset();
    expect(await hot.metrics()).toBe(await reference.metrics());
  });
});

describe('CounterCell', () => {
  it('adds its increments to the prom-client counter when the counter is collected, once', async () => {
    const registry = new Registry();
    const cells: CounterCell<'outcome'>[] = [];
    const counter: Counter<'outcome'> = new Counter({
      name: 'polls_total',
      help: 'polls',
      labelNames: ['outcome'] as const,
      registers: [registry],
      collect: () => {
        for (const cell of cells) cell.flushInto(counter);
      },
    });
    const none = new CounterCell({ outcome: 'none' });
    const update = new CounterCell({ outcome: 'update' });
    cells.push(none, update);
    none.inc();
    none.inc();
    update.inc();
    const first = await registry.metrics();
    expect(first).toContain('polls_total{outcome="none"} 2');
    expect(first).toContain('polls_total{outcome="update"} 1');
    none.inc();
    const second = await registry.metrics();
    expect(second).toContain('polls_total{outcome="none"} 3');
    expect(second).toContain('polls_total{outcome="update"} 1');
  });
});
