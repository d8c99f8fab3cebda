import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compareRoutePrecedence,
  compileRoutes,
  type MeshRoute,
  NO_HEADERS,
  type RoutesDocumentInput,
  routesDocumentSchema,
} from '../../../client/src/mesh/index.js';

/** The specification of route(): sort by precedence, take the first route whose conditions hold. */
function naiveRoute(routes: readonly MeshRoute[], method: string, path: string): string | undefined {
  const ordered = routes.map((route, index) => ({ route, index }));
  ordered.sort((a, b) => compareRoutePrecedence(a.route, a.index, b.route, b.index));
  const found = ordered.find(({ route: { match } }) => {
    const pathOk = match.path !== undefined ? path === match.path : path.startsWith(match.prefix!);
    return pathOk && (match.methods === undefined || (match.methods as string[]).includes(method));
  });
  return found?.route.name;
}

describe('route table against the naive model', () => {
  it('picks the same route as a linear scan in precedence order (property)', () => {
    // Paths from a tiny alphabet so prefixes share text and the radix tree splits a lot.
    const segment = fc.string({ unit: fc.constantFrom('a', 'b', '/', '1'), maxLength: 5 });
    const path = segment.map((s) => `/${s}`);
    const route = fc.record({
      exact: fc.boolean(),
      text: path,
      priority: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
      methods: fc.option(fc.subarray(['GET', 'POST', 'PUT'] as const, { minLength: 1 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(
        fc.array(route, { minLength: 1, maxLength: 25 }),
        fc.array(fc.tuple(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'), path), {
          minLength: 1,
          maxLength: 20,
        }),
        (specs, requests) => {
          const routes = specs.map((s, i) => ({
            name: `r${i}`,
            ...(s.priority === undefined ? {} : { priority: s.priority }),
            match: {
              ...(s.exact ? { path: s.text } : { prefix: s.text }),
              ...(s.methods ? { methods: [...s.methods] } : {}),
            },
            action: { weightedTargets: [{ virtualNode: 'n', weight: 1 }] },
          }));
          const input: RoutesDocumentInput = {
            kind: 'mesh.routes.v1',
            virtualService: 'model',
            router: { routes },
            virtualNodes: [{ name: 'n', endpoints: [{ host: 'n.internal', port: 80 }] }],
          };
          // Shape only: validation would reject identical matches, but the compiler must order them right too.
          const doc = routesDocumentSchema.parse(input);
          const snap = compileRoutes(doc);
          for (const [method, p] of requests)
            expect(snap.route(method, p, NO_HEADERS)?.route).toBe(naiveRoute(doc.router.routes, method, p));
        },
      ),
      { seed: 99, numRuns: 400 },
    );
  });
});
