import { describe, expect, it } from 'vitest';
import {
  compileRoutes,
  DEFAULT_MESH_MAX_PENDING_REQUESTS,
  DEFAULT_MESH_OUTLIER_INTERVAL_MS,
  DEFAULT_MESH_ROUTE_PRIORITY,
  DEFAULT_MESH_ROUTE_TIMEOUT_MS,
  EMPTY_ROUTES_SNAPSHOT,
  type HeaderLookup,
  NO_HEADERS,
  pickTarget,
  type RoutesDocumentInput,
  validateDocument,
} from '../../../client/src/mesh/index.js';
import { routesDoc, tweak } from './fixtures.js';

const compile = (doc: RoutesDocumentInput) => compileRoutes(validateDocument('mesh.routes.v1', doc));
const headers =
  (values: Record<string, string>): HeaderLookup =>
  (name) =>
    values[name];

type RouteSpec = RoutesDocumentInput['router']['routes'][number];
const to = (node = 'inventory-v1') => ({ weightedTargets: [{ virtualNode: node, weight: 1 }] });
const withRoutes = (routes: RouteSpec[]) => compile(tweak(routesDoc(), (d) => (d.router.routes = routes)));

describe('RoutesSnapshot.route precedence', () => {
  it('prefers an exact path over any prefix at equal priority, whatever the document order', () => {
    const snap = withRoutes([
      { name: 'long-prefix', match: { prefix: '/api/v1/users' }, action: to() },
      { name: 'exact', match: { path: '/api/v1/users' }, action: to() },
    ]);
    expect(snap.route('GET', '/api/v1/users', NO_HEADERS)?.route).toBe('exact');
    expect(snap.route('GET', '/api/v1/users/7', NO_HEADERS)?.route).toBe('long-prefix');
  });

  it('prefers the longer prefix', () => {
    const snap = withRoutes([
      { name: 'root', match: { prefix: '/' }, action: to() },
      { name: 'api', match: { prefix: '/api/' }, action: to() },
      { name: 'api-v2', match: { prefix: '/api/v2/' }, action: to() },
    ]);
    expect(snap.route('GET', '/api/v2/x', NO_HEADERS)?.route).toBe('api-v2');
    expect(snap.route('GET', '/api/v1/x', NO_HEADERS)?.route).toBe('api');
    expect(snap.route('GET', '/other', NO_HEADERS)?.route).toBe('root');
    expect(snap.routes.map((r) => r.route)).toEqual(['api-v2', 'api', 'root']);
  });

  it('lets an explicit priority win over exactness and length; lower numbers first', () => {
    const snap = withRoutes([
      { name: 'exact', match: { path: '/api/v2/x' }, action: to() },
      { name: 'p10', priority: 10, match: { prefix: '/api/' }, action: to() },
      { name: 'p2', priority: 2, match: { prefix: '/' }, action: to(), timeoutMs: 100 },
    ]);
    expect(snap.route('GET', '/api/v2/x', NO_HEADERS)?.route).toBe('p2');
    expect(snap.routes.map((r) => [r.route, r.priority])).toEqual([
      ['p2', 2],
      ['p10', 10],
      ['exact', DEFAULT_MESH_ROUTE_PRIORITY],
    ]);
  });

  it('keeps document order among otherwise equal routes', () => {
    const snap = withRoutes([
      { name: 'first', match: { prefix: '/a/', methods: ['GET'] }, action: to() },
      { name: 'second', match: { prefix: '/a/' }, action: to() },
    ]);
    expect(snap.route('GET', '/a/1', NO_HEADERS)?.route).toBe('first');
    expect(snap.route('POST', '/a/1', NO_HEADERS)?.route).toBe('second');
  });

  it('falls through to a lower-ranked route when a better one fails its method or headers', () => {
    const snap = compile(routesDoc());
    expect(snap.route('GET', '/items/1', NO_HEADERS)?.route).toBe('items-canary');
    expect(snap.route('POST', '/items/1', NO_HEADERS)?.route).toBe('catch-all');
    expect(snap.route('POST', '/items/1', headers({ 'x-beta': 'yes' }))?.route).toBe('items-beta');
    expect(snap.route('GET', '/healthz', NO_HEADERS)?.route).toBe('health');
    expect(snap.route('GET', '/healthz/deep', NO_HEADERS)?.route).toBe('catch-all');
  });

  it('treats prefixes as plain string prefixes and paths case-sensitively', () => {
    const snap = withRoutes([{ name: 'api', match: { prefix: '/api' }, action: to() }]);
    expect(snap.route('GET', '/apiary', NO_HEADERS)?.route).toBe('api');
    expect(snap.route('GET', '/API', NO_HEADERS)).toBeUndefined();
    expect(snap.route('GET', '/ap', NO_HEADERS)).toBeUndefined();
  });

  it('ignores the query string', () => {
    const snap = compile(routesDoc());
    expect(snap.route('GET', '/healthz?verbose=1', NO_HEADERS)?.route).toBe('health');
  });

  it('returns undefined when nothing matches', () => {
    const snap = withRoutes([{ name: 'a', match: { prefix: '/a' }, action: to() }]);
    expect(snap.route('GET', '/b', NO_HEADERS)).toBeUndefined();
    expect(snap.route('GET', '', NO_HEADERS)).toBeUndefined();
  });

  it('finds the right route among many prefixes sharing text (radix splits)', () => {
    const names = ['/svc', '/svc-1', '/svc-10', '/svc-100', '/svc-2', '/svd'];
    const snap = withRoutes(names.map((prefix, i) => ({ name: `r${i}`, match: { prefix }, action: to() })));
    const pick = (p: string) => snap.route('GET', p, NO_HEADERS)?.match.prefix;
    expect(pick('/svc-1001')).toBe('/svc-100');
    expect(pick('/svc-10x')).toBe('/svc-10');
    expect(pick('/svc-19')).toBe('/svc-1');
    expect(pick('/svc-3')).toBe('/svc');
    expect(pick('/svd/x')).toBe('/svd');
    expect(pick('/sv')).toBeUndefined();
  });
});

describe('method and header matching', () => {
  it('matches only the listed methods; unlisted and unknown methods fall through', () => {
    const snap = withRoutes([
      { name: 'reads', match: { prefix: '/', methods: ['GET', 'HEAD'] }, action: to() },
    ]);
    expect(snap.route('HEAD', '/x', NO_HEADERS)?.route).toBe('reads');
    expect(snap.route('DELETE', '/x', NO_HEADERS)).toBeUndefined();
    expect(snap.route('get', '/x', NO_HEADERS)).toBeUndefined();
    expect(snap.route('PROPFIND', '/x', NO_HEADERS)).toBeUndefined();
  });

  it('lets a route without methods match any method, even unknown ones', () => {
    const snap = withRoutes([{ name: 'all', match: { prefix: '/' }, action: to() }]);
    expect(snap.route('PROPFIND', '/x', NO_HEADERS)?.route).toBe('all');
  });

  it('supports exact, prefix, regex and presence, looked up by lowercase name, all required', () => {
    const snap = withRoutes([
      {
        name: 'h',
        match: {
          prefix: '/',
          headers: [
            { name: 'X-Tenant', exact: 'acme' },
            { name: 'user-agent', prefix: 'Mozilla/' },
            { name: 'x-version', regex: '^v[0-9]+$' },
            { name: 'x-debug', present: true },
          ],
        },
        action: to(),
      },
    ]);
    const ok = { 'x-tenant': 'acme', 'user-agent': 'Mozilla/5.0', 'x-version': 'v12', 'x-debug': '' };
    expect(snap.route('GET', '/', headers(ok))?.route).toBe('h');
    expect(snap.route('GET', '/', headers({ ...ok, 'x-tenant': 'ACME' }))).toBeUndefined();
    expect(snap.route('GET', '/', headers({ ...ok, 'user-agent': 'curl/8' }))).toBeUndefined();
    expect(snap.route('GET', '/', headers({ ...ok, 'x-version': 'v12-beta' }))).toBeUndefined();
    const { 'x-debug': _, ...noDebug } = ok;
    expect(snap.route('GET', '/', headers(noDebug))).toBeUndefined();
  });

  it('inverts comparisons on present headers, and an absent header never satisfies a value condition', () => {
    const snap = withRoutes([
      {
        name: 'not-beta',
        match: { prefix: '/', headers: [{ name: 'x-track', exact: 'beta', invert: true }] },
        action: to(),
      },
    ]);
    expect(snap.route('GET', '/', headers({ 'x-track': 'stable' }))?.route).toBe('not-beta');
    expect(snap.route('GET', '/', headers({ 'x-track': 'beta' }))).toBeUndefined();
    expect(snap.route('GET', '/', NO_HEADERS)).toBeUndefined();
  });

  it('matches absence with present: false or an inverted present: true', () => {
    for (const matcher of [
      { name: 'x-internal', present: false },
      { name: 'x-internal', present: true, invert: true },
    ]) {
      const snap = withRoutes([{ name: 'public', match: { prefix: '/', headers: [matcher] }, action: to() }]);
      expect(snap.route('GET', '/', NO_HEADERS)?.route).toBe('public');
      expect(snap.route('GET', '/', headers({ 'x-internal': '1' }))).toBeUndefined();
    }
  });

  it('matches regexes anywhere in the value unless anchored, in linear time on hostile values', () => {
    const snap = withRoutes([
      {
        name: 'mobile',
        match: { prefix: '/', headers: [{ name: 'user-agent', regex: '.*Mobile.*Safari' }] },
        action: to(),
      },
    ]);
    expect(
      snap.route('GET', '/', headers({ 'user-agent': 'Mozilla/5.0 (iPhone) Mobile/15E148 Safari/604' }))
        ?.route,
    ).toBe('mobile');
    // A backtracking engine needs minutes for this value; the DFA reads it once.
    const hostile = 'Mobile'.repeat(2000);
    const started = performance.now();
    expect(snap.route('GET', '/', headers({ 'user-agent': hostile }))).toBeUndefined();
    expect(performance.now() - started).toBeLessThan(250);
  });
});

describe('RouteDecision contents', () => {
  const snap = compile(routesDoc());

  it('returns the same frozen decision object for every request of a route', () => {
    const a = snap.route('GET', '/items/1', NO_HEADERS);
    const b = snap.route('HEAD', '/items/2?x=1', NO_HEADERS);
    expect(a).toBe(b);
    expect(Object.isFrozen(a)).toBe(true);
  });

  it('carries targets with their nodes, retry policy and timeouts with defaults filled in', () => {
    const canary = snap.route('GET', '/items/1', NO_HEADERS)!;
    expect(canary.virtualService).toBe('inventory.prod.svc');
    expect(canary.timeoutMs).toBe(2000);
    expect(canary.retryPolicy).toEqual({
      maxRetries: 2,
      perTryTimeoutMs: 500,
      retryOn: ['5xx', 'reset'],
      backoff: { baseIntervalMs: 25, maxIntervalMs: 250 },
    });
    expect(canary.targets.map((t) => [t.virtualNode, t.weight, t.node.name])).toEqual([
      ['inventory-v1', 90, 'inventory-v1'],
      ['inventory-v2', 10, 'inventory-v2'],
    ]);
    const health = snap.route('GET', '/healthz', NO_HEADERS)!;
    expect(health.timeoutMs).toBe(DEFAULT_MESH_ROUTE_TIMEOUT_MS);
    expect(health.retryPolicy).toBeUndefined();
  });

  it('normalises endpoints and fills node defaults', () => {
    const v1 = snap.virtualNode('inventory-v1')!;
    expect(v1.endpoints).toEqual([
      { host: '10.0.0.1', port: 8080, scheme: 'http' },
      { host: 'inventory-v1.internal', port: 443, scheme: 'https' },
    ]);
    expect(v1.connectionPool).toEqual({
      maxConnections: 100,
      maxPendingRequests: DEFAULT_MESH_MAX_PENDING_REQUESTS,
      maxRequests: 1024,
    });
    expect(v1.outlierDetection).toEqual({
      consecutiveErrors: 3,
      intervalMs: DEFAULT_MESH_OUTLIER_INTERVAL_MS,
      baseEjectionMs: 30_000,
      maxEjectionPercent: 10,
    });
    expect(snap.virtualNode('inventory-v2')!.outlierDetection).toBeUndefined();
    expect(snap.virtualNode('nope')).toBeUndefined();
    expect(snap.rateLimit).toEqual({ requestsPerSecond: 250.5, burst: 251 });
  });

  it('picks targets in proportion to their weights over an even grid of draws', () => {
    const canary = snap.route('GET', '/items/1', NO_HEADERS)!;
    const counts = new Map<string, number>();
    for (let i = 0; i < 1000; i++) {
      const name = pickTarget(canary, (i + 0.5) / 1000).virtualNode;
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    expect(Object.fromEntries(counts)).toEqual({ 'inventory-v1': 900, 'inventory-v2': 100 });
  });
});

describe('snapshot immutability', () => {
  const snap = compile(routesDoc());

  it('throws on any mutation, however deep (ESM tests run in strict mode)', () => {
    const decision = snap.route('GET', '/items/1', NO_HEADERS)!;
    const attempts: (() => void)[] = [
      () => {
        (snap as unknown as { virtualService: string }).virtualService = 'other';
      },
      () => {
        (snap.routes as unknown as unknown[]).pop();
      },
      () => {
        (decision as unknown as { timeoutMs: number }).timeoutMs = 1;
      },
      () => {
        (decision.targets[0]! as unknown as { weight: number }).weight = 0;
      },
      () => {
        (decision.aliasTable.cut as number[])[0] = 0;
      },
      () => {
        (decision.targets[0]!.node.endpoints[0] as unknown as { port: number }).port = 1;
      },
      () => {
        (decision.match.methods as string[]).push('DELETE');
      },
      () => {
        (snap as unknown as { route: unknown }).route = () => undefined;
      },
    ];
    for (const attempt of attempts) expect(attempt).toThrow(TypeError);
    expect(snap.route('GET', '/items/1', NO_HEADERS)).toBe(decision);
  });

  it('does not freeze the document it was compiled from', () => {
    const doc = validateDocument('mesh.routes.v1', routesDoc());
    compileRoutes(doc);
    expect(Object.isFrozen(doc.router.routes[0])).toBe(false);
  });
});

describe('EMPTY_ROUTES_SNAPSHOT', () => {
  it('matches nothing, so callers need no null checks', () => {
    expect(EMPTY_ROUTES_SNAPSHOT.empty).toBe(true);
    expect(EMPTY_ROUTES_SNAPSHOT.route('GET', '/', NO_HEADERS)).toBeUndefined();
    expect(EMPTY_ROUTES_SNAPSHOT.routes).toEqual([]);
    expect(EMPTY_ROUTES_SNAPSHOT.virtualNode('x')).toBeUndefined();
    expect(Object.isFrozen(EMPTY_ROUTES_SNAPSHOT.routes)).toBe(true);
  });

  it('reports a compiled snapshot as not empty', () => {
    expect(compile(routesDoc()).empty).toBe(false);
  });
});
