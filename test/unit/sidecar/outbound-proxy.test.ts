import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../client/src/core/clock.js';
import { compileMeshPayload, NO_HEADERS, type RoutesSnapshot } from '../../../client/src/mesh/index.js';
import { Cancellation } from '../../../client/src/sidecar/cancellation.js';
import { NodeRegistry } from '../../../client/src/sidecar/node-registry.js';
import { type OutboundPlan, OutboundProxy } from '../../../client/src/sidecar/outbound-proxy.js';
import { SidecarStats } from '../../../client/src/sidecar/stats.js';
import type { UpstreamResponse } from '../../../client/src/sidecar/upstream.js';
import { deferred, exchangeFor, hang, reply, ScriptedUpstream, type UpstreamCall } from './fake-upstream.js';

/** A one-route snapshot sending everything to `node` at `host`; `rateLimit` in `extra` goes to the top level. */
function snapshot(
  node: string,
  host: string,
  extra: Record<string, unknown> = {},
  nodeExtra: Record<string, unknown> = {},
): RoutesSnapshot {
  const { rateLimit, ...routeExtra } = extra;
  return compileMeshPayload(
    'mesh.routes.v1',
    JSON.stringify({
      kind: 'mesh.routes.v1',
      virtualService: 'web',
      router: {
        routes: [
          {
            name: `to-${node}`,
            match: { prefix: '/' },
            action: { weightedTargets: [{ virtualNode: node, weight: 1 }] },
            ...routeExtra,
          },
        ],
      },
      virtualNodes: [{ name: node, endpoints: [{ host, port: 8080 }], ...nodeExtra }],
      ...(rateLimit ? { rateLimit } : {}),
    }),
  );
}

function setup(answer: (call: UpstreamCall) => Promise<UpstreamResponse>) {
  const clock = new ManualClock();
  const upstream = new ScriptedUpstream(answer);
  const stats = new SidecarStats();
  const nodes = new NodeRegistry(clock);
  const proxy = new OutboundProxy({
    clock,
    random: () => 0,
    upstream,
    nodes,
    stats,
    app: 'checkout',
    principal: 'spiffe://prod/checkout',
  });
  const request = {
    method: 'GET',
    path: '/items?x=1',
    headers: ['x-meshpress-app', 'forged', 'accept', '*/*'],
    body: undefined,
  };
  const run = (plan: OutboundPlan, controller = new Cancellation()) => {
    if (plan.kind !== 'forward') throw new Error(`expected a forward plan, got ${plan.kind}`);
    return proxy.execute(plan, { ...request, headers: request.headers.filter((_, i) => i >= 2) }, controller);
  };
  const flush = async () => {
    for (let i = 0; i < 20; i++) await Promise.resolve();
  };
  return { clock, upstream, stats, nodes, proxy, run, flush };
}

describe('OutboundProxy: per-request snapshot capture', () => {
  it('a request planned before a swap is sent by the snapshot it started with, and reports that version', async () => {
    const t = setup(() => reply(200, 'ok'));
    t.proxy.swap(snapshot('a', '10.0.0.1'), { version: 1 });
    const plan = t.proxy.plan('GET', '/items', NO_HEADERS);
    t.proxy.swap(snapshot('b', '10.0.0.2'), { version: 2 });
    const outcome = await t.run(plan);
    expect(outcome.kind).toBe('response');
    expect(t.upstream.calls.map((c) => c.host)).toEqual(['10.0.0.1']);
    expect(plan).toMatchObject({ decision: { route: 'to-a' }, target: { virtualNode: 'a' } });
    expect(plan.state.versionHeader).toBe('1');
    const next = t.proxy.plan('GET', '/items', NO_HEADERS);
    expect(next.state.versionHeader).toBe('2');
    expect(next).toMatchObject({ target: { virtualNode: 'b' } });
  });

  it('retries after a mid-flight swap go to the original snapshot’s node, with its retry policy', async () => {
    const first = deferred<UpstreamResponse>();
    const t = setup((call) =>
      call.header('x-meshpress-attempt') === '1' ? first.promise : reply(200, call.host),
    );
    const retrying = { retryPolicy: { maxRetries: 2, perTryTimeoutMs: 100, retryOn: ['5xx'] } };
    t.proxy.swap(snapshot('a', '10.0.0.1', retrying), { version: 7 });
    const pending = t.run(t.proxy.plan('GET', '/', NO_HEADERS));
    await t.flush();
    // The new snapshot has no retries and another node; the request in flight must not notice.
    t.proxy.swap(snapshot('b', '10.0.0.2'), { version: 8 });
    first.resolve(await reply(503, 'busy'));
    const outcome = await pending;
    expect(outcome).toMatchObject({ kind: 'response', status: 200, attempts: 2 });
    expect(t.upstream.calls.map((c) => c.host)).toEqual(['10.0.0.1', '10.0.0.1']);
  });

  it('the route timeout of the original snapshot applies even if a swap shortens it', async () => {
    const t = setup((call) => hang(call.signal));
    t.proxy.swap(snapshot('a', '10.0.0.1', { timeoutMs: 500 }), { version: 1 });
    const pending = t.run(t.proxy.plan('GET', '/', NO_HEADERS));
    t.proxy.swap(snapshot('a', '10.0.0.1', { timeoutMs: 50 }), { version: 2 });
    await t.clock.advanceAsync(499, 50);
    expect(t.upstream.calls[0]!.signal.aborted).toBe(false);
    await t.clock.advanceAsync(1);
    expect(await pending).toMatchObject({ kind: 'timeout' });
  });

  it('uses the rate limit of the snapshot the request started with, and a swap keeps the tokens', () => {
    const t = setup(() => reply(200, 'ok'));
    t.proxy.swap(snapshot('a', '10.0.0.1', { rateLimit: { requestsPerSecond: 1, burst: 2 } }), {
      version: 1,
    });
    expect(t.proxy.plan('GET', '/', NO_HEADERS).kind).toBe('forward');
    // Same limits republished: the bucket (one token left) carries over.
    t.proxy.swap(snapshot('a', '10.0.0.1', { rateLimit: { requestsPerSecond: 1, burst: 2 } }), {
      version: 2,
    });
    expect(t.proxy.plan('GET', '/', NO_HEADERS).kind).toBe('forward');
    const limited = t.proxy.plan('GET', '/', NO_HEADERS);
    expect(limited).toMatchObject({
      kind: 'rejected',
      rejection: { status: 429, code: 'RATE_LIMITED' },
      decision: { route: 'to-a' },
    });
    t.clock.advance(1_000);
    expect(t.proxy.plan('GET', '/', NO_HEADERS).kind).toBe('forward');
    t.proxy.swap(snapshot('a', '10.0.0.1'), { version: 3 });
    for (let i = 0; i < 10; i++) expect(t.proxy.plan('GET', '/', NO_HEADERS).kind).toBe('forward');
    expect(t.stats.route('to-a').rateLimited).toBe(1);
  });

  it('answers NO_ROUTES before the first snapshot and ROUTE_NOT_FOUND for an unmatched path', () => {
    const t = setup(() => reply(200, 'ok'));
    expect(t.proxy.plan('GET', '/', NO_HEADERS)).toMatchObject({
      kind: 'rejected',
      rejection: { status: 503, code: 'NO_ROUTES' },
    });
    t.proxy.swap(
      compileMeshPayload(
        'mesh.routes.v1',
        JSON.stringify({
          kind: 'mesh.routes.v1',
          virtualService: 'web',
          router: {
            routes: [
              {
                name: 'api',
                match: { prefix: '/api/' },
                action: { weightedTargets: [{ virtualNode: 'a', weight: 1 }] },
              },
            ],
          },
          virtualNodes: [{ name: 'a', endpoints: [{ host: '10.0.0.1', port: 80 }] }],
        }),
      ),
      { version: 4 },
    );
    const plan = t.proxy.plan('GET', '/other', NO_HEADERS);
    expect(plan).toMatchObject({ kind: 'rejected', rejection: { status: 404, code: 'ROUTE_NOT_FOUND' } });
    expect(plan.state.versionHeader).toBe('4');
  });

  it('stamps its own identity and the attempt number on upstream requests, dropping a forged caller app', async () => {
    const t = setup(() => reply(200, 'ok'));
    t.proxy.swap(snapshot('a', '10.0.0.1'), { version: 1 });
    await t.run(t.proxy.plan('GET', '/', NO_HEADERS));
    const call = t.upstream.calls[0]!;
    expect(call.header('x-meshpress-app')).toBe('checkout');
    expect(call.header('x-meshpress-principal')).toBe('spiffe://prod/checkout');
    expect(call.header('x-meshpress-attempt')).toBe('1');
    expect(call.request.headers.filter((h) => h === 'forged')).toEqual([]);
    expect(call.request.path).toBe('/items?x=1');
  });
});

describe('OutboundProxy: circuit breaking and outlier ejection', () => {
  it('overflows with OVERFLOW and the limit that was hit once a node’s requests are in use', async () => {
    const t = setup((call) => hang(call.signal));
    t.proxy.swap(
      snapshot(
        'a',
        '10.0.0.1',
        {},
        { connectionPool: { maxConnections: 1, maxPendingRequests: 1, maxRequests: 5 } },
      ),
      { version: 1 },
    );
    const inFlight = t.run(t.proxy.plan('GET', '/', NO_HEADERS));
    const queued = t.run(t.proxy.plan('GET', '/', NO_HEADERS));
    const refused = await t.run(t.proxy.plan('GET', '/', NO_HEADERS));
    expect(refused).toMatchObject({
      kind: 'local',
      rejection: {
        status: 503,
        code: 'OVERFLOW',
        headers: { 'x-meshpress-overflow': 'max-pending-requests' },
      },
    });
    expect(t.upstream.calls).toHaveLength(1);
    expect(t.stats.target('a').overflow).toBe(1);
    await t.clock.advanceAsync(15_000, 1_000);
    expect((await inFlight).kind).toBe('timeout');
    expect((await queued).kind).toBe('timeout');
  });

  it('a queued attempt proceeds when the connection in use is released', async () => {
    const first = deferred<UpstreamResponse>();
    const t = setup((call) => (t.upstream.calls.length === 1 ? first.promise : reply(200, call.host)));
    t.proxy.swap(snapshot('a', '10.0.0.1', {}, { connectionPool: { maxConnections: 1 } }), { version: 1 });
    const a = t.run(t.proxy.plan('GET', '/', NO_HEADERS));
    const b = t.run(t.proxy.plan('GET', '/', NO_HEADERS));
    await t.flush();
    expect(t.upstream.calls).toHaveLength(1);
    first.resolve(await reply(200, 'first'));
    const ra = await a;
    if (ra.kind !== 'response') throw new Error('expected a response');
    // The slot is held until the first body is consumed.
    await t.flush();
    expect(t.upstream.calls).toHaveLength(1);
    ra.response.body.discard();
    await new Promise<void>((resolve) => ra.response.body.onClose(resolve));
    expect((await b).kind).toBe('response');
    expect(t.upstream.calls).toHaveLength(2);
  });

  it('a retried 5xx whose body never ends is abandoned shortly after, releasing its connection slot', async () => {
    const t = setup((call) => {
      if (call.header('x-meshpress-attempt') !== '1') return reply(200, 'second');
      const driven = exchangeFor(call);
      driven.connect();
      driven.respond(503, 'the start of an error page');
      return driven.exchange.response;
    });
    t.proxy.swap(
      snapshot(
        'a',
        '10.0.0.1',
        { retryPolicy: { maxRetries: 1, perTryTimeoutMs: 1_000, retryOn: ['5xx'] } },
        { connectionPool: { maxConnections: 1 } },
      ),
      { version: 1 },
    );
    let settled = false;
    const pending = t.run(t.proxy.plan('GET', '/', NO_HEADERS)).finally(() => {
      settled = true;
    });
    // The retry waits for the first attempt's slot, which its discarded body holds until abandoned.
    for (let waited = 0; !settled && waited < 1_500; waited += 10) await t.clock.advanceAsync(10);
    const outcome = await pending;
    expect(outcome).toMatchObject({ kind: 'response', status: 200, attempts: 2 });
    if (outcome.kind !== 'response') throw new Error('expected a response');
    outcome.response.body.discard();
    await new Promise<void>((resolve) => outcome.response.body.onClose(resolve));
    outcome.settle();
    await t.clock.advanceAsync(60_000, 1_000);
    const circuit = t.nodes.get('a').circuit;
    expect([circuit.active, circuit.pending]).toEqual([0, 0]);
  });

  it('a per-try timeout while undici is still connecting ends the attempt and frees its slot at once', async () => {
    const connecting: ReturnType<typeof exchangeFor>[] = [];
    const t = setup((call) => {
      // undici has no connection yet (a blackholed endpoint): onRequestStart has not come.
      const driven = exchangeFor(call);
      connecting.push(driven);
      return driven.exchange.response;
    });
    t.proxy.swap(
      snapshot(
        'a',
        '10.0.0.1',
        { retryPolicy: { maxRetries: 1, perTryTimeoutMs: 100, retryOn: ['reset'] } },
        { connectionPool: { maxConnections: 2 } },
      ),
      { version: 1 },
    );
    const pending = t.run(t.proxy.plan('GET', '/', NO_HEADERS));
    await t.clock.advanceAsync(200, 10);
    expect(await pending).toMatchObject({ kind: 'failure', failure: 'timeout', attempts: 2 });
    const circuit = t.nodes.get('a').circuit;
    expect([circuit.active, circuit.pending]).toEqual([0, 0]);
    // The connections come later: both requests are aborted on the spot.
    for (const driven of connecting) driven.connect();
    expect(connecting.map((d) => d.controller.aborted)).toEqual([true, true]);
  });

  it('ejects an endpoint after consecutive 5xx and answers NO_HEALTHY_UPSTREAM until it returns', async () => {
    const t = setup(() => reply(500, 'broken'));
    t.proxy.swap(
      snapshot(
        'a',
        '10.0.0.1',
        {},
        { outlierDetection: { consecutiveErrors: 2, baseEjectionMs: 1_000, maxEjectionPercent: 100 } },
      ),
      { version: 1 },
    );
    const drain = async () => {
      const o = await t.run(t.proxy.plan('GET', '/', NO_HEADERS));
      if (o.kind === 'response') o.response.body.discard();
      return o;
    };
    expect(await drain()).toMatchObject({ kind: 'response', status: 500 });
    expect(await drain()).toMatchObject({ kind: 'response', status: 500 });
    expect(await drain()).toMatchObject({ kind: 'local', rejection: { code: 'NO_HEALTHY_UPSTREAM' } });
    expect(t.stats.target('a')).toMatchObject({ errors: 2, ejections: 1, noHealthyUpstream: 1 });
    t.clock.advance(1_000);
    expect(await drain()).toMatchObject({ kind: 'response', status: 500 });
  });

  it('connect failures count toward ejection; a caller that leaves does not', async () => {
    let mode: 'refuse' | 'hang' = 'hang';
    const t = setup((call) =>
      mode === 'refuse'
        ? Promise.reject(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))
        : hang(call.signal),
    );
    t.proxy.swap(
      snapshot('a', '10.0.0.1', {}, { outlierDetection: { consecutiveErrors: 2, maxEjectionPercent: 100 } }),
      { version: 1 },
    );
    for (let i = 0; i < 3; i++) {
      const caller = new Cancellation();
      const pending = t.run(t.proxy.plan('GET', '/', NO_HEADERS), caller);
      await t.flush();
      caller.abort();
      expect((await pending).kind).toBe('cancelled');
    }
    expect(t.stats.target('a').ejections).toBe(0);
    mode = 'refuse';
    expect(await t.run(t.proxy.plan('GET', '/', NO_HEADERS))).toMatchObject({
      kind: 'failure',
      failure: 'connect-failure',
    });
    expect(await t.run(t.proxy.plan('GET', '/', NO_HEADERS))).toMatchObject({
      kind: 'failure',
      failure: 'connect-failure',
    });
    expect(await t.run(t.proxy.plan('GET', '/', NO_HEADERS))).toMatchObject({
      kind: 'local',
      rejection: { code: 'NO_HEALTHY_UPSTREAM' },
    });
  });
});
