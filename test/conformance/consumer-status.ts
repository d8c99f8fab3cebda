import { randomBytes } from 'node:crypto';
import { ClosedError, ValidationError } from '@meshpress/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  ConsumerReport,
  ConsumerStatusStore,
} from '../../server/src/consumers/consumer-status-store.js';

/** TTL every factory must configure, so the expiry tests know where the edge is. */
export const CONFORMANCE_TTL_MS = 60_000;

export interface ConsumerStatusHandle {
  readonly store: ConsumerStatusStore;
  /** Runs after the store is closed. */
  readonly cleanup?: () => Promise<void>;
}

/**
 * The behaviour every ConsumerStatusStore must show. Time is the reports' own `at` and the query's `now`
 * (no clock, no sleeps); topics are unique per test, so a shared backend may hold other data.
 */
export function consumerStatusConformance(name: string, factory: () => Promise<ConsumerStatusHandle>): void {
  describe(`ConsumerStatusStore conformance: ${name}`, () => {
    const T0 = 1_700_000_000_000;
    const GRACE = 30_000;
    const runId = randomBytes(4).toString('hex');
    let counter = 0;
    let handle: ConsumerStatusHandle;
    let store: ConsumerStatusStore;
    let topic: string;

    beforeEach(async () => {
      handle = await factory();
      store = handle.store;
      topic = `status.${runId}.${++counter}`;
    });
    afterEach(async () => {
      await store.close();
      await handle.cleanup?.();
    });

    const report = (node: string, fields: Partial<ConsumerReport> = {}) =>
      store.record({ topic, node, at: T0, ...fields });
    const status = (now = T0, graceMs = GRACE) => store.status(topic, { now, graceMs });

    it('knows no node for a topic nobody polled', async () => {
      expect(await status()).toEqual({ topic, distribution: [], lagging: [], total: 0 });
    });

    it('counts live nodes per version, newest first, nodes with nothing consumed last', async () => {
      await report('n1', { currentVersion: 3, targetVersion: 3 });
      await report('n2', { currentVersion: 3, targetVersion: 3 });
      await report('n3', { currentVersion: 2, targetVersion: 3 });
      await report('n4', { targetVersion: 3 });
      await report('n5', { currentVersion: 10, targetVersion: 10 });
      const result = await status();
      expect(result.distribution).toEqual([
        { version: 10, nodes: 1 },
        { version: 3, nodes: 2 },
        { version: 2, nodes: 1 },
        { version: null, nodes: 1 },
      ]);
      expect(result.total).toBe(5);
    });

    it('records every topic of a poll report as it records single reports', async () => {
      const other = `${topic}.other`;
      store.recordPoll({
        node: 'n1',
        app: 'payments',
        region: 'eu-west-1',
        at: T0,
        topics: [
          { topic, currentVersion: 2, targetVersion: 3 },
          { topic: other, currentVersion: 5, targetVersion: 5 },
        ],
      });
      store.recordPoll({ node: 'n2', at: T0, topics: [{ topic, targetVersion: 3 }] });
      const first = await status(T0 + GRACE + 1);
      expect(first.distribution).toEqual([
        { version: 2, nodes: 1 },
        { version: null, nodes: 1 },
      ]);
      expect(first.lagging.map((n) => [n.node, n.app, n.region, n.since])).toEqual([
        ['n1', 'payments', 'eu-west-1', T0],
        ['n2', undefined, undefined, T0],
      ]);
      expect((await store.status(other, { now: T0, graceMs: GRACE })).distribution).toEqual([
        { version: 5, nodes: 1 },
      ]);
    });

    it("keeps each node's latest report, whatever order the reports arrive in", async () => {
      await report('n1', { currentVersion: 1, targetVersion: 2, at: T0 });
      await report('n1', { currentVersion: 2, targetVersion: 2, at: T0 + 1_000 });
      await report('n1', { currentVersion: 1, targetVersion: 2, at: T0 + 500 });
      await store.flush();
      await report('n1', { currentVersion: 1, targetVersion: 2, at: T0 + 600 });
      const result = await status(T0 + 1_000, 0);
      expect(result.distribution).toEqual([{ version: 2, nodes: 1 }]);
      expect(result.lagging).toEqual([]);
    });

    it('names a node behind its target only once the grace period has passed', async () => {
      await report('slow', {
        app: 'payments',
        region: 'eu-west-1',
        cluster: 'c1',
        currentVersion: 4,
        targetVersion: 5,
      });
      await report('fresh', { currentVersion: 5, targetVersion: 5 });
      expect((await status(T0 + GRACE)).lagging).toEqual([]);
      expect((await status(T0 + GRACE + 1)).lagging).toEqual([
        {
          node: 'slow',
          app: 'payments',
          region: 'eu-west-1',
          cluster: 'c1',
          currentVersion: 4,
          targetVersion: 5,
          since: T0,
          lastSeen: T0,
        },
      ]);
    });

    it('counts a node that has consumed nothing, or runs a newer version than a pin allows, as behind', async () => {
      await report('empty', { targetVersion: 2 });
      await report('ahead', { currentVersion: 7, targetVersion: 6 });
      const lagging = (await status(T0 + GRACE + 1)).lagging;
      expect(lagging.map((n) => [n.node, n.currentVersion, n.targetVersion])).toEqual([
        ['ahead', 7, 6],
        ['empty', undefined, 2],
      ]);
      expect(lagging.find((n) => n.node === 'empty')).not.toHaveProperty('currentVersion');
    });

    it('never counts a node with no target (nothing applies to it) as lagging', async () => {
      await report('untargeted', { currentVersion: 3 });
      const result = await status(T0 + CONFORMANCE_TTL_MS - 1);
      expect(result.lagging).toEqual([]);
      expect(result.distribution).toEqual([{ version: 3, nodes: 1 }]);
    });

    it('measures a lag from the first report behind that target, across polls', async () => {
      await report('n1', { currentVersion: 1, targetVersion: 2, at: T0 });
      await store.flush();
      await report('n1', { currentVersion: 1, targetVersion: 2, at: T0 + 10_000 });
      await report('n1', { currentVersion: 1, targetVersion: 2, at: T0 + 20_000 });
      const lagging = (await status(T0 + GRACE + 1)).lagging;
      expect(lagging).toHaveLength(1);
      expect(lagging[0]).toMatchObject({ node: 'n1', since: T0, lastSeen: T0 + 20_000 });
    });

    it('restarts the lag clock when the target moves or the node catches up', async () => {
      await report('moved', { currentVersion: 1, targetVersion: 2, at: T0 });
      await report('caught-up', { currentVersion: 1, targetVersion: 2, at: T0 });
      await store.flush();
      await report('moved', { currentVersion: 1, targetVersion: 3, at: T0 + 20_000 });
      await report('caught-up', { currentVersion: 2, targetVersion: 2, at: T0 + 10_000 });
      await store.flush();
      await report('caught-up', { currentVersion: 2, targetVersion: 3, at: T0 + 20_000 });

      expect((await status(T0 + 20_000 + GRACE)).lagging).toEqual([]);
      const lagging = (await status(T0 + 20_000 + GRACE + 1)).lagging;
      expect(lagging.map((n) => [n.node, n.since])).toEqual([
        ['caught-up', T0 + 20_000],
        ['moved', T0 + 20_000],
      ]);
    });

    it('lists the longest-lagging nodes first', async () => {
      await report('b', { currentVersion: 1, targetVersion: 2, at: T0 + 2_000 });
      await report('a', { currentVersion: 1, targetVersion: 2, at: T0 + 1_000 });
      await report('c', { currentVersion: 1, targetVersion: 2, at: T0 + 2_000 });
      const lagging = (await status(T0 + 2_000 + GRACE + 1)).lagging;
      expect(lagging.map((n) => n.node)).toEqual(['a', 'b', 'c']);
    });

    it('forgets a node that stopped polling once the TTL has passed, and knows it again when it returns', async () => {
      await report('gone', { currentVersion: 1, targetVersion: 2, at: T0 });
      await report('alive', { currentVersion: 2, targetVersion: 2, at: T0 + 40_000 });
      expect((await status(T0 + CONFORMANCE_TTL_MS - 1, 0)).total).toBe(2);

      const later = await status(T0 + CONFORMANCE_TTL_MS, 0);
      expect(later.total).toBe(1);
      expect(later.distribution).toEqual([{ version: 2, nodes: 1 }]);
      expect(later.lagging).toEqual([]);

      await report('gone', { currentVersion: 1, targetVersion: 2, at: T0 + CONFORMANCE_TTL_MS + 1 });
      const back = await status(T0 + CONFORMANCE_TTL_MS + 1 + GRACE + 1, 0);
      expect(back.total).toBe(2);
      // Its lag is measured from its return, not from before it was forgotten.
      expect(back.lagging.map((n) => [n.node, n.since])).toEqual([['gone', T0 + CONFORMANCE_TTL_MS + 1]]);
    });

    it('starts the lag afresh for a node back after the TTL, even when nobody read the status meanwhile', async () => {
      await report('n1', { currentVersion: 1, targetVersion: 2, at: T0 });
      await store.flush();
      const back = T0 + CONFORMANCE_TTL_MS + 5_000;
      await report('n1', { currentVersion: 1, targetVersion: 2, at: back });
      const lagging = (await status(back + GRACE + 1)).lagging;
      expect(lagging.map((n) => [n.node, n.since])).toEqual([['n1', back]]);
    });

    it('records a repeating poll report (the same objects, poll after poll) as any other', async () => {
      // What the server sends for a node polling at an interval: one report object until its answer
      // changes. A store may recognise it; what it records must not differ.
      const behind = [{ topic, currentVersion: 1, targetVersion: 2 }];
      const caughtUp = [{ topic, currentVersion: 2, targetVersion: 2 }];
      const poll = (topics: typeof behind, at: number) =>
        store.recordPoll({ node: 'n1', app: 'payments', at, topics, repeats: true });
      poll(behind, T0);
      await store.flush();
      poll(behind, T0 + 10_000);
      poll(behind, T0 + 20_000);
      const lagging = (await status(T0 + GRACE + 1)).lagging;
      expect(lagging).toEqual([
        expect.objectContaining({ node: 'n1', app: 'payments', since: T0, lastSeen: T0 + 20_000 }),
      ]);

      // Another report, then the first one again: each is recorded as it says.
      poll(caughtUp, T0 + 30_000);
      await store.flush();
      expect((await status(T0 + 30_000, 0)).distribution).toEqual([{ version: 2, nodes: 1 }]);
      poll(behind, T0 + 40_000);
      await store.flush();
      const again = await status(T0 + 40_000 + GRACE + 1);
      expect(again.distribution).toEqual([{ version: 1, nodes: 1 }]);
      expect(again.lagging.map((n) => [n.node, n.since])).toEqual([['n1', T0 + 40_000]]);

      // A copy after the TTL starts the lag afresh; a copy arriving late changes nothing.
      const back = T0 + 40_000 + CONFORMANCE_TTL_MS + 5_000;
      poll(behind, back);
      await store.flush();
      expect((await status(back + GRACE + 1)).lagging.map((n) => [n.node, n.since])).toEqual([['n1', back]]);
      poll(behind, back - 1_000);
      await store.flush();
      expect((await status(back + GRACE + 1)).lagging).toEqual([
        expect.objectContaining({ node: 'n1', since: back, lastSeen: back }),
      ]);
    });

    it('keeps topics apart', async () => {
      const other = `${topic}.other`;
      await report('n1', { currentVersion: 1, targetVersion: 1 });
      await store.record({ topic: other, node: 'n1', currentVersion: 9, targetVersion: 9, at: T0 });
      expect((await status()).distribution).toEqual([{ version: 1, nodes: 1 }]);
      expect((await store.status(other, { now: T0, graceMs: 0 })).distribution).toEqual([
        { version: 9, nodes: 1 },
      ]);
    });

    it('rejects a malformed report or query, naming the field', async () => {
      await expect(store.record({ topic: 'Bad Topic', node: 'n1', at: T0 })).rejects.toThrow(ValidationError);
      await expect(report('n1', { currentVersion: 0 })).rejects.toThrow(/currentVersion/);
      await expect(report('')).rejects.toThrow(/node/);
      await expect(store.status(topic, { now: T0, graceMs: -1 })).rejects.toThrow(/graceMs/);
      await expect(store.status('Bad Topic', { now: T0, graceMs: 0 })).rejects.toThrow(ValidationError);
    });

    it('closes idempotently; reports after close are ignored and status fails', async () => {
      await Promise.all([store.close(), store.close()]);
      await expect(report('n1', { currentVersion: 1 })).resolves.toBeUndefined();
      await expect(status()).rejects.toThrow(ClosedError);
    });
  });
}
