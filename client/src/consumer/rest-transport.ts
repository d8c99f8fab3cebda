import { z } from 'zod';
import { decodeErrorResponse } from '../core/error-response.js';
import { MisdirectedError, UnavailableError, ValidationError } from '../core/errors.js';
import type { VersionRecord } from '../core/model.js';
import { displayUrl, serverUrlProblem } from '../core/safe-url.js';
import { toFieldIssues } from '../core/validation.js';
import { asTransportError } from '../core/wire-error.js';
import { fromPollUpdateView, fromVersionView, pollUpdateView, versionView } from '../wire/rest-views.js';
import type { CallerHeaders, PollRequest, PollTransport, PollUpdate } from './transport.js';

const pollResponse = z.object({ updates: z.array(pollUpdateView) });
const historyResponse = z.object({ versions: z.array(versionView), nextBefore: z.number().int().optional() });

export interface RestTransportOptions {
  /** Base URLs of meshpress servers (e.g. `http://meshpress:8080`); the next one is used after a failure. */
  readonly urls: readonly string[];
  readonly caller?: CallerHeaders | undefined;
  /** Replaceable for tests; the global fetch by default. */
  readonly fetch?: typeof fetch | undefined;
}

/** The consumer side of REST v1: `POST /v1/poll`, `GET …/data`, `GET …/versions`. */
export class RestTransport implements PollTransport {
  readonly #urls: readonly string[];
  readonly #headers: Record<string, string>;
  readonly #fetch: typeof fetch;
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
    this.#fetch = options.fetch ?? fetch;
    this.#headers = {};
    if (options.caller?.app) this.#headers['x-meshpress-app'] = options.caller.app;
    if (options.caller?.principal) this.#headers['x-meshpress-principal'] = options.caller.principal;
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
    const response = await this.#request('POST /v1/poll', '/v1/poll', request.signal, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (response.status === 204) return [];
    const parsed = decode(pollResponse, await readJson(response, request.signal), 'poll response');
    return parsed.updates.map(fromPollUpdateView);
  }

  async fetchData(topic: string, version: number, signal: AbortSignal): Promise<Uint8Array> {
    const path = `/v1/topics/${encodeURIComponent(topic)}/versions/${version}/data`;
    const response = await this.#request(`GET ${path}`, path, signal, { method: 'GET' });
    try {
      return new Uint8Array(await response.arrayBuffer());
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
    const response = await this.#request(`GET ${path}`, path, signal, { method: 'GET' });
    const parsed = decode(historyResponse, await readJson(response, signal), 'version history');
    return parsed.versions.map(fromVersionView);
  }

  async close(): Promise<void> {
    // fetch pools connections globally; nothing of ours stays open once requests are aborted.
    this.#closed = true;
  }

  /**
   * One request to the current server. A network failure, a 5xx, or an answer saying this server cannot
   * serve it (MISDIRECTED: an instance of another role) moves later requests to the next URL.
   */
  async #request(what: string, path: string, signal: AbortSignal, init: RequestInit): Promise<Response> {
    if (this.#closed) throw new UnavailableError('REST transport is closed');
    const index = this.#next % this.#urls.length;
    let response: Response;
    try {
      response = await this.#fetch(`${this.#urls[index]}${path}`, {
        ...init,
        headers: { ...this.#headers, ...(init.headers as Record<string, string> | undefined) },
        signal,
      });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      this.#next = index + 1;
      throw asTransportError(error, what);
    }
    if (response.ok) return response;
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

async function readJson(response: Response, signal: AbortSignal): Promise<unknown> {
  try {
    return await response.json();
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
