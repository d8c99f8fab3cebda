import { z } from 'zod';
import { decodeErrorResponse } from '../core/error-response.js';
import { MisdirectedError, UnavailableError, ValidationError } from '../core/errors.js';
import type { VersionRecord } from '../core/model.js';
import { displayUrl, serverUrlProblem } from '../core/safe-url.js';
import { toFieldIssues } from '../core/validation.js';
import { asTransportError } from '../core/wire-error.js';
import { fromPollUpdateView, fromVersionView, pollUpdateView, versionView } from '../wire/rest-views.js';
import { fetchExchange, type HttpAnswer, type HttpCall, type HttpExchange } from './http-exchange.js';
import { readPollAnswer } from './poll-answer.js';
import { pollRequestJson } from './poll-request.js';
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

  poll(request: PollRequest): Promise<PollUpdate[]> {
    const { signal } = request;
    const sent = this.#request('POST /v1/poll', '/v1/poll', {
      method: 'POST',
      headers: this.#pollHeaders,
      body: pollRequestJson(request),
      signal,
    });
    return sent.then((response) =>
      response.status === 204
        ? response.discard().then(noUpdates)
        : readJson(response, signal, decodePollAnswer),
    );
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
    const parsed = decode(historyResponse, await readJson(response, signal, asIs), 'version history');
    return parsed.versions.map(fromVersionView);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#http.close();
  }

  /**
   * One request to the current server. A network failure, a 5xx, or an answer saying this server cannot
   * serve it (MISDIRECTED: an instance of another role) moves later requests to the next URL.
   *
   * Promise callbacks rather than an async function: a held long-poll would keep the suspended function
   * alive for as long as the server holds it.
   */
  #request(what: string, path: string, call: HttpCall): Promise<HttpAnswer> {
    if (this.#closed) return Promise.reject(new UnavailableError('REST transport is closed'));
    const { signal } = call;
    const index = this.#next % this.#urls.length;
    let sent: Promise<HttpAnswer>;
    try {
      sent = this.#http.send(this.#urls[index]!, path, call);
    } catch (error) {
      sent = Promise.reject(error);
    }
    return sent.then(
      (response) =>
        response.status >= 200 && response.status < 300
          ? response
          : this.#refused(what, index, response, signal),
      (error: unknown) => {
        if (signal.aborted) throw signal.reason;
        this.#next = index + 1;
        throw asTransportError(error, what);
      },
    );
  }

  /** The error a non-2xx answer stands for. */
  async #refused(what: string, index: number, response: HttpAnswer, signal: AbortSignal): Promise<never> {
    const text = await bodyText(response);
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

const noUpdates = (): PollUpdate[] => [];
const asIs = (json: unknown): unknown => json;

/** The common answer read directly; anything unusual through the zod schema, which names what is wrong. */
function decodePollAnswer(json: unknown): PollUpdate[] {
  return readPollAnswer(json) ?? decode(pollResponse, json, 'poll response').updates.map(fromPollUpdateView);
}

/**
 * Parses a JSON body and hands it to `then`; in the same turn when the body is already in memory. A body
 * that cannot be read or parsed is the server's fault (or the abort's, when the signal fired).
 */
function readJson<T>(response: HttpAnswer, signal: AbortSignal, then: (json: unknown) => T): T | Promise<T> {
  let text: string | Promise<string>;
  try {
    text = response.text();
  } catch (error) {
    throw notJson(error, signal);
  }
  if (typeof text === 'string') return then(parseJson(text, signal));
  return text.then(
    (body) => then(parseJson(body, signal)),
    (error: unknown) => {
      throw notJson(error, signal);
    },
  );
}

function parseJson(text: string, signal: AbortSignal): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw notJson(error, signal);
  }
}

function notJson(error: unknown, signal: AbortSignal): unknown {
  return signal.aborted
    ? signal.reason
    : new UnavailableError('server sent a body that is not JSON', { cause: error });
}

/** An error answer's body, or '' when it cannot be read. */
async function bodyText(response: HttpAnswer): Promise<string> {
  try {
    return await response.text();
  } catch {
    return '';
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
