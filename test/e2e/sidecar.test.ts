import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeshpressAdmin } from '../../client/src/publisher/admin.js';
import { type ServerProcess, spawnServer } from '../support/server-process.js';
import {
  binomialInterval,
  getJson,
  runSidecarToExit,
  type SidecarProcess,
  sendMany,
  spawnSidecar,
  spawnUpstream,
  type UpstreamProcess,
  waitFor,
} from './sidecar-harness.js';

const ROUTES = 'mesh.e2e.checkout.routes';
const POLICY = 'mesh.e2e.checkout.policy';
/** The sidecar's long-poll wait: a pin must take effect well within one such cycle. */
const LONG_POLL_WAIT_MS = 20_000;
const SAMPLE = 1_000;
const [LOW, HIGH] = binomialInterval(SAMPLE, 0.1, 0.999);

let dataDir: string;
let server: ServerProcess;
let v1: UpstreamProcess;
let v2: UpstreamProcess;
let admin: MeshpressAdmin;
let sidecar: SidecarProcess;

function routesDoc(weightV1: number, weightV2: number) {
  return {
    kind: 'mesh.routes.v1',
    virtualService: 'inventory.e2e.svc',
    router: {
      routes: [
        {
          name: 'inventory',
          match: { prefix: '/' },
          action: {
            weightedTargets: [
              { virtualNode: 'inventory-v1', weight: weightV1 },
              { virtualNode: 'inventory-v2', weight: weightV2 },
            ],
          },
          retryPolicy: { maxRetries: 1, perTryTimeoutMs: 2_000, retryOn: ['connect-failure'] },
          timeoutMs: 5_000,
        },
      ],
    },
    virtualNodes: [
      { name: 'inventory-v1', endpoints: [{ host: '127.0.0.1', port: v1.port }] },
      { name: 'inventory-v2', endpoints: [{ host: '127.0.0.1', port: v2.port }] },
    ],
  };
}

function policyDoc(denyWeb: boolean) {
  return {
    kind: 'mesh.policy.v1',
    service: 'checkout',
    mtls: { mode: 'PERMISSIVE' },
    rules: [
      ...(denyWeb ? [{ name: 'no-web', from: { apps: ['web'] }, to: {}, action: 'DENY' }] : []),
      { name: 'callers', from: { apps: ['web', 'mobile'] }, to: { methods: ['GET'] }, action: 'ALLOW' },
    ],
  };
}

const adminView = async () => (await getJson(`${sidecar.adminUrl}/admin`)).body;

/** Waits until the sidecar runs `version` of a topic; returns how long that took. */
async function applied(kind: 'routes' | 'policy', version: number, pinned: boolean): Promise<number> {
  const started = Date.now();
  await waitFor(
    async () => {
      const topic = (await adminView()).topics[kind];
      return topic.version === version && topic.pinned === pinned ? true : undefined;
    },
    `${kind} version ${version}${pinned ? ' (pinned)' : ''}`,
    LONG_POLL_WAIT_MS + 5_000,
  );
  return Date.now() - started;
}

/** Sends SAMPLE requests; checks every response is consistent, returns the v2 count. */
async function split(version: number): Promise<number> {
  const answers = await sendMany(sidecar.outboundUrl!, SAMPLE, { path: '/items/42', concurrency: 20 });
  for (const a of answers) {
    expect(a.status).toBe(200);
    expect(a.headers['x-meshpress-route']).toBe('inventory');
    expect(a.headers['x-meshpress-routes-version']).toBe(String(version));
    // The node the sidecar reports is the one that answered.
    expect(a.headers['x-meshpress-target']).toBe(`inventory-${a.body}`);
  }
  return answers.filter((a) => a.body === 'v2').length;
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'meshpress-sidecar-e2e-'));
  [server, v1, v2] = await Promise.all([
    spawnServer({ MESHPRESS_DATA_DIR: dataDir }),
    spawnUpstream('v1'),
    spawnUpstream('v2'),
  ]);
  admin = new MeshpressAdmin({ baseUrl: server.httpUrl, principal: 'e2e' });
  await admin.createTopic(ROUTES, { kind: 'mesh.routes.v1' });
  await admin.createTopic(POLICY, { kind: 'mesh.policy.v1' });
  await admin.publish(ROUTES, { document: routesDoc(100, 0) });
  await admin.publish(POLICY, { document: policyDoc(false) });
  sidecar = await spawnSidecar([
    '--server',
    server.grpcAddress!,
    '--app',
    'checkout',
    '--region',
    'eu-west-1',
    '--node',
    'e2e-1',
    '--routes-topic',
    ROUTES,
    '--policy-topic',
    POLICY,
    '--app-port',
    String(v1.port),
    '--outbound-port',
    '0',
    '--inbound-port',
    '0',
    '--admin-port',
    '0',
    '--long-poll-wait-ms',
    String(LONG_POLL_WAIT_MS),
    '--log-level',
    'warn',
  ]);
}, 120_000);

afterAll(async () => {
  await sidecar?.stop();
  await admin?.close();
  await Promise.all([server?.stop(), v1?.stop(), v2?.stop()]);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

// Real processes: meshpress server (gRPC long-poll), two upstreams, the sidecar from its sources.
describe('meshpress-sidecar end to end', { timeout: 180_000 }, () => {
  it('routes 100/0, then 90/10, pinned back to 100/0 within one long-poll cycle, and 90/10 again on unpin', async () => {
    expect(sidecar.outboundUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await applied('routes', 1, false);
    const all = await sendMany(sidecar.outboundUrl!, 300, { path: '/items', concurrency: 10 });
    expect(
      new Set(
        all.map(
          (a) =>
            `${a.status} ${a.body} ${a.headers['x-meshpress-target']} ${a.headers['x-meshpress-routes-version']}`,
        ),
      ),
    ).toEqual(new Set(['200 v1 inventory-v1 1']));
    // The outbound proxy stamps the sidecar's own app on the upstream request.
    expect(all[0]!.headers['x-seen-app']).toBe('checkout');

    await admin.publish(ROUTES, { document: routesDoc(90, 10) });
    await applied('routes', 2, false);
    const canary = await split(2);
    expect(canary).toBeGreaterThanOrEqual(LOW);
    expect(canary).toBeLessThanOrEqual(HIGH);

    const pinned = Date.now();
    await admin.pin(ROUTES, 1, { reason: 'canary rollback' });
    const tookMs = await applied('routes', 1, true);
    expect(Date.now() - pinned).toBeLessThan(LONG_POLL_WAIT_MS);
    expect(await split(1)).toBe(0);

    await admin.unpin(ROUTES);
    await applied('routes', 2, false);
    const again = await split(2);
    expect(again).toBeGreaterThanOrEqual(LOW);
    expect(again).toBeLessThanOrEqual(HIGH);

    const view = await adminView();
    expect(view.topics.routes).toMatchObject({ topic: ROUTES, version: 2, pinned: false, source: 'service' });
    expect(view.swaps.routes).toBeGreaterThanOrEqual(4);
    expect(view.routes.inventory.requests).toBeGreaterThanOrEqual(300 + 3 * SAMPLE);
    expect(view.targets['inventory-v2'].requests).toBe(canary + again);
    console.log(
      `sidecar e2e: v2 share ${canary}/${SAMPLE} and ${again}/${SAMPLE} (99.9% bound [${LOW}, ${HIGH}]); pin applied in ${tookMs} ms`,
    );
  });

  it('a policy publish that denies a caller takes effect (403); pinning the old version and republishing restore it', async () => {
    const call = (app: string) => getJson(`${sidecar.inboundUrl}/orders`, { 'x-meshpress-app': app });
    await applied('policy', 1, false);
    const allowed = await fetch(`${sidecar.inboundUrl}/orders`, { headers: { 'x-meshpress-app': 'web' } });
    expect([allowed.status, await allowed.text(), allowed.headers.get('x-meshpress-policy-version')]).toEqual(
      [200, 'v1', '1'],
    );

    await admin.publish(POLICY, { document: policyDoc(true) });
    await applied('policy', 2, false);
    const denied = await call('web');
    expect(denied.status).toBe(403);
    expect(denied.body.error).toMatchObject({ code: 'FORBIDDEN' });
    expect(denied.headers.get('x-meshpress-policy-version')).toBe('2');
    expect(denied.headers.get('x-meshpress-error')).toBe('FORBIDDEN');
    expect((await call('mobile')).status).toBe(200);
    expect((await call('unknown')).status).toBe(403);

    const pinned = Date.now();
    await admin.pin(POLICY, 1);
    await applied('policy', 1, true);
    expect(Date.now() - pinned).toBeLessThan(LONG_POLL_WAIT_MS);
    expect((await call('web')).status).toBe(200);

    await admin.unpin(POLICY);
    await applied('policy', 2, false);
    expect((await call('web')).status).toBe(403);

    await admin.publish(POLICY, { document: policyDoc(false) });
    await applied('policy', 3, false);
    const restored = await call('web');
    expect(restored.status).toBe(200);
    expect(restored.headers.get('x-meshpress-policy-version')).toBe('3');

    const view = await adminView();
    expect(view.denied).toBeGreaterThanOrEqual(3);
    expect(view.topics.policy).toMatchObject({ topic: POLICY, version: 3, service: 'checkout' });
  });

  it('answers unmatched methods on the admin port, and /healthz with the versions in force', async () => {
    const health = await getJson(`${sidecar.adminUrl}/healthz`);
    expect(health).toMatchObject({ status: 200, body: { status: 'ok', routesVersion: 2, policyVersion: 3 } });
    const post = await fetch(`${sidecar.adminUrl}/admin`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect((await getJson(`${sidecar.adminUrl}/nothing`)).status).toBe(404);
  });

  it('drains on SIGTERM: a request in flight completes, then the process exits 0', async () => {
    const slow = fetch(`${sidecar.outboundUrl}/slow?ms=700`);
    await waitFor(
      async () => ((await adminView()).inFlight > 0 ? true : undefined),
      'the slow request in flight',
    );
    const exit = sidecar.stop('SIGTERM');
    const response = await slow;
    expect(response.status).toBe(200);
    expect(await response.text()).toMatch(/^v[12]$/);
    expect(await exit).toBe(0);
  });

  it('starts without the meshpress service after the startup bound: 503 NO_ROUTES, policy denies', async () => {
    const lonely = await spawnSidecar([
      '--server',
      'http://127.0.0.1:9',
      '--app',
      'checkout',
      '--routes-topic',
      ROUTES,
      '--policy-topic',
      POLICY,
      '--app-port',
      String(v1.port),
      '--outbound-port',
      '0',
      '--inbound-port',
      '0',
      '--admin-port',
      '0',
      '--startup-timeout-ms',
      '500',
      '--log-level',
      'error',
    ]);
    try {
      const out = await getJson(`${lonely.outboundUrl}/items`);
      expect(out.status).toBe(503);
      expect(out.body.error.code).toBe('NO_ROUTES');
      expect(out.headers.get('x-meshpress-routes-version')).toBeNull();
      expect((await getJson(`${lonely.inboundUrl}/orders`, { 'x-meshpress-app': 'web' })).status).toBe(403);
      const view = (await getJson(`${lonely.adminUrl}/admin`)).body;
      expect(view.topics.routes).toMatchObject({ version: null, source: 'default' });
      expect(view.rejected).toEqual({ NO_ROUTES: 1 });
    } finally {
      expect(await lonely.stop()).toBe(0);
    }
  });

  it('exits 2 naming the flag when the options are invalid', async () => {
    const result = await runSidecarToExit(['--server', 'localhost:9', '--routes-topic', 'Bad Topic']);
    expect(result.code).toBe(2);
    expect(result.output).toContain('--app');
    expect(result.output).toContain('--routes-topic');
  });
});
