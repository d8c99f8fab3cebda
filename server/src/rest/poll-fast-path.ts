import type { IncomingMessage, ServerResponse } from 'node:http';
import { MalformedRequestError, PayloadTooLargeError } from '@meshpress/client';
import type { Logger } from 'pino';
import secureJson from 'secure-json-parse';
import { PollInputMemo } from '../core/poll-input-memo.js';
import type { PollUpdate } from '../core/poll-rule.js';
import { requestIdFrom } from '../core/request-id.js';
import type { MeshpressService } from '../core/service.js';
import type { HistogramCell } from '../hot-metrics.js';
import type { AppConcurrencyLimiter } from '../limits/app-concurrency-limiter.js';
import { ANONYMOUS_APP } from '../limits/app-key.js';
import { releaseWhenDone } from '../limits/rest-limiter.js';
import type { PollOutcomeCounters, ServerMetrics } from '../metrics.js';
import { callerFromHeaders } from './caller-headers.js';
import { failedRequest } from './failed-request.js';
import { pollUntilAnswered } from './poll-call.js';
import { type PollResponseBody, pollResponseBody } from './poll-response.js';

export const POLL_PATH = '/v1/poll';

/** A poll names at most 1,000 topics of at most 200 characters: its JSON stays far below this. */
export const MAX_POLL_BODY_BYTES = 1024 * 1024;

export interface PollFastPathOptions {
  readonly service: MeshpressService;
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
  readonly limiter: AppConcurrencyLimiter | undefined;
  /** False while draining: answers then close their connection. */
  readonly isReady: () => boolean;
}

/** Fastify's words for the same failures, so both paths answer alike. */
const INVALID_JSON = "Body is not valid JSON but content-type is set to 'application/json'";
const EMPTY_JSON = "Body cannot be empty when content-type is set to 'application/json'";

/** Parsed as Fastify parses JSON bodies: a `__proto__` or `constructor.prototype` key is refused. */
const JSON_OPTIONS = { protoAction: 'error', constructorAction: 'error' } as const;

/**
 * `POST /v1/poll` with a JSON body, answered by Node's http server before Fastify sees the request.
 *
 * Polls are nearly all of a consumer instance's traffic, and Fastify's per-request machinery (routing,
 * hook chains, a child logger, reply serialization) cost more than the poll itself: with it a poll cost
 * about three times a hello-world request. Here the same steps run inline and in the same order: request
 * id, per-app admission, body limit, JSON parse, `service.pollNow` (which validates), the answer JSON shared
 * with the Fastify route (`pollResponseBody`), errors through `failedRequest` (same codes, bodies, logs
 * and metrics). Anything else — another path, a query string, another content type, `inject()` in
 * tests — falls through to Fastify, whose `/v1/poll` route answers it with the same results.
 */
export class PollFastPath {
  readonly #options: PollFastPathOptions;
  readonly #duration: HistogramCell;
  readonly #outcome: PollOutcomeCounters;
  readonly #inputs = new PollInputMemo();

  constructor(options: PollFastPathOptions) {
    this.#options = options;
    const { metrics } = options;
    this.#duration = metrics.requestDuration.labels('rest', POLL_PATH);
    this.#outcome = metrics.pollOutcomes('rest');
  }

  /** Serves the request when it is a JSON poll and answers true; false leaves it to the caller. */
  handle(request: IncomingMessage, response: ServerResponse): boolean {
    if (request.method !== 'POST' || request.url !== POLL_PATH || !isJson(request.headers['content-type']))
      return false;
    this.#serve(request, response);
    return true;
  }

  #serve(request: IncomingMessage, response: ServerResponse): void {
    const started = performance.now();
    const requestId = requestIdFrom(request.headers['x-request-id']);
    const caller = callerFromHeaders(request.headers, requestId);
    const { limiter } = this.#options;
    let held = false;
    if (limiter) {
      const key = caller.app ?? ANONYMOUS_APP;
      const listener = limiter.acquire(key);
      if (!listener) {
        this.#fail(response, requestId, started, limiter.tooManyRequests(key));
        return;
      }
      releaseWhenDone(response, listener, () => held);
    }
    readBody(request, MAX_POLL_BODY_BYTES, (failure, text) => {
      if (failure) return this.#fail(response, requestId, started, failure);
      let answer: PollUpdate[] | Promise<PollUpdate[]>;
      try {
        const input = this.#inputs.parse(text, parseJson);
        held = input.waitMs > 0;
        answer = pollUntilAnswered(this.#options.service, caller, input, response);
      } catch (err) {
        return this.#fail(response, requestId, started, err);
      }
      // Nothing thrown past this point may escape: there is no framework above to turn it into a 500.
      const respond = (updates: PollUpdate[]): void => {
        try {
          this.#answer(response, requestId, started, updates);
        } catch (err) {
          this.#fail(response, requestId, started, err);
        }
      };
      if (Array.isArray(answer)) return respond(answer);
      answer.then(respond, (err: unknown) => this.#fail(response, requestId, started, err));
    });
  }

  #answer(response: ServerResponse, requestId: string, started: number, updates: PollUpdate[]): void {
    if (updates.length === 0) {
      this.#outcome.none.inc();
      this.#send(response, 204, requestId, started, undefined);
    } else {
      this.#outcome.update.inc();
      this.#send(response, 200, requestId, started, pollResponseBody(updates));
    }
  }

  #fail(response: ServerResponse, requestId: string, started: number, err: unknown): void {
    const failure = failedRequest(err, this.#options.metrics, this.#options.logger.child({ requestId }));
    this.#outcome.error.inc();
    const json = JSON.stringify(failure.body);
    this.#send(
      response,
      failure.status,
      requestId,
      started,
      { json, bytes: Buffer.byteLength(json) },
      failure.retryAfter,
    );
  }

  #send(
    response: ServerResponse,
    status: number,
    requestId: string,
    started: number,
    body: PollResponseBody | undefined,
    retryAfter?: string,
  ): void {
    // A long-poll whose caller went away has nobody to answer.
    if (response.destroyed || response.headersSent) return;
    const headers: string[] = ['x-request-id', requestId];
    if (body !== undefined)
      headers.push('content-type', 'application/json; charset=utf-8', 'content-length', String(body.bytes));
    if (retryAfter !== undefined) headers.push('retry-after', retryAfter);
    // A body over the limit may still be arriving: closing is cheaper than reading it to the end.
    if (status === 413 || !this.#options.isReady()) headers.push('connection', 'close');
    response.writeHead(status, headers);
    response.end(body?.json);
    this.#duration.observe((performance.now() - started) / 1000);
    const { logger } = this.#options;
    if (logger.isLevelEnabled('debug'))
      logger.debug(
        { requestId, statusCode: status, responseTimeMs: performance.now() - started },
        'poll answered',
      );
  }
}

/** Parsed as Fastify parses JSON bodies, failing with the same message. */
function parseJson(text: string): unknown {
  try {
    return mayPoison(text) ? secureJson.parse(text, undefined, JSON_OPTIONS) : JSON.parse(text);
  } catch (err) {
    throw new MalformedRequestError(INVALID_JSON, { cause: err });
  }
}

/**
 * Whether the text could spell a `__proto__` or `constructor` key, escaped or not: only then does the
 * full scan run (three substring searches cost less than its two regular expressions over every body).
 */
function mayPoison(text: string): boolean {
  return text.includes('__proto__') || text.includes('constructor') || text.includes('\\u');
}

function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  if (contentType === 'application/json') return true;
  const lower = contentType.toLowerCase();
  return lower.startsWith('application/json') && (lower.length === 16 || lower[16] === ';');
}

/**
 * Reads the whole body as UTF-8, refusing one over `limit` bytes (announced or actual) with 413, and an
 * empty one as Fastify does. A caller that disconnects midway gets no callback: its response's 'close'
 * frees what it held.
 */
function readBody(
  request: IncomingMessage,
  limit: number,
  done: (failure: Error | undefined, text: string) => void,
): void {
  const announced = Number(request.headers['content-length']);
  if (announced > limit) {
    done(new PayloadTooLargeError(announced, limit), '');
    return;
  }
  let first: Buffer | undefined;
  let rest: Buffer[] | undefined;
  let size = 0;
  let failed = false;
  request.on('data', (chunk: Buffer) => {
    if (failed) return;
    size += chunk.length;
    if (size > limit) {
      failed = true;
      done(new PayloadTooLargeError(size, limit), '');
      return;
    }
    if (first === undefined) first = chunk;
    else (rest ??= [first]).push(chunk);
  });
  request.on('end', () => {
    if (failed) return;
    if (size === 0) return done(new MalformedRequestError(EMPTY_JSON), '');
    const text = (rest ? Buffer.concat(rest, size) : first!).toString('utf8');
    // These listeners stay attached as long as a long-poll is held: they need not keep its bytes too.
    first = rest = undefined;
    done(undefined, text);
  });
}
