import type { PolicyDocumentInput, RoutesDocumentInput } from '../../../client/src/mesh/index.js';

/** mulberry32: a tiny seeded PRNG so statistical tests are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A small but complete routes document: canary split, header-routed beta, exact health path. */
export function routesDoc(): RoutesDocumentInput {
  return {
    kind: 'mesh.routes.v1',
    virtualService: 'inventory.prod.svc',
    router: {
      routes: [
        {
          name: 'catch-all',
          match: { prefix: '/' },
          action: { weightedTargets: [{ virtualNode: 'inventory-v1', weight: 1 }] },
        },
        {
          name: 'items-canary',
          match: { prefix: '/items/', methods: ['GET', 'HEAD'] },
          action: {
            weightedTargets: [
              { virtualNode: 'inventory-v1', weight: 90 },
              { virtualNode: 'inventory-v2', weight: 10 },
            ],
          },
          retryPolicy: { maxRetries: 2, perTryTimeoutMs: 500, retryOn: ['5xx', 'reset'] },
          timeoutMs: 2000,
        },
        {
          name: 'items-beta',
          match: { prefix: '/items/', headers: [{ name: 'X-Beta', exact: 'yes' }] },
          action: { weightedTargets: [{ virtualNode: 'inventory-v2', weight: 100 }] },
        },
        {
          name: 'health',
          match: { path: '/healthz' },
          action: { weightedTargets: [{ virtualNode: 'inventory-v1', weight: 1 }] },
        },
      ],
    },
    virtualNodes: [
      {
        name: 'inventory-v1',
        endpoints: [{ host: '10.0.0.1', port: 8080 }, { url: 'https://inventory-v1.internal' }],
        connectionPool: { maxConnections: 100 },
        outlierDetection: { consecutiveErrors: 3 },
      },
      { name: 'inventory-v2', endpoints: [{ host: 'inventory-v2.internal', port: 8080 }] },
    ],
    rateLimit: { requestsPerSecond: 250.5 },
  };
}

export function policyDoc(): PolicyDocumentInput {
  return {
    kind: 'mesh.policy.v1',
    service: 'payments',
    mtls: { mode: 'PERMISSIVE' },
    rules: [
      {
        name: 'no-admin-from-web',
        from: { apps: ['web'] },
        to: { paths: [{ prefix: '/admin/' }] },
        action: 'DENY',
      },
      {
        name: 'web-reads',
        from: { apps: ['web', 'mobile-bff'] },
        to: { methods: ['GET', 'HEAD'] },
        action: 'ALLOW',
      },
      {
        name: 'billing-writes',
        from: { apps: ['billing'], principals: ['spiffe://prod/ns/billing/sa/billing'] },
        to: { paths: [{ prefix: '/charges' }, { exact: '/refunds' }], methods: ['POST'] },
        action: 'ALLOW',
      },
      {
        name: 'ops-any-authenticated',
        from: { principals: ['*'] },
        to: { paths: [{ exact: '/status' }] },
        action: 'ALLOW',
      },
    ],
  };
}

/** Deep copy with a change applied, so each test starts from the valid fixture. */
export function tweak<T>(doc: T, change: (d: T) => void): T {
  const copy = structuredClone(doc);
  change(copy);
  return copy;
}
