import { Agent, createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { compileMeshPayload } from '../../client/src/mesh/index.js';
import { SidecarCore } from '../../client/src/sidecar/core.js';
import { closeAll, type Listener, listen, stopAccepting } from '../../client/src/sidecar/listeners.js';
import { rawExchange } from './sidecar-harness.js';

/**
 * The inbound guard against a real local app over loopback: which request targets reach the policy and
 * the app, and request bodies forwarded as the outbound proxy forwards them (the caller's framing kept,
 * the caller's connection kept when the app answers before reading the body).
 */

let app: Server;
let core: SidecarCore;
let inbound: Listener;
/** Request targets the local app received, in order. */
let seen: string[] = [];

const WEB = 'X-Meshpress-App: web\r\n';

/** Everything allowed but /admin/ (the carve-out an absolute-form target used to slip past). */
const POLICY = {
  kind: 'mesh.policy.v1',
  service: 'payments',
  mtls: { mode: 'PERMISSIVE' },
  defaultAction: 'ALLOW',
  rules: [{ name: 'no-admin', from: {}, to: { paths: [{ prefix: '/admin/' }] }, action: 'DENY' }],
};

beforeAll(async () => {
  app = createServer((req, res) => {
    seen.push(req.url ?? '');
    // Answers before reading the body.
    if (req.url?.startsWith('/early')) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('no');
      return;
    }
    let size = 0;
    req.on('data', (chunk: Buffer) => (size += chunk.length));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          url: req.url,
          size,
          contentLength: req.headers['content-length'] ?? null,
          transferEncoding: req.headers['transfer-encoding'] ?? null,
        }),
      );
    });
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  core = new SidecarCore({
    app: 'payments',
    localApp: { port: (app.address() as AddressInfo).port, timeoutMs: 5_000 },
  });
  core.setPolicy(compileMeshPayload('mesh.policy.v1', JSON.stringify(POLICY)), { version: 1 });
  inbound = await listen(core.handleInbound, '127.0.0.1', 0);
});

afterAll(async () => {
  if (inbound) {
    closeAll(inbound);
    await stopAccepting(inbound);
  }
  await core?.close();
  app?.closeAllConnections();
  await new Promise((r) => app?.close(r));
});

beforeEach(() => {
  seen = [];
});

interface Reply {
  readonly status: number;
  readonly body: string;
  readonly reusedSocket: boolean;
}

/** One request through the inbound port with node:http (framing and connection reuse under control). */
function send(
  path: string,
  options: {
    method?: string;
    body?: Buffer;
    chunked?: boolean;
    agent?: Agent;
    /**
     * Send the second half of the body only once the response has arrived (`'response'`) or after 50 ms
     * (`'later'`): the sidecar then starts forwarding before it has the whole body.
     */
    rest?: 'response' | 'later';
  } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { 'x-meshpress-app': 'web' };
    if (options.body && !options.chunked) headers['content-length'] = options.body.length;
    const req = request(
      new URL(path, inbound.url),
      { method: options.method ?? 'GET', agent: options.agent ?? false, headers },
      (res: IncomingMessage) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode!, body, reusedSocket: req.reusedSocket }));
      },
    );
    req.on('error', reject);
    const body = options.body;
    if (!body) {
      req.end();
      return;
    }
    req.write(body.subarray(0, body.length >> 1));
    const rest = () => req.end(body.subarray(body.length >> 1));
    if (options.rest === 'response') req.once('response', rest);
    else if (options.rest === 'later') setTimeout(rest, 50);
    else rest();
  });
}

describe('inbound request targets', { timeout: 30_000 }, () => {
  it('judges the path the app routes on: a target that is not origin-form is refused with 400 INVALID_REQUEST_TARGET and never reaches the app', async () => {
    for (const target of [
      'http://payments/admin/users',
      'http://payments/public',
      '//payments/admin/users',
    ]) {
      const answer = await rawExchange(
        inbound.url,
        `GET ${target} HTTP/1.1\r\nHost: payments\r\n${WEB}Connection: close\r\n\r\n`,
      );
      expect([target, answer.status, answer.code]).toEqual([target, 400, 'INVALID_REQUEST_TARGET']);
      expect(answer.head).toContain('x-meshpress-policy-version: 1');
    }
    const star = await rawExchange(
      inbound.url,
      `OPTIONS * HTTP/1.1\r\nHost: payments\r\n${WEB}Connection: close\r\n\r\n`,
    );
    expect([star.status, star.code]).toEqual([400, 'INVALID_REQUEST_TARGET']);
    // Origin-form is judged and forwarded as before.
    expect((await send('/admin/users')).status).toBe(403);
    const allowed = await send('/public?q=1');
    expect([allowed.status, JSON.parse(allowed.body).url]).toEqual([200, '/public?q=1']);
    expect(seen).toEqual(['/public?q=1']);
    expect(core.stats.inbound).toMatchObject({ badRequests: 4, upstreamErrors: 0 });
  });
});

describe('inbound requests the local app cannot be sent', { timeout: 30_000 }, () => {
  it('a repeated Host is answered 400 INVALID_REQUEST, not counted as an error of the app', async () => {
    const before = { ...core.stats.inbound };
    const answer = await rawExchange(
      inbound.url,
      `GET /public HTTP/1.1\r\nHost: a\r\nHost: b\r\n${WEB}Connection: close\r\n\r\n`,
    );
    expect([answer.status, answer.code]).toEqual([400, 'INVALID_REQUEST']);
    expect(answer.head).toContain('x-meshpress-policy-version: 1');
    expect(seen).toEqual([]);
    expect(core.stats.inbound).toMatchObject({
      upstreamErrors: before.upstreamErrors,
      badRequests: before.badRequests + 1,
    });
  });
});

describe('inbound request bodies', { timeout: 30_000 }, () => {
  it("keeps the caller's content-length, and a chunked body chunked", async () => {
    const sized = await send('/upload', { method: 'POST', body: Buffer.from('hello'), rest: 'later' });
    expect(JSON.parse(sized.body)).toEqual({
      url: '/upload',
      size: 5,
      contentLength: '5',
      transferEncoding: null,
    });
    const chunked = await send('/upload', {
      method: 'POST',
      body: Buffer.alloc(64 * 1024, 1),
      chunked: true,
      rest: 'later',
    });
    expect(JSON.parse(chunked.body)).toMatchObject({
      size: 64 * 1024,
      contentLength: null,
      transferEncoding: 'chunked',
    });
  });

  it('an app that answers before reading the body: the caller gets the answer and keeps its connection', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await send('/early', {
        method: 'POST',
        body: Buffer.alloc(2 * 1024 * 1024, 7),
        agent,
        rest: 'response',
      });
      expect([first.status, first.body]).toEqual([401, 'no']);
      const second = await send('/public', { agent });
      expect([second.status, second.reusedSocket]).toEqual([200, true]);
    } finally {
      agent.destroy();
    }
  });
});
