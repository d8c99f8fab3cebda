import {
  decodeFallbackCache,
  encodeFallbackCache,
  FallbackIndex,
  type Identity,
  type PinRecord,
  type ResolutionState,
  resolve,
  type ScopedPublish,
  sha256Hex,
} from '@meshpress/client';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluatePoll } from '../../server/src/core/poll-rule.js';
import { loadTopicView } from '../../server/src/core/topic-view.js';
import { SqliteConfigStore } from '../../server/src/store/sqlite/sqlite-config-store.js';
import { buildFallbackDocument } from '../../server/src/tasks/fallback-document.js';

/*
 * Small random worlds written to a real (in-memory) SQLite store through the same calls a publish makes,
 * including publishes that never complete and versions that fail the consistency check. The fallback cache
 * is built from the store, encoded and decoded, and every identity of a small universe is looked up:
 * - with only healthy versions, the answer equals resolve() over the full state, modelled independently
 *   from the operations (every scope of every committed version, every standing pin);
 * - in every world, the answer equals what the service's poll gives a consumer with nothing applied yet.
 */

const TOPIC = 'mesh.test.routes';
const T0 = 1_700_000_000_000;
const RUNS = { seed: 20_240_601, numRuns: 120 };

const SCOPES = [
  '*',
  'app=a',
  'app=b',
  'region=r1',
  'region=r2',
  'node=n1',
  'app=a,region=r1',
  'app=b,region=r2',
  'app=a,node=n1',
  'app=a,node=n1,region=r1',
] as const;

const IDENTITIES: Identity[] = [];
for (const app of [undefined, 'a', 'b'])
  for (const region of [undefined, 'r1', 'r2'])
    for (const node of [undefined, 'n1', 'n2'])
      IDENTITIES.push({
        ...(app ? { app } : {}),
        ...(region ? { region } : {}),
        ...(node ? { node } : {}),
      });

type Health = 'ok' | 'uncommitted' | 'unscoped' | 'corrupt';
type Op =
  | { op: 'publish'; scopes: string[]; health: Health; dt: number }
  | { op: 'addScopes'; pick: number; scopes: string[]; dt: number }
  | { op: 'pin'; pick: number; scope: string; dt: number }
  | { op: 'unpin'; scope: string; dt: number };

const scopesArb = fc.uniqueArray(fc.constantFrom(...SCOPES), { minLength: 1, maxLength: 3 });
// dt 0 makes equal timestamps common, so same-millisecond tie-breaks are exercised.
const dtArb = fc.integer({ min: 0, max: 2 });
const opArb = (healths: readonly Health[]): fc.Arbitrary<Op> =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        op: fc.constant('publish' as const),
        scopes: scopesArb,
        health: fc.constantFrom(...healths),
        dt: dtArb,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('addScopes' as const),
        pick: fc.nat(),
        scopes: scopesArb,
        dt: dtArb,
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('pin' as const),
        pick: fc.nat(),
        scope: fc.constantFrom(...SCOPES),
        dt: dtArb,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('unpin' as const),
        scope: fc.constantFrom(...SCOPES),
        dt: dtArb,
      }),
    },
  );

interface Model {
  /** Committed versions and their payload digests. */
  readonly committed: Map<number, string>;
  readonly corrupt: Set<number>;
  readonly publishes: ScopedPublish[];
  readonly pins: Map<string, PinRecord>;
}

async function buildWorld(store: SqliteConfigStore, ops: readonly Op[]): Promise<Model> {
  const model: Model = { committed: new Map(), corrupt: new Set(), publishes: [], pins: new Map() };
  const commitTime = new Map<number, number>();
  let now = T0;
  await store.putTopic({ name: TOPIC, retention: { maxVersions: 100 } }, now);
  for (const op of ops) {
    now += op.dt;
    const committed = [...model.committed.keys()];
    if (op.op === 'publish') {
      const version = await store.allocateVersion(TOPIC);
      const payload = new TextEncoder().encode(`payload ${version}`);
      // A corrupt record: inline bytes that do not hash to the recorded digest.
      const data = op.health === 'corrupt' ? new TextEncoder().encode(`tampered ${version}`) : payload;
      await store.writeVersion({
        topic: TOPIC,
        version,
        metadata: { n: String(version) },
        pointer: { kind: 'direct', data },
        size: data.byteLength,
        sha256: sha256Hex(payload),
        contentType: 'text/plain',
        publisher: 'property',
        createdAt: now,
      });
      if (op.health !== 'unscoped') await store.addScopes(TOPIC, version, op.scopes, now);
      if (op.health === 'uncommitted') continue;
      await store.commitVersion(TOPIC, version, now);
      model.committed.set(version, sha256Hex(payload));
      commitTime.set(version, now);
      if (op.health === 'corrupt') model.corrupt.add(version);
      if (op.health !== 'unscoped')
        for (const scope of op.scopes) model.publishes.push({ version, scope, visibleAt: now });
    } else if (op.op === 'addScopes') {
      if (committed.length === 0) continue;
      const version = committed[op.pick % committed.length]!;
      await store.addScopes(TOPIC, version, op.scopes, now);
      for (const scope of op.scopes)
        if (!model.publishes.some((p) => p.version === version && p.scope === scope))
          model.publishes.push({ version, scope, visibleAt: Math.max(now, commitTime.get(version)!) });
    } else if (op.op === 'pin') {
      if (committed.length === 0) continue;
      const pin = {
        scope: op.scope,
        version: committed[op.pick % committed.length]!,
        reason: 'r',
        author: 'o',
        setAt: now,
      };
      await store.setPin(TOPIC, pin);
      model.pins.set(op.scope, pin);
    } else {
      await store.removePin(TOPIC, op.scope, { author: 'o', reason: 'r', at: now });
      model.pins.delete(op.scope);
    }
  }
  return model;
}

async function fallbackIndexOf(store: SqliteConfigStore): Promise<FallbackIndex> {
  const { document } = await buildFallbackDocument({
    store,
    now: T0 + 10_000,
    writer: 'property',
    pageSize: 2,
  });
  return new FallbackIndex(await decodeFallbackCache(await encodeFallbackCache(document)));
}

async function withStore<T>(fn: (store: SqliteConfigStore) => Promise<T>): Promise<T> {
  const store = await SqliteConfigStore.open({ path: ':memory:' });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

describe('fallback cache lookups agree with resolution', () => {
  it('equals resolve() over the full state when every version is healthy', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb(['ok']), { minLength: 1, maxLength: 14 }), (ops) =>
        withStore(async (store) => {
          const model = await buildWorld(store, ops);
          const index = await fallbackIndexOf(store);
          const full: ResolutionState = { pins: [...model.pins.values()], publishes: model.publishes };
          for (const identity of IDENTITIES) {
            const expected = resolve(full, identity);
            const hit = index.lookup(TOPIC, identity);
            expect(
              hit && { version: hit.version, pinned: hit.pinned, sha256: hit.record.sha256 },
              JSON.stringify({ identity, ops }),
            ).toEqual(
              expected && {
                version: expected.version,
                pinned: expected.pinned,
                sha256: model.committed.get(expected.version),
              },
            );
          }
        }),
      ),
      RUNS,
    );
  });

  it("equals the service's answer to a first poll when publishes are incomplete or corrupt", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb(['ok', 'ok', 'uncommitted', 'unscoped', 'corrupt']), { minLength: 1, maxLength: 14 }),
        (ops) =>
          withStore(async (store) => {
            const model = await buildWorld(store, ops);
            const index = await fallbackIndexOf(store);
            const view = (await loadTopicView(store, TOPIC, T0 + 10_000))!;
            for (const identity of IDENTITIES) {
              const served = evaluatePoll(view, identity, undefined);
              const hit = index.lookup(TOPIC, identity);
              expect(
                hit && { version: hit.version, pinned: hit.pinned, record: hit.record },
                JSON.stringify({ identity, ops }),
              ).toEqual(served && { version: served.version, pinned: served.pinned, record: served.record });
              // Never an incomplete or corrupt version, whatever resolve() targets.
              if (hit) expect(model.corrupt.has(hit.version)).toBe(false);
              if (hit) expect(model.committed.has(hit.version)).toBe(true);
            }
          }),
      ),
      RUNS,
    );
  });

  it('answers nothing for an unknown topic', async () => {
    await withStore(async (store) => {
      await buildWorld(store, [{ op: 'publish', scopes: ['*'], health: 'ok', dt: 1 }]);
      const index = await fallbackIndexOf(store);
      expect(index.lookup('no.such.topic', { app: 'a' })).toBeUndefined();
      expect(index.lookup(TOPIC, { app: 'a' })?.version).toBe(1);
    });
  });
});
