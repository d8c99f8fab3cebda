import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileMeshPayload } from '../../client/src/mesh/index.js';
import { SidecarCore } from '../../client/src/sidecar/core.js';
import { closeAll, type Listener, listen, stopAccepting } from '../../client/src/sidecar/listeners.js';
import { getJson, rawExchange, sendMany, spawnBlackhole } from './sidecar-harness.js';

/**
 * The sidecar's traffic behaviours against real upstream servers over loopback (undici pools, real
 * sockets, real timeouts): the in-process core behind real listeners, with snapshots set directly.
 */

type Behaviour = (req: IncomingMessage, res: ServerResponse, body: string) => void;

const servers: Server[] = [];
let core: SidecarCore;
let outbound: Listener;
let inbound: Listener;
let version = 0;
let ok: number;
let failing: number;
let hanging: number;
let refused: number;

async function upstream(behaviour: Behaviour): Promise<number> {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => behaviour(req, res, body));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Sets a one-route snapshot; returns the version it is served as. */
function routes(
  route: Record<string, unknown>,
  nodes: Record<string, unknown>[],
  extra: Record<string, unknown> = {},
) {
  version++;
  const doc = {
    kind: 'mesh.routes.v1',
    virtualService: 'proxy.e2e',
    router: { routes: [{ match: { prefix: '/' }, ...route }] },
    virtualNodes: nodes,
    ...extra,
  };
  core.setRoutes(compileMeshPayload('mesh.routes.v1', JSON.stringify(doc)), { version });
  return version;
}

const endpoint = (port: number) => ({ host: '127.0.0.1', port });
const to = (node: string) => ({ weightedTargets: [{ virtualNode: node, weight: 1 }] });

beforeAll(async () => {
  ok = await upstream((req, res, body) => {
    const slow = /ms=(\d+)/.exec(req.url ?? '');
    if (req.url?.startsWith('/orders/note')) {
      // Node writes header strings as latin1: these are the UTF-8 bytes of the value.
      res.writeHead(200, { 'x-note': Buffer.from('café €', 'utf8').toString('latin1') });
      res.end(`note:${body}`);
      return;
    }
    const answer = () =>
      res
        .writeHead(200, { 'x-attempt': String(req.headers['x-meshpress-attempt']) })
        .end(
          body
            ? `ok:${body}`
            : `ok:${req.headers['x-meshpress-app']}:${req.headers['x-meshpress-principal'] ?? ''}`,
        );
    if (slow) setTimeout(answer, Number(slow[1]));
    else answer();
  });
  failing = await upstream((req, res, body) => {
    // Fails every first attempt; later attempts succeed and echo the body they received.
    if (req.headers['x-meshpress-attempt'] === '1') res.writeHead(503).end('unavailable');
    else res.writeHead(200).end(`retried:${body}`);
  });
  hanging = await upstream(() => undefined);
  // A port nothing listens on: connections are refused.
  refused = await upstream(() => undefined);
  const last = servers.pop()!;
  await new Promise((r) => last.close(r));
  core = new SidecarCore({
    app: 'orders',
    localApp: { port: ok, timeoutMs: 2_000 },
  });
  outbound = await listen(core.handleOutbound, '127.0.0.1', 0);
  inbound = await listen(core.handleInbound, '127.0.0.1', 0);
});

afterAll(async () => {
  for (const l of [outbound, inbound].filter(Boolean)) {
    closeAll(l);
    await stopAccepting(l);
  }
  await core?.close();
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

describe('sidecar outbound behaviour against real upstreams', { timeout: 60_000 }, () => {
  it('retries a 503 under gateway-error and sends the request body again', async () => {
    routes(
      {
        name: 'retrying',
        action: to('flaky'),
        retryPolicy: { maxRetries: 1, perTryTimeoutMs: 2_000, retryOn: ['gateway-error'] },
      },
      [{ name: 'flaky', endpoints: [endpoint(failing)] }],
    );
    const res = await fetch(`${outbound.url}/orders`, { method: 'POST', body: 'order-17' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('retried:order-17');
    expect(res.headers.get('x-meshpress-attempts')).toBe('2');
    expect(core.stats.route('retrying').retries).toBe(1);
  });

  it('abandons an attempt at its per-try timeout and retries on the next endpoint', async () => {
    routes(
      {
        name: 'per-try',
        action: to('mixed'),
        retryPolicy: { maxRetries: 1, perTryTimeoutMs: 200, retryOn: ['reset'] },
        timeoutMs: 5_000,
      },
      [{ name: 'mixed', endpoints: [endpoint(hanging), endpoint(ok)] }],
    );
    const started = Date.now();
    const res = await fetch(`${outbound.url}/items`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-meshpress-attempts')).toBe('2');
    expect(res.headers.get('x-attempt')).toBe('2');
    expect(Date.now() - started).toBeGreaterThanOrEqual(195);
  });

  it('answers 504 UPSTREAM_TIMEOUT at the route timeout', async () => {
    const v = routes({ name: 'hangs', action: to('stuck'), timeoutMs: 300 }, [
      { name: 'stuck', endpoints: [endpoint(hanging)] },
    ]);
    const started = Date.now();
    const res = await getJson(`${outbound.url}/x`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(295);
    expect(res.status).toBe(504);
    expect(res.body.error.code).toBe('UPSTREAM_TIMEOUT');
    expect(res.headers.get('x-meshpress-error')).toBe('UPSTREAM_TIMEOUT');
    expect(res.headers.get('x-meshpress-routes-version')).toBe(String(v));
    expect(res.headers.get('x-meshpress-target')).toBe('stuck');
  });

  it('retries a refused connection on another endpoint, and answers 503 UPSTREAM_CONNECT_FAILURE when none is left', async () => {
    routes(
      {
        name: 'connect',
        action: to('half-down'),
        retryPolicy: { maxRetries: 1, perTryTimeoutMs: 1_000, retryOn: ['connect-failure'] },
      },
      [{ name: 'half-down', endpoints: [endpoint(refused), endpoint(ok)] }],
    );
    const res = await fetch(`${outbound.url}/x`);
    expect([res.status, res.headers.get('x-meshpress-attempts')]).toEqual([200, '2']);

    routes({ name: 'down', action: to('all-down') }, [{ name: 'all-down', endpoints: [endpoint(refused)] }]);
    const down = await getJson(`${outbound.url}/x`);
    expect(down.status).toBe(503);
    expect(down.body.error.code).toBe('UPSTREAM_CONNECT_FAILURE');
  });

  it('a per-try timeout while the connection is still being made ends the attempt and frees its circuit slot at once', async () => {
    const blackhole = await spawnBlackhole();
    try {
      routes(
        {
          name: 'connecting',
          action: to('blackholed'),
          retryPolicy: { maxRetries: 1, perTryTimeoutMs: 100, retryOn: ['reset'] },
        },
        [
          {
            name: 'blackholed',
            endpoints: [endpoint(blackhole.port)],
            connectionPool: { maxConnections: 2 },
          },
        ],
      );
      const started = Date.now();
      const res = await getJson(`${outbound.url}/x`);
      expect([res.status, res.body.error.code]).toEqual([504, 'UPSTREAM_TIMEOUT']);
      expect(res.headers.get('x-meshpress-attempts')).toBe('2');
      expect(Date.now() - started).toBeLessThan(2_000);
      // Both attempts are still connecting as far as undici knows; neither holds a slot.
      const circuit = core.nodes.get('blackholed').circuit;
      expect([circuit.active, circuit.pending]).toEqual([0, 0]);
    } finally {
      await blackhole.stop();
    }
  });

  it('circuit breaking: beyond maxConnections + maxPendingRequests, 503 OVERFLOW naming the limit', async () => {
    routes({ name: 'narrow', action: to('small') }, [
      {
        name: 'small',
        endpoints: [endpoint(ok)],
        connectionPool: { maxConnections: 1, maxPendingRequests: 1 },
      },
    ]);
    const answers = await sendMany(outbound.url, 5, { path: '/slow?ms=300', concurrency: 5 });
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([200, 200, 503, 503, 503]);
    const refusedOne = answers.find((a) => a.status === 503)!;
    expect(refusedOne.headers['x-meshpress-error']).toBe('OVERFLOW');
    expect(refusedOne.headers['x-meshpress-overflow']).toBe('max-pending-requests');
    expect(JSON.parse(refusedOne.body).error.details).toEqual({
      virtualNode: 'small',
      limit: 'max-pending-requests',
    });
    expect(core.stats.target('small').overflow).toBe(3);
  });

  it('ejects an endpoint after consecutive 5xx; traffic then goes to the healthy one and /admin lists it', async () => {
    const bad = await upstream((_req, res) => res.writeHead(500).end('broken'));
    routes({ name: 'outliers', action: to('pair') }, [
      {
        name: 'pair',
        endpoints: [endpoint(bad), endpoint(ok)],
        outlierDetection: { consecutiveErrors: 2, baseEjectionMs: 60_000, maxEjectionPercent: 50 },
      },
    ]);
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${outbound.url}/x`);
      await res.text();
      statuses.push(res.status);
    }
    // Round robin: bad, ok, bad (second error: ejected), then only ok.
    expect(statuses).toEqual([500, 200, 500, 200, 200, 200, 200, 200, 200, 200]);
    const admin = await listen(core.handleAdmin, '127.0.0.1', 0);
    try {
      const view = (await getJson(`${admin.url}/admin`)).body;
      expect(view.ejected).toEqual([
        expect.objectContaining({ virtualNode: 'pair', endpoint: `http://127.0.0.1:${bad}`, ejections: 1 }),
      ]);
      expect(view.targets.pair).toMatchObject({ errors: 2, ejections: 1 });
    } finally {
      closeAll(admin);
      await stopAccepting(admin);
    }
  });

  it('rate limits with 429 and retry-after once the burst is spent', async () => {
    routes({ name: 'limited', action: to('plain') }, [{ name: 'plain', endpoints: [endpoint(ok)] }], {
      rateLimit: { requestsPerSecond: 0.5, burst: 3 },
    });
    const answers = await sendMany(outbound.url, 5, { concurrency: 1 });
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429, 429]);
    expect(answers[3]!.headers['retry-after']).toBe('2');
    expect(answers[3]!.headers['x-meshpress-route']).toBe('limited');
    expect(JSON.parse(answers[3]!.body).error.code).toBe('RATE_LIMITED');
  });

  it('answers 404 ROUTE_NOT_FOUND in the meshpress error shape for an unmatched request', async () => {
    const v = routes({ name: 'api-only', match: { prefix: '/api/' }, action: to('plain') }, [
      { name: 'plain', endpoints: [endpoint(ok)] },
    ]);
    const res = await getJson(`${outbound.url}/elsewhere?q=1`);
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ code: 'ROUTE_NOT_FOUND' });
    expect(res.headers.get('x-meshpress-routes-version')).toBe(String(v));
    expect(res.headers.get('x-meshpress-route')).toBeNull();
  });

  it('stamps its own app on upstream requests, whatever the caller claims', async () => {
    routes({ name: 'stamp', action: to('plain') }, [{ name: 'plain', endpoints: [endpoint(ok)] }]);
    const res = await fetch(`${outbound.url}/who`, {
      headers: { 'x-meshpress-app': 'admin-console', 'x-meshpress-principal': 'root' },
    });
    expect(await res.text()).toBe('ok:orders:');
  });

  it('a request undici refuses to send (a repeated Host) is answered 400 INVALID_REQUEST: not retried, not charged to the endpoint', async () => {
    routes(
      {
        name: 'refused-locally',
        action: to('single'),
        retryPolicy: { maxRetries: 2, perTryTimeoutMs: 2_000, retryOn: ['5xx'] },
      },
      [{ name: 'single', endpoints: [endpoint(ok)], outlierDetection: {} }],
    );
    for (let i = 0; i < 2; i++) {
      const answer = await rawExchange(
        outbound.url,
        'GET /orders HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n',
      );
      expect([answer.status, answer.code]).toEqual([400, 'INVALID_REQUEST']);
      expect(answer.body).toContain('duplicate host header');
      expect(answer.head).toContain('x-meshpress-attempts: 1');
    }
    expect(core.stats.target('single')).toMatchObject({ errors: 0, ejections: 0 });
    expect(core.stats.route('refused-locally').retries).toBe(0);
    const next = await fetch(`${outbound.url}/orders`);
    expect([next.status, await next.text()]).toEqual([200, 'ok:orders:']);
  });
});

describe('sidecar inbound guard against a real local app', () => {
  it('denies everything before a policy arrives, then enforces the snapshot (STRICT needs a principal)', async () => {
    const before = await getJson(`${inbound.url}/orders`, { 'x-meshpress-app': 'web' });
    expect(before.status).toBe(403);
    expect(before.body.error.message).toContain('no policy document');

    core.setPolicy(
      compileMeshPayload(
        'mesh.policy.v1',
        JSON.stringify({
          kind: 'mesh.policy.v1',
          service: 'orders',
          mtls: { mode: 'STRICT' },
          rules: [
            {
              name: 'web-reads',
              from: { apps: ['web'] },
              to: { methods: ['GET'], paths: [{ prefix: '/orders' }] },
              action: 'ALLOW',
            },
          ],
        }),
      ),
      { version: 5 },
    );
    const principal = { 'x-meshpress-principal': 'spiffe://e2e/web' };
    const allowed = await fetch(`${inbound.url}/orders/1`, {
      headers: { 'x-meshpress-app': 'web', ...principal },
    });
    expect([allowed.status, allowed.headers.get('x-meshpress-policy-version')]).toEqual([200, '5']);
    // The guard forwards the caller's headers to the local app as they came.
    expect(await allowed.text()).toBe('ok:web:spiffe://e2e/web');
    expect((await getJson(`${inbound.url}/orders/1`, { 'x-meshpress-app': 'web' })).status).toBe(403);
    expect((await getJson(`${inbound.url}/admin`, { 'x-meshpress-app': 'web', ...principal })).status).toBe(
      403,
    );
    const post = await fetch(`${inbound.url}/orders`, {
      method: 'POST',
      body: 'x',
      headers: { 'x-meshpress-app': 'web', ...principal },
    });
    expect(post.status).toBe(403);
    expect(core.stats.inbound).toMatchObject({ allowed: 1 });
  });

  it("passes the local app's header values byte for byte and its body whole", async () => {
    core.setPolicy(
      compileMeshPayload(
        'mesh.policy.v1',
        JSON.stringify({
          kind: 'mesh.policy.v1',
          service: 'orders',
          mtls: { mode: 'PERMISSIVE' },
          rules: [
            { name: 'web', from: { apps: ['web'] }, to: { paths: [{ prefix: '/orders' }] }, action: 'ALLOW' },
          ],
        }),
      ),
      { version: 6 },
    );
    const reply = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(`${inbound.url}/orders/note`, {
        headers: { 'x-meshpress-app': 'web', 'x-meshpress-principal': 'spiffe://e2e/web' },
      });
      req.on('response', resolve).on('error', reject).end();
    });
    let text = '';
    for await (const chunk of reply) text += chunk;
    expect(reply.statusCode).toBe(200);
    const i = reply.rawHeaders.findIndex((h) => h.toLowerCase() === 'x-note');
    expect(Buffer.from(reply.rawHeaders[i + 1]!, 'latin1').toString('utf8')).toBe('café €');
    expect(reply.headers['x-meshpress-policy-version']).toBe('6');
    expect(text).toBe('note:');
  });
});
