import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../client/src/core/clock.js';
import type { MeshVirtualNode } from '../../../client/src/mesh/index.js';
import { OutlierDetector } from '../../../client/src/sidecar/outlier-detector.js';

function node(
  endpoints: number,
  outlier: Partial<NonNullable<MeshVirtualNode['outlierDetection']>> | null = {},
): MeshVirtualNode {
  return {
    name: 'web-v1',
    endpoints: Array.from({ length: endpoints }, (_, i) => ({
      host: `10.0.0.${i + 1}`,
      port: 8080,
      scheme: 'http' as const,
    })),
    connectionPool: { maxConnections: 10, maxPendingRequests: 10, maxRequests: 10 },
    outlierDetection:
      outlier === null
        ? undefined
        : {
            consecutiveErrors: 3,
            intervalMs: 10_000,
            baseEjectionMs: 30_000,
            maxEjectionPercent: 100,
            ...outlier,
          },
  };
}

const hosts = (d: OutlierDetector, n: MeshVirtualNode, count: number) =>
  Array.from({ length: count }, () => d.pick(n)?.host ?? 'none');

describe('OutlierDetector (endpoint choice and ejection)', () => {
  it('picks endpoints round-robin', () => {
    const d = new OutlierDetector(new ManualClock());
    expect(hosts(d, node(3), 6)).toEqual([
      '10.0.0.1',
      '10.0.0.2',
      '10.0.0.3',
      '10.0.0.1',
      '10.0.0.2',
      '10.0.0.3',
    ]);
  });

  it('ejects an endpoint after consecutiveErrors in a row, for baseEjectionMs, then returns it', () => {
    const clock = new ManualClock();
    const d = new OutlierDetector(clock);
    const n = node(2);
    const bad = n.endpoints[0]!;
    expect(d.recordError(bad, n)).toBe(false);
    expect(d.recordError(bad, n)).toBe(false);
    expect(d.recordError(bad, n)).toBe(true);
    expect(hosts(d, n, 4)).toEqual(['10.0.0.2', '10.0.0.2', '10.0.0.2', '10.0.0.2']);
    expect(d.ejected()).toEqual([
      { endpoint: 'http://10.0.0.1:8080', ejectedUntil: clock.now() + 30_000, ejections: 1 },
    ]);
    clock.advance(29_999);
    expect(hosts(d, n, 2)).toEqual(['10.0.0.2', '10.0.0.2']);
    clock.advance(1);
    expect(new Set(hosts(d, n, 2))).toEqual(new Set(['10.0.0.1', '10.0.0.2']));
    expect(d.ejected()).toEqual([]);
  });

  it('a success between errors resets the count', () => {
    const d = new OutlierDetector(new ManualClock());
    const n = node(2);
    const e = n.endpoints[0]!;
    d.recordError(e, n);
    d.recordError(e, n);
    d.recordSuccess(e);
    d.recordError(e, n);
    expect(d.recordError(e, n)).toBe(false);
    expect(d.recordError(e, n)).toBe(true);
  });

  it('ejects for longer each time (multiplier), and the multiplier decays while healthy', () => {
    const clock = new ManualClock();
    const d = new OutlierDetector(clock);
    const n = node(2, { consecutiveErrors: 1, baseEjectionMs: 1_000, intervalMs: 10_000 });
    const e = n.endpoints[0]!;
    d.recordError(e, n);
    expect(d.ejected()[0]!.ejectedUntil - clock.now()).toBe(1_000);
    clock.advance(1_000);
    d.recordError(e, n);
    expect(d.ejected()[0]!.ejectedUntil - clock.now()).toBe(2_000);
    clock.advance(2_000);
    // Healthy for two intervals: the multiplier goes from 2 down to 0, so the next ejection is base × 1.
    clock.advance(20_000);
    d.recordError(e, n);
    expect(d.ejected()[0]).toMatchObject({ ejections: 1 });
    expect(d.ejected()[0]!.ejectedUntil - clock.now()).toBe(1_000);
  });

  it('ejects at most maxEjectionPercent of the endpoints, but at least one', () => {
    const d = new OutlierDetector(new ManualClock());
    const n = node(4, { consecutiveErrors: 1, maxEjectionPercent: 50 });
    expect(n.endpoints.map((e) => d.recordError(e, n))).toEqual([true, true, false, false]);
    const one = node(4, { consecutiveErrors: 1, maxEjectionPercent: 10 });
    const d2 = new OutlierDetector(new ManualClock());
    expect(one.endpoints.map((e) => d2.recordError(e, one))).toEqual([true, false, false, false]);
    const none = node(4, { consecutiveErrors: 1, maxEjectionPercent: 0 });
    const d3 = new OutlierDetector(new ManualClock());
    expect(none.endpoints.map((e) => d3.recordError(e, none))).toEqual([false, false, false, false]);
  });

  it('picks nothing when every endpoint is ejected', () => {
    const d = new OutlierDetector(new ManualClock());
    const n = node(1, { consecutiveErrors: 1, maxEjectionPercent: 10 });
    d.recordError(n.endpoints[0]!, n);
    expect(d.pick(n)).toBeUndefined();
  });

  it('a snapshot without outlier detection ignores ejections and counts nothing', () => {
    const d = new OutlierDetector(new ManualClock());
    const withDetection = node(1, { consecutiveErrors: 1 });
    d.recordError(withDetection.endpoints[0]!, withDetection);
    expect(d.pick(withDetection)).toBeUndefined();
    const without = node(1, null);
    expect(d.pick(without)?.host).toBe('10.0.0.1');
    expect(d.recordError(without.endpoints[0]!, without)).toBe(false);
  });
});
