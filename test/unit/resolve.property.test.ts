import {
  canonicalScope,
  compileResolution,
  type Identity,
  type PinRecord,
  type ResolutionState,
  type ResolvedTarget,
  resolve,
  type ScopedPublish,
  visibleVersions,
} from '@meshpress/client';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/*
 * Small worlds: few keys, two values each, a handful of versions and timestamps, so that matches,
 * equal specificities and equal setAt instants are all common. The model below is written from
 * DESIGN.md "Resolution" alone: enumerate every candidate, sort by explicit keys, take the first.
 */

const KEYS = ['app', 'cluster', 'region', 'env'] as const;
type Key = (typeof KEYS)[number];
const VALUES = ['a', 'b'] as const;
/** A value no generated identity has: a constraint using it never holds. */
const FOREIGN_VALUE = 'zz';

type Constraint = readonly [Key, string];

interface ModelScope {
  readonly constraints: readonly Constraint[];
  /** The text handed to `resolve`: constraints in generated (not necessarily sorted) order. */
  readonly text: string;
}

interface ModelPin extends PinRecord {
  readonly model: ModelScope;
}
interface ModelPublish extends ScopedPublish {
  readonly model: ModelScope;
}
interface World {
  readonly identity: Identity;
  readonly pins: readonly ModelPin[];
  readonly publishes: readonly ModelPublish[];
}

const SEED = 42;
const RUNS = { seed: SEED, numRuns: 300 };

const scopeOf = (constraints: readonly Constraint[]): ModelScope => ({
  constraints,
  text: constraints.length === 0 ? '*' : constraints.map(([k, v]) => `${k}=${v}`).join(','),
});

const identityArb: fc.Arbitrary<Identity> = fc
  .record(
    Object.fromEntries(KEYS.map((k) => [k, fc.constantFrom(...VALUES)])) as Record<Key, fc.Arbitrary<string>>,
    { requiredKeys: [] },
  )
  .map((r) => r as Identity);

/** `*` or a conjunction of 1-3 constraints on distinct keys, in random order. */
const scopeArb: fc.Arbitrary<ModelScope> = fc.oneof(
  fc.constant(scopeOf([])),
  fc
    .shuffledSubarray([...KEYS], { minLength: 1, maxLength: 3 })
    .chain((keys) =>
      fc
        .tuple(...keys.map((k) => fc.constantFrom(...VALUES).map((v): Constraint => [k, v])))
        .map((cs) => scopeOf(cs)),
    ),
);

const versionArb = fc.integer({ min: 1, max: 8 });

const pinArb: fc.Arbitrary<ModelPin> = fc
  .record({ model: scopeArb, version: versionArb, setAt: fc.integer({ min: 0, max: 4 }) })
  .map(({ model, version, setAt }) => ({
    model,
    scope: model.text,
    version,
    setAt,
    reason: 'r',
    author: 'a',
  }));

const publishArb: fc.Arbitrary<ModelPublish> = fc
  .record({ model: scopeArb, version: versionArb, visibleAt: fc.integer({ min: 0, max: 100 }) })
  .map(({ model, version, visibleAt }) => ({ model, scope: model.text, version, visibleAt }));

const worldArb: fc.Arbitrary<World> = fc.record({
  identity: identityArb,
  pins: fc.array(pinArb, { maxLength: 4 }),
  publishes: fc.array(publishArb, { maxLength: 10 }),
});

const stateOf = (w: {
  pins: readonly PinRecord[];
  publishes: readonly ScopedPublish[];
}): ResolutionState => ({
  pins: w.pins,
  publishes: w.publishes,
});

// ---- the model -------------------------------------------------------------------------------------

const modelMatches = (scope: ModelScope, identity: Identity): boolean =>
  scope.constraints.every(([k, v]) => identity[k] === v);

const modelCanonical = (scope: ModelScope): string =>
  scope.constraints.length === 0
    ? '*'
    : [...scope.constraints]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => `${k}=${v}`)
        .join(',');

const cmpText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

interface Answer {
  readonly version: number;
  readonly pinned: boolean;
  readonly scope: string;
}

function modelResolve(world: World): Answer | undefined {
  const pins = world.pins
    .filter((p) => modelMatches(p.model, world.identity))
    .sort(
      (x, y) =>
        y.model.constraints.length - x.model.constraints.length ||
        y.setAt - x.setAt ||
        cmpText(modelCanonical(x.model), modelCanonical(y.model)) ||
        y.version - x.version,
    );
  const pin = pins[0];
  if (pin) return { version: pin.version, pinned: true, scope: modelCanonical(pin.model) };
  const publishes = world.publishes
    .filter((p) => modelMatches(p.model, world.identity))
    .sort(
      (x, y) =>
        y.version - x.version ||
        y.model.constraints.length - x.model.constraints.length ||
        cmpText(modelCanonical(x.model), modelCanonical(y.model)),
    );
  const publish = publishes[0];
  return publish
    ? { version: publish.version, pinned: false, scope: modelCanonical(publish.model) }
    : undefined;
}

/** The answer with its scope canonicalised: the model knows constraints, not the text spelling used. */
const canonicalAnswer = (target: ResolvedTarget | undefined): Answer | undefined =>
  target && { version: target.version, pinned: target.pinned, scope: canonicalScope(target.scope) };

const resolveWorld = (world: World) => canonicalAnswer(resolve(stateOf(world), world.identity));

// ---- properties ------------------------------------------------------------------------------------

describe('resolve (property)', () => {
  it('agrees with the brute-force model of DESIGN.md "Resolution"', () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        expect(resolveWorld(world)).toEqual(modelResolve(world));
      }),
      RUNS,
    );
  });

  it('compiled once per state, answers every identity exactly as resolve does', () => {
    fc.assert(
      fc.property(worldArb, fc.array(identityArb, { minLength: 1, maxLength: 8 }), (world, others) => {
        const compiled = compileResolution(stateOf(world));
        for (const identity of [world.identity, ...others])
          expect(compiled.resolve(identity)).toEqual(resolve(stateOf(world), identity));
      }),
      RUNS,
    );
  });

  it('answers a pinned version or a published version, never anything else', () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        const target = resolve(stateOf(world), world.identity);
        if (!target) return;
        const source = target.pinned ? world.pins : world.publishes;
        expect(source.map((x) => x.version)).toContain(target.version);
        if (!target.pinned) expect(visibleVersions(stateOf(world), world.identity)).toContain(target.version);
      }),
      RUNS,
    );
  });

  it('a publish whose scope does not match the identity never changes the answer', () => {
    const nonMatching = fc
      .tuple(scopeArb, fc.constantFrom(...KEYS), versionArb)
      .map(([scope, key, version]): ModelPublish => {
        // Force one constraint to a value no identity has, keeping at most one constraint per key.
        const model = scopeOf([...scope.constraints.filter(([k]) => k !== key), [key, FOREIGN_VALUE]]);
        return { model, scope: model.text, version: version + 8, visibleAt: 0 };
      });
    fc.assert(
      fc.property(worldArb, nonMatching, (world, extra) => {
        expect(modelMatches(extra.model, world.identity)).toBe(false);
        const widened = { ...world, publishes: [...world.publishes, extra] };
        expect(resolveWorld(widened)).toEqual(resolveWorld(world));
      }),
      RUNS,
    );
  });

  it('a matching publish of a higher version becomes the unpinned answer', () => {
    fc.assert(
      fc.property(
        worldArb,
        fc.array(fc.constantFrom(...KEYS)),
        fc.integer({ min: 1, max: 3 }),
        (world, keys, step) => {
          // A scope built only from keys the identity has, with the identity's values, always matches.
          const present = [...new Set(keys)].filter((k) => world.identity[k] !== undefined);
          const model = scopeOf(present.map((k): Constraint => [k, world.identity[k]!]));
          const before = resolve(stateOf(world), world.identity);
          const unpinned = resolve({ pins: [], publishes: world.publishes }, world.identity);
          const version = (unpinned?.version ?? 0) + step;
          const widened = {
            ...world,
            publishes: [...world.publishes, { model, scope: model.text, version, visibleAt: 0 }],
          };
          const after = resolve(stateOf(widened), world.identity);
          if (before?.pinned) expect(after).toEqual(before);
          else expect(after).toMatchObject({ version, pinned: false });
          expect(resolve({ pins: [], publishes: widened.publishes }, world.identity)?.version).toBe(version);
        },
      ),
      RUNS,
    );
  });

  it('without pins, the answer is the highest visible version', () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        const state = { pins: [], publishes: world.publishes };
        const target = resolve(state, world.identity);
        const visible = visibleVersions(state, world.identity);
        expect(target?.version).toBe(visible[0]);
        expect(target?.pinned ?? false).toBe(false);
        expect(visible).toEqual([...new Set(visible)].sort((a, b) => b - a));
      }),
      RUNS,
    );
  });

  it('does not depend on the order of the pins or publishes', () => {
    const shuffled = worldArb.chain((world) =>
      fc.tuple(
        fc.constant(world),
        fc.shuffledSubarray([...world.pins], { minLength: world.pins.length, maxLength: world.pins.length }),
        fc.shuffledSubarray([...world.publishes], {
          minLength: world.publishes.length,
          maxLength: world.publishes.length,
        }),
      ),
    );
    fc.assert(
      fc.property(shuffled, ([world, pins, publishes]) => {
        expect(resolveWorld({ ...world, pins, publishes })).toEqual(resolveWorld(world));
        expect(visibleVersions({ pins, publishes }, world.identity)).toEqual(
          visibleVersions(stateOf(world), world.identity),
        );
      }),
      RUNS,
    );
  });
});
