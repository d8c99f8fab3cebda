import { z } from 'zod';
import { decodeErrorResponse } from '../core/error-response.js';
import { MisdirectedError, UnavailableError, ValidationError } from '../core/errors.js';
import type { VersionRecord } from '../core/model.js';
import { displayUrl, serverUrlProblem } from '../core/safe-url.js';
import { toFieldIssues } from '../core/validation.js';
import { asTransportError } from '../core/wire-error.js';
import { fromPollUpdateView, fromVersionView, pollUpdateView, versionView } from '../wire/rest-views.js';
import { fetchExchange, type HttpAnswer, type HttpCall, type HttpExchange } from './http-exchange.js';
import type { CallerHeaders, PollRequest, PollTransport, PollUpdate } from './transport.js';
import { UndiciExchange } from './undici-exchange.js';

const pollResponse = z.object({ updates: z.array(pollUpdateView) });
const historyResponse = z.object({ versions: z.array(versionView), nextBefore: z.number().int().optional() });

export interface RestTransportOptions {
  /** Base URLs of meshpress servers (e.g. `http://meshpress:8080`); the next one is used after a failure. */
  readonly urls: readonly string[];
  readonly caller?: CallerHeaders | undefined;
  /** Replaceable (tests, a custom dispatcher); by default requests go through undici pools, not fetch. */
  readonly fetch?: typeof fetch | undefined;
}

/** The consumer side of REST v1: `POST /v1/poll`, `GET …/data`, `GET …/versions`. */
export class RestTransport implements PollTransport {
  readonly #urls: readonly string[];
  readonly #headers: Record<string, string>;
  /** Built once: every poll sends the same headers. */
  readonly #pollHeaders: Record<string, string>;
  readonly #http: HttpExchange;
  #next = 0;
  #closed = false;

  constructor(options: RestTransportOptions) {
    if (options.urls.length === 0) throw new RangeError('RestTransport needs at least one URL');
    const issues = options.urls.flatMap((url, i) => {
      const problem = serverUrlProblem(url);
      return problem ? [{ path: `urls.${i}`, message: `'${displayUrl(url)}' ${problem}` }] : [];
    });
    if (issues.length > 0)
      throw new ValidationError(`invalid RestTransport options (${issues[0]!.message})`, issues);
    this.#urls = options.urls.map((url) => url.replace(/\/+$/, ''));
    this.#http = options.fetch ? fetchExchange(options.fetch) : new UndiciExchange();
    this.#headers = {};
    if (options.caller?.app) this.#headers['x-meshpress-app'] = options.caller.app;
    if (options.caller?.principal) this.#headers['x-meshpress-principal'] = options.caller.principal;
    this.#pollHeaders = { ...this.#headers, 'content-type': 'application/json' };
  }

  async poll(request: PollRequest): Promise<PollUpdate[]> {
    const body = {
      identity: request.identity,
      topics: request.topics.map((t) =>
        t.currentVersion === undefined
          ? { topic: t.topic }
          : { topic: t.topic, currentVersion: t.currentVersion },
      ),
      ...(request.waitMs === undefined ? {} : { waitMs: request.waitMs }),
    };
    const response = await this.#request('POST /v1/poll', '/v1/poll', {
      method: 'POST',
      headers: this.#pollHeaders,
      body: JSON.stringify(body),
      signal: request.signal,
    });
    if (response.status === 204) {
      await response.discard();
      return [];
    }
    const parsed = decode(pollResponse, await readJson(response, request.signal), 'poll response');
    return parsed.updates.map(fromPollUpdateView);
  }

  async fetchData(topic: string, version: number, signal: AbortSignal): Promise<Uint8Array> {
    const path = `/v1/topics/${encodeURIComponent(topic)}/versions/${version}/data`;
    const response = await this.#request(`GET ${path}`, path, {
      method: 'GET',
      headers: this.#headers,
      signal,
    });
    try {
      return await response.bytes();
    } catch (error) {
      throw signal.aborted ? signal.reason : asTransportError(error, `reading ${path}`);
    }
  }

  async history(
    topic: string,
    before: number | undefined,
    limit: number,
    signal: AbortSignal,
  ): Promise<VersionRecord[]> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (before !== undefined) query.set('before', String(before));
    const path = `/v1/topics/${encodeURIComponent(topic)}/versions?${query}`;
    const response = await this.#request(`GET ${path}`, path, {
      method: 'GET',
      headers: this.#headers,
      signal,
    });
    const parsed = decode(historyResponse, await readJson(response, signal), 'version history');
    return parsed.versions.map(fromVersionView);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#http.close();
  }

  /**
   * One request to the current server. A network failure, a 5xx, or an answer saying this server cannot
   * serve it (MISDIRECTED: an instance of another role) moves later requests to the next URL.
   */
  async #request(what: string, path: string, call: HttpCall): Promise<HttpAnswer> {
    if (this.#closed) throw new UnavailableError('REST transport is closed');
    const { signal } = call;
    const index = this.#next % this.#urls.length;
    let response: HttpAnswer;
    try {
      response = await this.#http.send(this.#urls[index]!, path, call);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      this.#next = index + 1;
      throw asTransportError(error, what);
    }
    if (response.status >= 200 && response.status < 300) return response;
    const text = await response.text().catch(() => '');
    if (signal.aborted) throw signal.reason;
    // Not a meshpress answer (a proxy, a server mid-shutdown): the service is not usable right now.
    const error = decodeErrorResponse(response.status, text, response.headers, {
      operation: what,
      foreignAnswers: 'unavailable',
    });
    if (response.status >= 500 || error instanceof MisdirectedError || error instanceof UnavailableError)
      this.#next = index + 1;
    throw error;
  }
}

async function readJson(response: HttpAnswer, signal: AbortSignal): Promise<unknown> {
  try {
    return JSON.parse(await response.text());
  } catch (error) {
    throw signal.aborted
      ? signal.reason
      : new UnavailableError('server sent a body that is not JSON', { cause: error });
  }
}

/** A response that does not match the contract is a broken server, not a bad request of ours. */
function decode<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = toFieldIssues(result.error);
  throw new UnavailableError(`server sent an invalid ${what}`, {
    cause: new ValidationError(`invalid ${what}`, issues),
  });
}
