import { createHash } from 'node:crypto';
import {
  Agent,
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileMeshPayload } from '../../client/src/mesh/index.js';
import { SidecarCore } from '../../client/src/sidecar/core.js';
import { closeAll, type Listener, listen, stopAccepting } from '../../client/src/sidecar/listeners.js';

/**
 * Bodies through the outbound proxy, both ways, against real upstream servers over loopback: request
 * bodies buffered for routes that may retry and streamed for routes that never do, and response bodies
 * passed from the upstream connection to the caller's with back-pressure, failures midway and timeouts.
 */

const LIMIT = 256 * 1024;
const servers: Server[] = [];
let core: SidecarCore;
let outbound: Listener;
let version = 0;

async function upstream(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** A one-route snapshot to one node at `port`; `extra` goes into the route, `nodeExtra` into the node. */
function route(
  name: string,
  port: number,
  extra: Record<string, unknown> = {},
  nodeExtra: Record<string, unknown> = {},
): void {
  version++;
  const doc = {
    kind: 'mesh.routes.v1',
    virtualService: 'bodies.e2e',
    router: {
      routes: [
        {
          name,
          match: { prefix: '/' },
          action: { weightedTargets: [{ virtualNode: name, weight: 1 }] },
          ...extra,
        },
      ],
    },
    virtualNodes: [{ name, endpoints: [{ host: '127.0.0.1', port }], ...nodeExtra }],
  };
  core.setRoutes(compileMeshPayload('mesh.routes.v1', JSON.stringify(doc)), { version });
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Deterministic bytes. */
function bytes(size: number, seed = 7): Buffer {
  const out = Buffer.alloc(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out[i] = x >>> 16;
  }
  return out;
}

interface Reply {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly rawHeaders: string[];
  readonly body: Buffer;
  readonly reusedSocket: boolean;
}

/**
 * One request with node:http (full control of framing, reading pace and connection reuse). Rejects when
 * the response is cut short.
 */
function send(
  path: string,
  options: {
    method?: string;
    body?: Buffer;
    chunked?: boolean;
    agent?: Agent;
    /** Stop reading the response for this long after its headers. */
    pauseMs?: number;
  } = {},
): Promise<Reply> {
  const url = new URL(path, outbound.url);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        agent: options.agent ?? false,
        headers: options.body && !options.chunked ? { 'content-length': options.body.length } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('aborted', () => reject(new Error('response aborted')));
        res.on('end', () => {
          if (!res.complete) reject(new Error('response incomplete'));
          else
            resolve({
              status: res.statusCode!,
              headers: res.headers,
              rawHeaders: res.rawHeaders,
              body: Buffer.concat(chunks),
              reusedSocket: req.reusedSocket,
            });
        });
        if (options.pauseMs) {
          res.pause();
          setTimeout(() => res.resume(), options.pauseMs);
        }
      },
    );
    req.on('error', reject);
    if (!options.body) req.end();
    else if (options.chunked) {
      // Two writes, no content-length: chunked framing.
      req.write(options.body.subarray(0, options.body.length >> 1));
      req.end(options.body.subarray(options.body.length >> 1));
    } else req.end(options.body);
  });
}

/** Answers with what it received: size, hash and framing of the request body. */
let echo: number;
/** Answers 401 at once, without reading the request body. */
let early: number;
/** Reads a little of the request body, then drops the connection. */
let dropsUpload: number;
/** Sends `?size=N` bytes of `bytes(N)`. */
let big: number;
/** Promises 1,000 bytes, sends 100, then drops the connection (`?stall` keeps it open instead). */
let cutShort: number;
/** Sends a header whose value is UTF-8 bytes. */
let utf8Header: number;
/** 503 with a 300 KiB body on the first attempt, 200 on the next. */
let bigFailure: number;
/** On the first attempt, 503 with the start of a body that never ends; 200 on the next. */
let hungFailure: number;

beforeAll(async () => {
  echo = await upstream((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          size: body.length,
          sha256: sha256(body),
          contentLength: req.headers['content-length'] ?? null,
          transferEncoding: req.headers['transfer-encoding'] ?? null,
        }),
      );
    });
  });
  early = await upstream((_req, res) => {
    res.writeHead(401, { 'content-type': 'text/plain' }).end('no');
  });
  dropsUpload = await upstream((req) => {
    let seen = 0;
    req.on('data', (c: Buffer) => {
      seen += c.length;
      if (seen > 16 * 1024) req.socket.destroy();
    });
  });
  big = await upstream((req, res) => {
    const size = Number(new URL(req.url!, 'http://x').searchParams.get('size'));
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
    res.end(bytes(size));
  });
  cutShort = await upstream((req, res) => {
    res.writeHead(200, { 'content-length': 1000 });
    res.write(Buffer.alloc(100, 1));
    if (!req.url?.includes('stall')) setTimeout(() => res.socket?.destroy(), 20);
  });
  utf8Header = await upstream((_req, res) => {
    // Node writes header strings as latin1: these are the UTF-8 bytes of the value.
    res.writeHead(200, { 'x-note': Buffer.from('café €', 'utf8').toString('latin1') }).end('ok');
  });
  bigFailure = await upstream((req, res) => {
    req.resume();
    if (req.headers['x-meshpress-attempt'] === '1') res.writeHead(503).end(bytes(300 * 1024));
    else res.writeHead(200).end('second');
  });
  hungFailure = await upstream((req, res) => {
    req.resume();
    if (req.headers['x-meshpress-attempt'] === '1') res.writeHead(503).write('the start of an error page');
    else res.writeHead(200).end('second');
  });
  core = new SidecarCore({ app: 'bodies', maxRequestBodyBytes: LIMIT });
  outbound = await listen(core.handleOutbound, '127.0.0.1', 0);
});

afterAll(async () => {
  if (outbound) {
    closeAll(outbound);
    await stopAccepting(outbound);
  }
  await core?.close();
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

const retrying = { retryPolicy: { maxRetries: 1, perTryTimeoutMs: 5_000, retryOn: ['gateway-error'] } };

describe('request bodies', { timeout: 30_000 }, () => {
  it('streams a body larger than the buffer limit on a route that never retries, keeping its content-length', async () => {
    route('stream', echo);
    const body = bytes(2 * 1024 * 1024);
    const reply = await send('/upload', { method: 'POST', body });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body.toString())).toEqual({
      size: body.length,
      sha256: sha256(body),
      contentLength: String(body.length),
      transferEncoding: null,
    });
  });

  it('streams a chunked body as chunked', async () => {
    route('stream', echo);
    const body = bytes(600 * 1024, 3);
    const reply = await send('/upload', { method: 'POST', body, chunked: true });
    expect(JSON.parse(reply.body.toString())).toMatchObject({
      size: body.length,
      sha256: sha256(body),
      contentLength: null,
      transferEncoding: 'chunked',
    });
  });

  it('buffers the body on a route that may retry: 413 beyond the limit, measured again below it', async () => {
    route('buffered', echo, retrying);
    const tooBig = await send('/upload', { method: 'POST', body: bytes(LIMIT + 1) });
    expect(tooBig.status).toBe(413);
    expect(JSON.parse(tooBig.body.toString()).error.code).toBe('BODY_TOO_LARGE');
    const body = bytes(LIMIT);
    const reply = await send('/upload', { method: 'POST', body, chunked: true });
    expect(JSON.parse(reply.body.toString())).toMatchObject({
      size: LIMIT,
      sha256: sha256(body),
      contentLength: String(LIMIT),
    });
  });

  it('an upstream that answers before reading the body: the caller gets the answer and keeps its connection', async () => {
    route('early', early);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await send('/upload', { method: 'POST', body: bytes(1024 * 1024), agent });
      expect([first.status, first.body.toString()]).toEqual([401, 'no']);
      const second = await send('/again', { agent });
      expect(second.status).toBe(401);
      expect(second.reusedSocket).toBe(true);
    } finally {
      agent.destroy();
    }
  });

  it('an upstream that drops the connection mid-upload: 503 UPSTREAM_RESET, and the caller keeps its connection', async () => {
    route('drops', dropsUpload);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const reply = await send('/upload', { method: 'POST', body: bytes(1024 * 1024), agent });
      expect(reply.status).toBe(503);
      expect(JSON.parse(reply.body.toString()).error.code).toBe('UPSTREAM_RESET');
      route('stream', echo);
      const next = await send('/upload', { method: 'POST', body: bytes(10), agent });
      expect([next.status, next.reusedSocket]).toEqual([200, true]);
    } finally {
      agent.destroy();
    }
  });
});

describe('response bodies', { timeout: 30_000 }, () => {
  it('streams a large body to a caller that reads slowly, byte for byte, and frees the connection slot', async () => {
    route('big', big);
    const size = 16 * 1024 * 1024;
    const reply = await send(`/blob?size=${size}`, { pauseMs: 300 });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-length']).toBe(String(size));
    expect(reply.body.length).toBe(size);
    expect(sha256(reply.body)).toBe(sha256(bytes(size)));
    expect(core.nodes.get('big').circuit.active).toBe(0);
  });

  it('a body cut short upstream is cut short for the caller too, never passed off as whole', async () => {
    route('cut', cutShort);
    await expect(send('/cut')).rejects.toThrow();
    expect(core.nodes.get('cut').circuit.active).toBe(0);
    // The sidecar is unharmed: the next request is served.
    route('big', big);
    expect((await send('/blob?size=10')).status).toBe(200);
  });

  it('a per-try timeout while the body streams aborts the body', async () => {
    route('stalls', cutShort, {
      retryPolicy: { maxRetries: 0, perTryTimeoutMs: 200, retryOn: ['reset'] },
    });
    const started = Date.now();
    await expect(send('/stall')).rejects.toThrow();
    expect(Date.now() - started).toBeGreaterThanOrEqual(195);
    expect(core.nodes.get('stalls').circuit.active).toBe(0);
  });

  it('passes header values byte for byte', async () => {
    route('utf8', utf8Header);
    const reply = await send('/');
    const i = reply.rawHeaders.findIndex((h) => h.toLowerCase() === 'x-note');
    expect(Buffer.from(reply.rawHeaders[i + 1]!, 'latin1').toString('utf8')).toBe('café €');
    expect(reply.headers['x-meshpress-route']).toBe('utf8');
  });

  it('retries past a 5xx whose body is too large to read off, and answers with the next attempt', async () => {
    route('big-failure', bigFailure, retrying);
    const reply = await send('/');
    expect([reply.status, reply.body.toString(), reply.headers['x-meshpress-attempts']]).toEqual([
      200,
      'second',
      '2',
    ]);
    expect(core.nodes.get('big-failure').circuit.active).toBe(0);
  });

  it('retries past a 5xx whose body never ends: the body is abandoned, freeing its connection slot for the retry', async () => {
    route(
      'hung-failure',
      hungFailure,
      { retryPolicy: { maxRetries: 1, perTryTimeoutMs: 2_000, retryOn: ['5xx'] } },
      { connectionPool: { maxConnections: 1 } },
    );
    const started = Date.now();
    const reply = await send('/');
    expect([reply.status, reply.body.toString(), reply.headers['x-meshpress-attempts']]).toEqual([
      200,
      'second',
      '2',
    ]);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(core.nodes.get('hung-failure').circuit.active).toBe(0);
  });
});
