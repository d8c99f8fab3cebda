import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../client/src/core/errors.js';
import {
  aliasNumerators,
  aliasPick,
  aliasProbabilities,
  buildAliasTable,
  compileRoutes,
  NO_HEADERS,
  pickTarget,
  validateDocument,
} from '../../../client/src/mesh/index.js';
import { routesDoc, seededRandom, tweak } from './fixtures.js';

describe('alias table', () => {
  it('encodes exactly weight / sum for every index (integer check, no tolerance)', () => {
    fc.assert(
      fc.property(
        fc
          .array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 10 })
          .filter((w) => w.some((x) => x > 0)),
        (weights) => {
          const table = buildAliasTable(weights);
          expect(aliasNumerators(table)).toEqual(weights.map((w) => w * weights.length));
          const total = weights.reduce((a, b) => a + b, 0);
          aliasProbabilities(table).forEach((p, i) => {
            expect(p).toBeCloseTo(weights[i]! / total, 12);
          });
        },
      ),
      { seed: 42, numRuns: 500 },
    );
  });

  it('never picks a zero-weight index, whatever the draw', () => {
    const table = buildAliasTable([0, 5, 0, 3, 0]);
    const rnd = seededRandom(7);
    const picked = new Set<number>();
    for (let i = 0; i < 50_000; i++) picked.add(aliasPick(table, rnd()));
    expect([...picked].sort()).toEqual([1, 3]);
    for (const edge of [0, 0.2, 0.4, 0.6, 0.8, 1 - Number.EPSILON])
      expect([1, 3]).toContain(aliasPick(table, edge));
  });

  it('clamps draws outside [0, 1) instead of failing', () => {
    const table = buildAliasTable([1, 2, 3]);
    for (const rnd of [-1, 1, 7, Number.NaN]) expect([0, 1, 2]).toContain(aliasPick(table, rnd));
  });

  it('rejects weights that cannot form a distribution', () => {
    for (const weights of [[], [0, 0], [-1, 2], [1.5, 1]])
      expect(() => buildAliasTable(weights)).toThrow(ValidationError);
  });
});

describe('pickTarget distribution', () => {
  it('stays within statistical bounds of the weights over 100k seeded draws', () => {
    const weights = [50, 30, 15, 5, 0];
    const snap = compileRoutes(
      validateDocument(
        'mesh.routes.v1',
        tweak(routesDoc(), (d) => {
          d.virtualNodes = weights.map((_, i) => ({
            name: `n${i}`,
            endpoints: [{ host: `n${i}.internal`, port: 80 }],
          }));
          d.router.routes = [
            {
              name: 'split',
              match: { prefix: '/' },
              action: { weightedTargets: weights.map((weight, i) => ({ virtualNode: `n${i}`, weight })) },
            },
          ];
        }),
      ),
    );
    const decision = snap.route('GET', '/', NO_HEADERS)!;
    const draws = 100_000;
    const counts = new Map<string, number>();
    const rnd = seededRandom(20240601);
    for (let i = 0; i < draws; i++) {
      const name = pickTarget(decision, rnd()).virtualNode;
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    weights.forEach((w, i) => {
      const p = w / 100;
      const observed = counts.get(`n${i}`) ?? 0;
      // Five standard deviations of a binomial count: a correct picker fails this about once in 3.5 million runs.
      const sigma = Math.sqrt(draws * p * (1 - p));
      expect(Math.abs(observed - draws * p)).toBeLessThanOrEqual(5 * sigma);
    });
    expect(counts.get('n4')).toBeUndefined();
  });
});
