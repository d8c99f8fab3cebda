import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MisdirectedError, TooManyRequestsError, UnavailableError, ValidationError } from '@meshpress/client';
import { afterEach, describe, expect, it } from 'vitest';
import { RestTransport } from '../../../client/src/consumer/index.js';

/** A fetch that records requests and answers from a script (faults a real server gives only by accident). */
function scriptedFetch(answers: (() => Response | Promise<Response>)[]) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fetchImpl = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    const next = answers.shift();
    if (!next) throw new Error('no scripted answer');
    return next();
  }) as unknown as typeof fetch;
  return { calls, fetchImpl };
}

const signal = () => new AbortController().signal;
const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

describe('RestTransport', () => {
  it('sends one poll with every topic, the identity and the caller headers; 204 means no update', async () => {
    const { calls, fetchImpl } = scriptedFetch([() => new Response(null, { status: 204 })]);
    const transport = new RestTransport({
      urls: ['http://a:1/'],
      caller: { app: 'checkout', principal: 'proxy/checkout' },
      fetch: fetchImpl,
    });
    const updates = await transport.poll({
      identity: { app: 'checkout', node: 'n1' },
      topics: [{ topic: 'a', currentVersion: 3 }, { topic: 'b' }],
      waitMs: 5_000,
      signal: signal(),
    });
    expect(updates).toEqual([]);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.url).toBe('http://a:1/v1/poll');
    expect(calls[0]!.init.headers).toMatchObject({
      'x-meshpress-app': 'checkout',
      'x-meshpress-principal': 'proxy/checkout',
      'content-type': 'application/json',
    });
    expect(JSON.parse(calls[0]!.init.body as string)).toEqual({
      identity: { app: 'checkout', node: 'n1' },
      topics: [{ topic: 'a', currentVersion: 3 }, { topic: 'b' }],
      waitMs: 5_000,
    });
  });

  it('an answer that breaks the contract is UnavailableError, not trusted', async () => {
    const { fetchImpl } = scriptedFetch([
      () => json(200, { updates: [{ topic: 'a', version: 'two' }] }),
      () => new Response('<html>', { status: 200 }),
    ]);
    const transport = new RestTransport({ urls: ['http://a:1'], fetch: fetchImpl });
    const request = { identity: {}, topics: [{ topic: 'a' }], signal: signal() };
    const invalid = await transport.poll(request).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(UnavailableError);
    expect((invalid as UnavailableError).cause).toBeInstanceOf(ValidationError);
    await expect(transport.poll(request)).rejects.toBeInstanceOf(UnavailableError);
  });

  it('maps error bodies to error classes; a 429 carries its retry-after', async () => {
    const { fetchImpl } = scriptedFetch([
      () => json(429, { error: { code: 'TOO_MANY_REQUESTS', message: 'shed' } }, { 'retry-after': '3' }),
      () =>
        json(400, {
          error: {
            code: 'VALIDATION_FAILED',
            message: 'bad',
            details: { issues: [{ path: 'topics.0.topic', message: 'bad name' }] },
          },
        }),
      () => new Response('Service Unavailable', { status: 503 }),
    ]);
    const transport = new RestTransport({ urls: ['http://a:1'], fetch: fetchImpl });
    const request = { identity: {}, topics: [{ topic: 'a' }], signal: signal() };
    const limited = await transport.poll(request).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(TooManyRequestsError);
    expect((limited as TooManyRequestsError).retryAfterMs).toBe(3_000);
    const invalid = await transport.poll(request).catch((e: unknown) => e);
    expect((invalid as ValidationError).issues).toEqual([{ path: 'topics.0.topic', message: 'bad name' }]);
    await expect(transport.poll(request)).rejects.toBeInstanceOf(UnavailableError);
  });

  it('a 429 without retry-after waits the default second, not 0 ms; answers that are not meshpress errors are unavailability', async () => {
    const { fetchImpl } = scriptedFetch([
      () => json(429, { error: { code: 'TOO_MANY_REQUESTS', message: 'shed' } }),
      () =>
        json(429, { error: { code: 'TOO_MANY_REQUESTS', message: 'shed', details: { retryAfterMs: 250 } } }),
      () => new Response('<html>Not Found</html>', { status: 404, headers: { 'content-type': 'text/html' } }),
      () => new Response('upstream reset', { status: 500 }),
    ]);
    const transport = new RestTransport({ urls: ['http://a:1'], fetch: fetchImpl });
    const request = { identity: {}, topics: [{ topic: 'a' }], signal: signal() };
    const bare = (await transport.poll(request).catch((e: unknown) => e)) as TooManyRequestsError;
    expect(bare).toBeInstanceOf(TooManyRequestsError);
    expect(bare.retryAfterMs).toBe(1_000);
    const detailed = (await transport.poll(request).catch((e: unknown) => e)) as TooManyRequestsError;
    expect(detailed.retryAfterMs).toBe(250);
    const notFound = await transport.poll(request).catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(UnavailableError);
    expect((notFound as Error).message).toBe('POST /v1/poll answered HTTP 404');
    await expect(transport.poll(request)).rejects.toBeInstanceOf(UnavailableError);
  });

  it('moves to the next server after MISDIRECTED (421: an instance of another role)', async () => {
    const misdirected = {
      error: { code: 'MISDIRECTED', message: 'this instance does not serve the consume role' },
    };
    const { calls, fetchImpl } = scriptedFetch([
      () => json(421, misdirected),
      () => new Response(null, { status: 204 }),
      () => new Response(null, { status: 204 }),
    ]);
    const transport = new RestTransport({ urls: ['http://publish:1', 'http://consume:2'], fetch: fetchImpl });
    const request = { identity: {}, topics: [{ topic: 'a' }], signal: signal() };
    await expect(transport.poll(request)).rejects.toBeInstanceOf(MisdirectedError);
    await transport.poll(request);
    await transport.poll(request);
    expect(calls.map((c) => new URL(c.url).host)).toEqual(['publish:1', 'consume:2', 'consume:2']);
  });

  it('refuses server URLs carrying credentials, without printing them', () => {
    let error: unknown;
    try {
      new RestTransport({ urls: ['http://a:1', 'http://svc:s3cret@b:2/base'] });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((i) => i.path)).toEqual(['urls.1']);
    expect(JSON.stringify([(error as Error).message, (error as ValidationError).issues])).not.toMatch(
      /s3cret|svc/,
    );
    expect((error as Error).message).toContain('http://b:2/base');
  });

  it('moves to the next server after a network failure or a 5xx', async () => {
    const { calls, fetchImpl } = scriptedFetch([
      () => {
        throw new TypeError('fetch failed');
      },
      () => new Response(null, { status: 204 }),
      () => new Response(null, { status: 502 }),
      () => new Response(null, { status: 204 }),
    ]);
    const transport = new RestTransport({ urls: ['http://a:1', 'http://b:2'], fetch: fetchImpl });
    const request = { identity: {}, topics: [{ topic: 'a' }], signal: signal() };
    await expect(transport.poll(request)).rejects.toBeInstanceOf(UnavailableError);
    await transport.poll(request);
    await expect(transport.poll(request)).rejects.toBeInstanceOf(UnavailableError);
    await transport.poll(request);
    expect(calls.map((c) => new URL(c.url).host)).toEqual(['a:1', 'b:2', 'b:2', 'a:1']);
  });

  it('rejects with the signal reason once aborted', async () => {
    const controller = new AbortController();
    const reason = new Error('closing');
    const { fetchImpl } = scriptedFetch([
      () => {
        controller.abort(reason);
        throw new DOMException('aborted', 'AbortError');
      },
    ]);
    const transport = new RestTransport({ urls: ['http://a:1'], fetch: fetchImpl });
    await expect(transport.poll({ identity: {}, topics: [], signal: controller.signal })).rejects.toBe(
      reason,
    );
  });
});

/** A real loopback HTTP server answering from a handler (the default transport talks to it through undici). */
async function httpServer(
  handler: (req: IncomingMessage, body: string, res: ServerResponse) => void,
): Promise<{ url: string; server: Server; sockets: Set<unknown> }> {
  const sockets = new Set<unknown>();
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => handler(req, body, res));
  });
  server.on('connection', (socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, sockets };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

describe('RestTransport over undici (the default)', () => {
  it('polls, downloads and lists history under the base path, with the caller headers, over kept-alive connections', async () => {
    const seen: { method: string; url: string; app: unknown; body: string }[] = [];
    const { url, sockets } = await httpServer((req, body, res) => {
      seen.push({ method: req.method!, url: req.url!, app: req.headers['x-meshpress-app'], body });
      if (req.url === '/base/v1/poll') {
        res.writeHead(204).end();
      } else if (req.url!.endsWith('/data')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.from([1, 2, 3]));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ versions: [] }));
      }
    });
    const transport = new RestTransport({ urls: [`${url}/base/`], caller: { app: 'checkout' } });
    const request = {
      identity: { node: 'n1' },
      topics: [{ topic: 'a b', currentVersion: 2 }],
      signal: signal(),
    };
    expect(await transport.poll(request)).toEqual([]);
    expect(await transport.poll(request)).toEqual([]);
    expect(await transport.fetchData('a b', 2, signal())).toEqual(new Uint8Array([1, 2, 3]));
    expect(await transport.history('a b', 5, 10, signal())).toEqual([]);
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'POST /base/v1/poll',
      'POST /base/v1/poll',
      'GET /base/v1/topics/a%20b/versions/2/data',
      'GET /base/v1/topics/a%20b/versions?limit=10&before=5',
    ]);
    expect(seen.every((s) => s.app === 'checkout')).toBe(true);
    expect(JSON.parse(seen[0]!.body)).toEqual({
      identity: { node: 'n1' },
      topics: [{ topic: 'a b', currentVersion: 2 }],
    });
    // Keep-alive: connections are reused rather than one opened per request.
    expect(sockets.size).toBeLessThan(seen.length);
    await transport.close();
    await transport.close();
    await expect(transport.poll(request)).rejects.toBeInstanceOf(UnavailableError);
  });

  it('maps error answers (a 429 keeps its Retry-After header) and moves on after a refused connection', async () => {
    const { url } = await httpServer((_req, _body, res) => {
      res
        .writeHead(429, { 'content-type': 'application/json', 'retry-after': '2' })
        .end(JSON.stringify({ error: { code: 'TOO_MANY_REQUESTS', message: 'shed' } }));
    });
    const closed = await httpServer(() => undefined);
    const deadUrl = closed.url;
    await new Promise((resolve) => closed.server.close(resolve));
    const transport = new RestTransport({ urls: [deadUrl, url] });
    const request = { identity: {}, topics: [{ topic: 'a' }], signal: signal() };
    await expect(transport.poll(request)).rejects.toBeInstanceOf(UnavailableError);
    const limited = await transport.poll(request).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(TooManyRequestsError);
    expect((limited as TooManyRequestsError).retryAfterMs).toBe(2_000);
    await transport.close();
  });

  it('a held poll rejects with the signal reason when aborted', async () => {
    let held: (() => void) | undefined;
    const arrived = new Promise<void>((resolve) => {
      held = resolve;
    });
    const { url } = await httpServer(() => held?.());
    const transport = new RestTransport({ urls: [url] });
    const controller = new AbortController();
    const polling = transport.poll({
      identity: {},
      topics: [{ topic: 'a' }],
      waitMs: 30_000,
      signal: controller.signal,
    });
    await arrived;
    const reason = new Error('closing');
    controller.abort(reason);
    await expect(polling).rejects.toBe(reason);
    await transport.close();
  });
});
