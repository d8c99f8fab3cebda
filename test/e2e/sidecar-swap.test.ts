import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileMeshPayload, type RoutesSnapshot } from '../../client/src/mesh/index.js';
import { SidecarCore } from '../../client/src/sidecar/core.js';
import { closeAll, type Listener, listen, stopAccepting } from '../../client/src/sidecar/listeners.js';
import { type Answer, sendMany } from './sidecar-harness.js';

/**
 * Swap safety, in process: the sidecar core behind a real listener, real upstream servers over
 * loopback, and the routes snapshot replaced every couple of milliseconds while requests run.
 *
 * Snapshot i (served as versions i + 1, i + 1 + SNAPSHOTS, ...) has one route `r<i>` splitting between nodes `n<i>-a` and
 * `n<i>-b`, whose endpoints are upstreams i mod 4 and (i + 1) mod 4. Route and node names are unique
 * per snapshot, so the (version, route, target) a response reports names exactly one snapshot, and
 * the upstream that answered must be that target's endpoint. Half the requests are made to fail on
 * their first attempt, so their retry runs after one or more swaps.
 */
const UPSTREAMS = 4;
const SNAPSHOTS = 400;
const REQUESTS = 4_000;

interface Expected {
  readonly route: string;
  readonly targets: ReadonlyMap<string, string>;
}

let upstreams: Server[] = [];
let ports: number[] = [];
let core: SidecarCore;
let outbound: Listener;

function upstream(name: string): Promise<Server> {
  const server = createServer((req, res) => {
    req.resume();
    // A few ms of work keeps requests in flight across swaps.
    const delay = Math.floor(Math.random() * 3);
    setTimeout(() => {
      if (req.headers['x-flaky'] === '1' && req.headers['x-meshpress-attempt'] === '1') {
        res.writeHead(503).end('try again');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end(name);
    }, delay);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function snapshot(i: number): { snapshot: RoutesSnapshot; expected: Expected } {
  const a = `u${i % UPSTREAMS}`;
  const b = `u${(i + 1) % UPSTREAMS}`;
  const doc = {
    kind: 'mesh.routes.v1',
    virtualService: 'swap.svc',
    router: {
      routes: [
        {
          name: `r${i}`,
          match: { prefix: '/' },
          action: {
            weightedTargets: [
              { virtualNode: `n${i}-a`, weight: 1 + (i % 3) },
              { virtualNode: `n${i}-b`, weight: 1 },
            ],
          },
          retryPolicy: { maxRetries: 2, perTryTimeoutMs: 5_000, retryOn: ['gateway-error'] },
          timeoutMs: 10_000,
        },
      ],
    },
    virtualNodes: [
      { name: `n${i}-a`, endpoints: [{ host: '127.0.0.1', port: ports[i % UPSTREAMS] }] },
      {
        name: `n${i}-b`,
        endpoints: [{ host: '127.0.0.1', port: ports[(i + 1) % UPSTREAMS] }],
        // Limits differ between snapshots; none is low enough to refuse this load.
        connectionPool: { maxConnections: 64 + (i % 5), maxPendingRequests: 1024, maxRequests: 1024 },
      },
    ],
  };
  return {
    snapshot: compileMeshPayload('mesh.routes.v1', JSON.stringify(doc)),
    expected: {
      route: `r${i}`,
      targets: new Map([
        [`n${i}-a`, a],
        [`n${i}-b`, b],
      ]),
    },
  };
}

beforeAll(async () => {
  upstreams = await Promise.all(Array.from({ length: UPSTREAMS }, (_, i) => upstream(`u${i}`)));
  ports = upstreams.map((s) => (s.address() as AddressInfo).port);
  core = new SidecarCore({ app: 'swapper' });
  outbound = await listen(core.handleOutbound, '127.0.0.1', 0);
});

afterAll(async () => {
  if (outbound) {
    closeAll(outbound);
    await stopAccepting(outbound);
  }
  await core?.close();
  for (const s of upstreams) s.closeAllConnections();
  await Promise.all(upstreams.map((s) => new Promise((r) => s.close(r))));
});

describe('routes snapshot swaps under concurrent traffic', { timeout: 120_000 }, () => {
  it('no request fails because of a swap, and each response is consistent with exactly one snapshot', async () => {
    const built = Array.from({ length: SNAPSHOTS }, (_, i) => snapshot(i));
    // Versions only grow, as a topic's do; version v is snapshot (v - 1) mod SNAPSHOTS.
    const expectedOf = (version: string) => built[(Number(version) - 1) % SNAPSHOTS]?.expected;
    let version = 1;
    core.setRoutes(built[0]!.snapshot, { version });

    let stop = false;
    const swapping = (async () => {
      while (!stop) {
        await new Promise((r) => setTimeout(r, 2));
        version++;
        core.setRoutes(built[(version - 1) % SNAPSHOTS]!.snapshot, { version });
      }
    })();

    // A response whose version is older than the one in force when it arrives was swapped under.
    let overtaken = 0;
    const onAnswer = (a: Answer) => {
      if (Number(a.headers['x-meshpress-routes-version']) < version) overtaken++;
    };
    const started = Date.now();
    const [plain, flaky] = await Promise.all([
      sendMany(outbound.url, REQUESTS / 2, { path: '/plain', concurrency: 32, onAnswer }),
      sendMany(outbound.url, REQUESTS / 2, {
        path: '/flaky',
        concurrency: 32,
        headers: { 'x-flaky': '1' },
        onAnswer,
      }),
    ]);
    stop = true;
    await swapping;
    const elapsed = Date.now() - started;
    const swaps = version - 1;

    const problems: string[] = [];
    const check = (a: Answer, attempts: string) => {
      const version = String(a.headers['x-meshpress-routes-version']);
      const expected = expectedOf(version);
      const route = a.headers['x-meshpress-route'];
      const target = String(a.headers['x-meshpress-target']);
      if (a.status !== 200) problems.push(`status ${a.status}: ${a.body}`);
      else if (!expected) problems.push(`unknown version ${version}`);
      else if (route !== expected.route) problems.push(`version ${version} reported route ${route}`);
      else if (!expected.targets.has(target)) problems.push(`version ${version} reported target ${target}`);
      else if (expected.targets.get(target) !== a.body)
        problems.push(
          `version ${version} target ${target} answered by ${a.body}, not ${expected.targets.get(target)}`,
        );
      else if (a.headers['x-meshpress-attempts'] !== attempts)
        problems.push(`attempts ${a.headers['x-meshpress-attempts']}, expected ${attempts}`);
    };
    for (const a of plain) check(a, '1');
    for (const a of flaky) check(a, '2');
    expect(problems.slice(0, 10)).toEqual([]);

    const versions = new Set([...plain, ...flaky].map((a) => a.headers['x-meshpress-routes-version']));
    console.log(
      `swap safety: ${REQUESTS} requests in ${elapsed} ms across ${swaps} swaps, ${versions.size} versions reported, ${overtaken} answers overtaken by a swap`,
    );
    expect(swaps).toBeGreaterThan(100);
    expect(versions.size).toBeGreaterThan(50);
    expect(overtaken).toBeGreaterThan(REQUESTS / 10);
    // Every request, the retried ones included, used the snapshot it started with, though many swaps
    // happened while it ran: the admin counters agree that nothing was refused or failed.
    expect(Object.fromEntries(core.stats.rejected)).toEqual({});
    expect(core.inFlight).toBe(0);
  });
});
