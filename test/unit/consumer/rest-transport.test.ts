import { MisdirectedError, TooManyRequestsError, UnavailableError, ValidationError } from '@meshpress/client';
import { describe, expect, it } from 'vitest';
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
