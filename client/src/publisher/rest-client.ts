import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { Clock } from '../core/clock.js';
import { decodeErrorResponse } from '../core/error-response.js';
import {
  ClosedError,
  InternalError,
  MeshpressError,
  TooManyRequestsError,
  UnavailableError,
  ValidationError,
} from '../core/errors.js';
import { displayUrl } from '../core/safe-url.js';
import { toFieldIssues } from '../core/validation.js';
import { sleep } from './abortable-sleep.js';
import { NoAnswerError } from './no-answer-error.js';
import { retryDelayMs } from './retry-delay.js';

export type HttpMethod = 'GET' | 'PUT' | 'POST' | 'DELETE';

export type QueryValue = string | number | readonly string[] | undefined;

export interface RestRequest {
  readonly method: HttpMethod;
  /** Path with every dynamic segment already percent-encoded, e.g. `/v1/topics/a.b/pins/%2A`. */
  readonly path: string;
  readonly query?: Readonly<Record<string, QueryValue>>;
  /** A JSON body. */
  readonly json?: unknown;
  /** A raw body (bytes, or a stream for progress reporting; streams are never retried). */
  readonly body?: {
    readonly data: Uint8Array | ReadableStream<Uint8Array>;
    readonly contentType: string;
    readonly length: number;
  };
  /** Overrides the client's per-attempt timeout (a long-poll needs its wait plus a margin). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal | undefined;
  /** What the request is about, to complete error details. */
  readonly topic?: string;
  readonly version?: number;
}

export interface RestClientOptions {
  readonly baseUrl: string;
  readonly principal?: string | undefined;
  readonly app?: string | undefined;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly clock: Clock;
  readonly random: () => number;
  /** Names the owner in ClosedError messages. */
  readonly owner?: string;
}

const USER_AGENT = 'meshpress-client/0.1';

/**
 * JSON-over-HTTP to a meshpress server: one place for headers, timeouts, retries of idempotent calls,
 * decoding error bodies into MeshpressErrors and validating every response before it is trusted.
 */
export class RestClient {
  readonly #options: RestClientOptions;
  readonly #closing = new AbortController();

  constructor(options: RestClientOptions) {
    this.#options = options;
  }

  get baseUrl(): string {
    return this.#options.baseUrl;
  }

  /** Sends the request and validates the JSON answer; `body` is undefined for 204 No Content. */
  async json<S extends z.ZodType>(
    request: RestRequest,
    schema: S,
  ): Promise<{ status: number; body: z.output<S> | undefined; afterNoAnswer: boolean }> {
    const { value, afterNoAnswer } = await this.#send(request, async (response, operation) => {
      if (response.status === 204) return { status: 204, body: undefined };
      const text = await response.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (cause) {
        throw new InternalError(`${operation}: the answer is not JSON`, { cause });
      }
      const parsed = schema.safeParse(body);
      if (!parsed.success) {
        const issues = toFieldIssues(parsed.error)
          .slice(0, 5)
          .map((i) => `${i.path}: ${i.message}`);
        throw new InternalError(`${operation}: unexpected answer from the server (${issues.join('; ')})`);
      }
      return { status: response.status, body: parsed.data as z.output<S> };
    });
    return { ...value, afterNoAnswer };
  }

  /** Like `json` for calls that always answer with a body. */
  async jsonBody<S extends z.ZodType>(request: RestRequest, schema: S): Promise<z.output<S>> {
    const { body } = await this.json(request, schema);
    if (body === undefined) throw new InternalError(`${describe(request)}: the server answered with no body`);
    return body;
  }

  /** Sends the request and returns the raw answer bytes with their headers. */
  async bytes(request: RestRequest): Promise<{ data: Uint8Array; headers: Headers }> {
    const { value } = await this.#send(request, async (response) => ({
      data: new Uint8Array(await response.arrayBuffer()),
      headers: response.headers,
    }));
    return value;
  }

  /** Aborts every request in flight; later requests fail with ClosedError. Idempotent. */
  close(): void {
    if (!this.#closing.signal.aborted) this.#closing.abort(new ClosedError(this.#owner));
  }

  get #owner(): string {
    return this.#options.owner ?? 'meshpress REST client';
  }

  /**
   * `afterNoAnswer`: an earlier attempt went out and got no answer, so it may have taken effect and the
   * answer returned may describe the state it left (a DELETE finding nothing to delete).
   */
  async #send<T>(
    request: RestRequest,
    read: (response: Response, operation: string) => Promise<T>,
  ): Promise<{ value: T; afterNoAnswer: boolean }> {
    const operation = describe(request);
    const retryable = request.method !== 'POST' && !(request.body?.data instanceof ReadableStream);
    const maxAttempts = retryable ? this.#options.retries + 1 : 1;
    // One id for every attempt, so the server's logs show the retries of one call together.
    const requestId = randomUUID();
    let afterNoAnswer = false;
    for (let attempt = 0; ; attempt++) {
      try {
        return { value: await this.#attempt(request, operation, requestId, read), afterNoAnswer };
      } catch (error) {
        if (error instanceof NoAnswerError) afterNoAnswer = true;
        const again =
          attempt + 1 < maxAttempts &&
          (error instanceof UnavailableError || error instanceof TooManyRequestsError);
        if (!again) throw error;
        const jitter = retryDelayMs(
          attempt,
          this.#options.retryBaseMs,
          this.#options.retryMaxMs,
          this.#options.random,
        );
        const delay = error instanceof TooManyRequestsError ? Math.max(jitter, error.retryAfterMs) : jitter;
        await sleep(this.#options.clock, delay, this.#signals(request.signal)).catch((reason) => {
          throw this.#abortError(reason, request.signal, operation);
        });
      }
    }
  }

  async #attempt<T>(
    request: RestRequest,
    operation: string,
    requestId: string,
    read: (response: Response, operation: string) => Promise<T>,
  ): Promise<T> {
    if (this.#closing.signal.aborted) throw new ClosedError(this.#owner);
    const timeoutMs = request.timeoutMs ?? this.#options.timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = this.#signals(request.signal, timeout);
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': USER_AGENT,
      'x-request-id': requestId,
    };
    if (this.#options.principal) headers['x-meshpress-principal'] = this.#options.principal;
    if (this.#options.app) headers['x-meshpress-app'] = this.#options.app;
    const init: RequestInit & { duplex?: 'half' } = { method: request.method, headers, signal };
    if (request.json !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(request.json);
    } else if (request.body) {
      headers['content-type'] = request.body.contentType;
      init.body = request.body.data as NonNullable<RequestInit['body']>;
      if (request.body.data instanceof ReadableStream) init.duplex = 'half';
    }
    try {
      const response = await fetch(this.#url(request), init);
      if (!response.ok) {
        const text = await response.text();
        throw decodeErrorResponse(response.status, text, response.headers, {
          operation,
          topic: request.topic,
          version: request.version,
        });
      }
      return await read(response, operation);
    } catch (error) {
      if (signal.aborted) {
        if (timeout.aborted && !this.#closing.signal.aborted && !request.signal?.aborted)
          throw new NoAnswerError(
            `${operation}: no answer from ${displayUrl(this.baseUrl)} within ${timeoutMs} ms`,
            {
              cause: error,
            },
          );
        throw this.#abortError(signal.reason, request.signal, operation);
      }
      if (error instanceof MeshpressError) throw error;
      // fetch refusing to build the request (a header value it cannot send) is not an outage: retrying
      // or reporting "cannot reach" would hide a bad input. Network failures always carry a cause.
      if (error instanceof TypeError && error.cause === undefined)
        throw new ValidationError(`${operation}: the request cannot be sent (${error.message})`, [
          { path: 'request', message: error.message },
        ]);
      const reason = networkReason(error);
      if (BROKEN_AFTER_CONNECTING.has(reason))
        throw new NoAnswerError(
          `${operation}: the connection to ${displayUrl(this.baseUrl)} broke before an answer (${reason})`,
          { cause: error },
        );
      throw new UnavailableError(`${operation}: cannot reach ${displayUrl(this.baseUrl)} (${reason})`, {
        cause: error,
      });
    }
  }

  #abortError(reason: unknown, userSignal: AbortSignal | undefined, operation: string): unknown {
    if (this.#closing.signal.aborted) return new ClosedError(this.#owner);
    if (userSignal?.aborted) return userSignal.reason;
    return reason instanceof Error ? reason : new UnavailableError(`${operation}: aborted`);
  }

  #signals(...signals: (AbortSignal | undefined)[]): AbortSignal {
    return AbortSignal.any([
      this.#closing.signal,
      ...signals.filter((s): s is AbortSignal => s !== undefined),
    ]);
  }

  #url(request: RestRequest): string {
    const url = new URL(this.baseUrl + request.path);
    for (const [key, value] of Object.entries(request.query ?? {})) {
      if (value === undefined) continue;
      if (typeof value === 'string' || typeof value === 'number') url.searchParams.append(key, String(value));
      else for (const item of value) url.searchParams.append(key, item);
    }
    return url.toString();
  }
}

function describe(request: RestRequest): string {
  return `${request.method} ${request.path}`;
}

/** Failures of a connection already made: the request may have reached the server. */
const BROKEN_AFTER_CONNECTING = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

/** The most useful words of a fetch failure: undici hides the socket error in `cause`. */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}
