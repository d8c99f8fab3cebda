import { describe, expect, it } from 'vitest';
import { validateDocument } from '../../../client/src/mesh/index.js';
import { routesDoc, tweak } from './fixtures.js';
import { issuesOf, pathsOf } from './support.js';

const KIND = 'mesh.routes.v1';

describe('mesh.routes.v1 schema', () => {
  it('accepts a complete document and returns it typed', () => {
    const doc = validateDocument(KIND, routesDoc());
    expect(doc.virtualService).toBe('inventory.prod.svc');
    expect(doc.router.routes.map((r) => r.name)).toEqual([
      'catch-all',
      'items-canary',
      'items-beta',
      'health',
    ]);
  });

  it('accepts a document with no routes (every request then misses)', () => {
    expect(
      validateDocument(
        KIND,
        tweak(routesDoc(), (d) => (d.router.routes = [])),
      ).router.routes,
    ).toEqual([]);
  });

  it('rejects unknown fields at the path of the field itself', () => {
    const doc = tweak(routesDoc(), (d) => {
      (d.router.routes[1] as Record<string, unknown>).weight = 5;
      (d.virtualNodes[0]!.endpoints[0] as Record<string, unknown>).zone = 'a';
      (d as Record<string, unknown>).extra = true;
    });
    expect(pathsOf(KIND, doc).sort()).toEqual([
      'extra',
      'router.routes.1.weight',
      'virtualNodes.0.endpoints.0.zone',
    ]);
  });

  it('rejects a wrong kind', () => {
    expect(pathsOf(KIND, { ...routesDoc(), kind: 'mesh.policy.v1' })).toEqual(['kind']);
  });

  it('requires exactly one of prefix and path', () => {
    const both = tweak(routesDoc(), (d) => (d.router.routes[3]!.match.prefix = '/h'));
    expect(issuesOf(KIND, both)).toEqual([
      { path: 'router.routes.3.match', message: expect.stringContaining('exactly one of prefix, path') },
    ]);
    const neither = tweak(routesDoc(), (d) => delete d.router.routes[3]!.match.path);
    expect(pathsOf(KIND, neither)).toEqual(['router.routes.3.match']);
  });

  it('requires paths to be absolute and free of query strings', () => {
    const doc = tweak(routesDoc(), (d) => {
      d.router.routes[0]!.match.prefix = 'items';
      d.router.routes[3]!.match.path = '/healthz?full=1';
    });
    expect(pathsOf(KIND, doc)).toEqual(['router.routes.0.match.prefix', 'router.routes.3.match.path']);
  });

  it('requires exactly one condition per header matcher', () => {
    const doc = tweak(routesDoc(), (d) => {
      d.router.routes[2]!.match.headers = [{ name: 'x-a', exact: 'a', regex: 'a' }, { name: 'x-b' }];
    });
    expect(pathsOf(KIND, doc)).toEqual([
      'router.routes.2.match.headers.0',
      'router.routes.2.match.headers.1',
    ]);
  });

  it('rejects bad names, methods, weights, ports and hosts with their paths', () => {
    const doc = tweak(routesDoc(), (d) => {
      d.router.routes[0]!.name = 'bad name!';
      (d.router.routes[1]!.match.methods as string[]) = ['GET', 'FETCH'];
      d.router.routes[1]!.action.weightedTargets[1]!.weight = 1001;
      d.router.routes[2]!.action.weightedTargets[0]!.weight = -1;
      d.virtualNodes[1]!.endpoints[0]!.port = 70000;
      d.virtualNodes[0]!.endpoints[0]!.host = 'not a host';
    });
    expect(pathsOf(KIND, doc).sort()).toEqual(
      [
        'router.routes.0.name',
        'router.routes.1.match.methods.1',
        'router.routes.1.action.weightedTargets.1.weight',
        'router.routes.2.action.weightedTargets.0.weight',
        'virtualNodes.1.endpoints.0.port',
        'virtualNodes.0.endpoints.0.host',
      ].sort(),
    );
  });

  it('accepts endpoints as host and port or as a URL, not both or neither', () => {
    const doc = tweak(routesDoc(), (d) => {
      d.virtualNodes[0]!.endpoints = [
        { url: 'http://[::1]:9000' },
        { host: 'a.internal', port: 80, url: 'http://a.internal' },
        { host: 'b.internal' },
        { url: 'ftp://c.internal' },
        { url: 'http://d.internal/path' },
      ];
    });
    expect(pathsOf(KIND, doc)).toEqual([
      'virtualNodes.0.endpoints.1',
      'virtualNodes.0.endpoints.2',
      'virtualNodes.0.endpoints.3.url',
      'virtualNodes.0.endpoints.4.url',
    ]);
  });

  it('requires whole numbers for limits and bounds on percentages', () => {
    const doc = tweak(routesDoc(), (d) => {
      d.virtualNodes[0]!.connectionPool = { maxConnections: 1.5 };
      d.virtualNodes[0]!.outlierDetection = { maxEjectionPercent: 101 };
      d.rateLimit = { requestsPerSecond: 0 };
    });
    expect(pathsOf(KIND, doc)).toEqual([
      'virtualNodes.0.connectionPool.maxConnections',
      'virtualNodes.0.outlierDetection.maxEjectionPercent',
      'rateLimit.requestsPerSecond',
    ]);
  });

  it('rejects unknown retry events', () => {
    const doc = tweak(routesDoc(), (d) => {
      (d.router.routes[1]!.retryPolicy!.retryOn as string[]) = ['5xx', 'sometimes'];
    });
    expect(pathsOf(KIND, doc)).toEqual(['router.routes.1.retryPolicy.retryOn.1']);
  });

  it('summarises the first problem in the error message', () => {
    expect(() => validateDocument(KIND, { kind: KIND })).toThrow(
      /invalid mesh\.routes\.v1 document \(virtualService: .* and 2 more\)/,
    );
  });
});

describe('mesh.routes.v1 semantic checks', () => {
  it('names the exact target that refers to an undefined virtual node', () => {
    const doc = tweak(routesDoc(), (d) => {
      d.router.routes[1]!.action.weightedTargets[1]!.virtualNode = 'inventory-v3';
    });
    expect(issuesOf(KIND, doc)).toEqual([
      {
        path: 'router.routes.1.action.weightedTargets.1.virtualNode',
        message: "virtual node 'inventory-v3' is not defined in virtualNodes",
      },
    ]);
  });

  it('requires a positive weight sum but allows zero-weight targets', () => {
    const zeros = tweak(routesDoc(), (d) => {
      for (const t of d.router.routes[1]!.action.weightedTargets) t.weight = 0;
    });
    expect(pathsOf(KIND, zeros)).toEqual(['router.routes.1.action.weightedTargets']);
    const drained = tweak(routesDoc(), (d) => (d.router.routes[1]!.action.weightedTargets[0]!.weight = 0));
    expect(validateDocument(KIND, drained).router.routes[1]!.action.weightedTargets[0]!.weight).toBe(0);
  });

  it('reports duplicate names at the later occurrence', () => {
    const doc = tweak(routesDoc(), (d) => {
      d.router.routes[3]!.name = 'catch-all';
      d.virtualNodes[1]!.name = 'inventory-v1';
    });
    const issues = issuesOf(KIND, doc);
    expect(issues.map((i) => i.path)).toEqual(
      expect.arrayContaining(['router.routes.3.name', 'virtualNodes.1.name']),
    );
    expect(issues.find((i) => i.path === 'router.routes.3.name')!.message).toContain('router.routes.0.name');
  });

  it('rejects duplicate targets, methods, retry events and endpoints', () => {
    const doc = tweak(routesDoc(), (d) => {
      d.router.routes[1]!.action.weightedTargets[1]!.virtualNode = 'inventory-v1';
      d.router.routes[1]!.match.methods = ['GET', 'GET'];
      d.router.routes[1]!.retryPolicy!.retryOn = ['5xx', '5xx'];
      d.virtualNodes[1]!.endpoints = [{ host: 'x.internal', port: 80 }, { url: 'http://x.internal' }];
    });
    expect(pathsOf(KIND, doc)).toEqual([
      'virtualNodes.1.endpoints.1',
      'router.routes.1.action.weightedTargets.1.virtualNode',
      'router.routes.1.match.methods.1',
      'router.routes.1.retryPolicy.retryOn.1',
    ]);
  });

  it('requires perTryTimeoutMs not to exceed the route timeout, explicit or default', () => {
    const explicit = tweak(routesDoc(), (d) => (d.router.routes[1]!.retryPolicy!.perTryTimeoutMs = 2001));
    expect(pathsOf(KIND, explicit)).toEqual(['router.routes.1.retryPolicy.perTryTimeoutMs']);
    const implicit = tweak(routesDoc(), (d) => {
      delete d.router.routes[1]!.timeoutMs;
      d.router.routes[1]!.retryPolicy!.perTryTimeoutMs = 20_000;
    });
    expect(issuesOf(KIND, implicit)[0]!.message).toContain('15000, the default');
    const equal = tweak(routesDoc(), (d) => (d.router.routes[1]!.retryPolicy!.perTryTimeoutMs = 2000));
    expect(() => validateDocument(KIND, equal)).not.toThrow();
  });

  it('requires the backoff cap to be at least the base interval', () => {
    const doc = tweak(routesDoc(), (d) => {
      d.router.routes[1]!.retryPolicy!.backoff = { baseIntervalMs: 100, maxIntervalMs: 50 };
    });
    expect(pathsOf(KIND, doc)).toEqual(['router.routes.1.retryPolicy.backoff.maxIntervalMs']);
  });

  it('rejects unsafe or unsupported header regexes at the regex path', () => {
    const doc = tweak(routesDoc(), (d) => {
      d.router.routes[2]!.match.headers = [
        { name: 'x-a', regex: '^(a+)+$' },
        { name: 'x-b', regex: '(x|xy)*z' },
        { name: 'x-c', regex: '(?<=a)b' },
        { name: 'x-d', regex: '(unclosed' },
        { name: 'x-e', regex: '^v[0-9]+$' },
      ];
    });
    const issues = issuesOf(KIND, doc);
    expect(issues.map((i) => i.path)).toEqual([
      'router.routes.2.match.headers.0.regex',
      'router.routes.2.match.headers.1.regex',
      'router.routes.2.match.headers.2.regex',
      'router.routes.2.match.headers.3.regex',
    ]);
    expect(issues[0]!.message).toContain('nested quantifiers');
  });

  it('caps header regex length', () => {
    const doc = tweak(routesDoc(), (d) => {
      d.router.routes[2]!.match.headers = [{ name: 'x-a', regex: 'a'.repeat(257) }];
    });
    expect(pathsOf(KIND, doc)).toEqual(['router.routes.2.match.headers.0.regex']);
  });

  it('rejects a route that an identical, earlier-tried match makes unreachable', () => {
    const doc = tweak(routesDoc(), (d) => {
      d.router.routes.push({
        name: 'items-canary-copy',
        priority: 5,
        match: { prefix: '/items/', methods: ['HEAD', 'GET'] },
        action: { weightedTargets: [{ virtualNode: 'inventory-v2', weight: 1 }] },
      });
    });
    // The copy has a priority, so it is tried first and the original (index 1) is the unreachable one.
    expect(issuesOf(KIND, doc)).toEqual([
      {
        path: 'router.routes.1.match',
        message: expect.stringContaining("route 'items-canary-copy' (router.routes.4)"),
      },
    ]);
  });
});
