import { describe, expect, it } from 'vitest';
import { Cancellation } from '../../../client/src/sidecar/cancellation.js';
import { NodeCircuit } from '../../../client/src/sidecar/circuit-breaker.js';

const limits = (maxConnections: number, maxPendingRequests: number, maxRequests: number) => ({
  maxConnections,
  maxPendingRequests,
  maxRequests,
});

describe('NodeCircuit (per virtual node circuit breaking)', () => {
  it('grants up to maxConnections, queues up to maxPendingRequests, then overflows', () => {
    const circuit = new NodeCircuit();
    const l = limits(2, 1, 100);
    expect(circuit.acquire(l).kind).toBe('granted');
    expect(circuit.acquire(l).kind).toBe('granted');
    expect(circuit.acquire(l).kind).toBe('queued');
    expect(circuit.acquire(l)).toEqual({ kind: 'overflow', limit: 'max-pending-requests' });
    expect([circuit.active, circuit.pending]).toEqual([2, 1]);
  });

  it('overflows on maxRequests counting attempts in flight and waiting', () => {
    const circuit = new NodeCircuit();
    const l = limits(1, 10, 3);
    circuit.acquire(l);
    circuit.acquire(l);
    circuit.acquire(l);
    expect(circuit.acquire(l)).toEqual({ kind: 'overflow', limit: 'max-requests' });
  });

  it('hands a released connection to the oldest waiter, in order', async () => {
    const circuit = new NodeCircuit();
    const l = limits(1, 5, 10);
    circuit.acquire(l);
    const first = circuit.acquire(l);
    const second = circuit.acquire(l);
    if (first.kind !== 'queued' || second.kind !== 'queued') throw new Error('expected queued');
    const order: string[] = [];
    void first.waiter.granted.then((ok) => order.push(`first:${ok}`));
    void second.waiter.granted.then((ok) => order.push(`second:${ok}`));
    circuit.release();
    await Promise.resolve();
    expect(order).toEqual(['first:true']);
    expect([circuit.active, circuit.pending]).toEqual([1, 1]);
    circuit.release();
    await Promise.resolve();
    expect(order).toEqual(['first:true', 'second:true']);
    circuit.release();
    expect([circuit.active, circuit.pending]).toEqual([0, 0]);
  });

  it('a waiter whose signal aborts leaves the queue and frees its pending slot', async () => {
    const circuit = new NodeCircuit();
    const l = limits(1, 1, 10);
    circuit.acquire(l);
    const queued = circuit.acquire(l);
    if (queued.kind !== 'queued') throw new Error('expected queued');
    const abort = new Cancellation();
    const granted = queued.waiter.wait(abort);
    expect(circuit.acquire(l).kind).toBe('overflow');
    abort.abort();
    expect(await granted).toBe(false);
    expect(circuit.pending).toBe(0);
    expect(circuit.acquire(l).kind).toBe('queued');
  });

  it('a new request never jumps a non-empty queue', () => {
    const circuit = new NodeCircuit();
    circuit.acquire(limits(1, 5, 10));
    circuit.acquire(limits(1, 5, 10));
    // A snapshot with a higher limit arrives: its request still waits behind the queued one.
    expect(circuit.acquire(limits(5, 5, 10)).kind).toBe('queued');
  });

  it('limits come from each request’s own snapshot while the counts are shared', () => {
    const circuit = new NodeCircuit();
    circuit.acquire(limits(2, 0, 10));
    circuit.acquire(limits(2, 0, 10));
    expect(circuit.acquire(limits(2, 0, 10))).toEqual({ kind: 'overflow', limit: 'max-pending-requests' });
    expect(circuit.acquire(limits(3, 0, 10)).kind).toBe('granted');
    expect(circuit.active).toBe(3);
  });
});
