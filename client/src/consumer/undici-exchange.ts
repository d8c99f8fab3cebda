import type { IncomingHttpHeaders } from 'node:http';
import { Pool } from 'undici';
import { type BufferedResponse, dispatchBuffered } from './buffered-dispatch.js';
import type { HttpAnswer, HttpCall, HttpExchange } from './http-exchange.js';

/**
 * fetch's defaults, kept so the switch from fetch changes no timing: a long-poll is bounded by the
 * caller's signal (request timeout plus the wait), not by these.
 */
const HEADERS_TIMEOUT_MS = 300_000;
const BODY_TIMEOUT_MS = 300_000;

interface Target {
  readonly pool: Pool;
  /** The server URL's path (`/base` of `http://b:2/base`), prefixed to every request path. */
  readonly prefix: string;
}

/**
 * HTTP through one keep-alive undici Pool per server origin, with `dispatch` and a buffering handler
 * rather than fetch or `request`: no WHATWG Request/Response/Headers objects, no streams, no
 * per-request AbortController, which made up most of a subscriber's CPU per applied update.
 */
export class UndiciExchange implements HttpExchange {
  readonly #pools = new Map<string, Pool>();
  readonly #targets = new Map<string, Target>();
  #closing: Promise<void> | undefined;

  send(base: string, path: string, call: HttpCall): Promise<HttpAnswer> {
    let target: Target;
    try {
      target = this.#target(base);
    } catch (error) {
      return Promise.reject(error);
    }
    return dispatchBuffered(
      target.pool,
      {
        method: call.method,
        path: `${target.prefix}${path}`,
        headers: call.headers,
        body: call.body ?? null,
        headersTimeout: HEADERS_TIMEOUT_MS,
        bodyTimeout: BODY_TIMEOUT_MS,
      },
      call.signal,
    ).then(toAnswer);
  }

  /** Destroys the pools rather than waiting: a held long-poll would otherwise keep close() waiting. */
  close(): Promise<void> {
    this.#closing ??= Promise.all([...this.#pools.values()].map((pool) => pool.destroy())).then(
      () => undefined,
      () => undefined,
    );
    return this.#closing;
  }

  #target(base: string): Target {
    let target = this.#targets.get(base);
    if (target) return target;
    const url = new URL(base);
    let pool = this.#pools.get(url.origin);
    if (!pool) {
      pool = new Pool(url.origin, { headersTimeout: HEADERS_TIMEOUT_MS, bodyTimeout: BODY_TIMEOUT_MS });
      this.#pools.set(url.origin, pool);
    }
    target = { pool, prefix: url.pathname.replace(/\/+$/, '') };
    this.#targets.set(base, target);
    return target;
  }
}

const toAnswer = (response: BufferedResponse): HttpAnswer =>
  new BufferedAnswer(response.status, response.headers, response.body);

/** A whole answer in memory: one object with methods rather than a closure per method per answer. */
class BufferedAnswer implements HttpAnswer {
  readonly headers: HttpAnswer['headers'];

  constructor(
    readonly status: number,
    headers: IncomingHttpHeaders,
    private readonly body: Buffer,
  ) {
    this.headers = new HeaderReader(headers);
  }

  text(): string {
    return this.body.toString('utf8');
  }

  async bytes(): Promise<Uint8Array> {
    // A copy: the body may be a slice of a much larger socket buffer that it would keep alive.
    return new Uint8Array(this.body);
  }

  async discard(): Promise<void> {
    // The body was read in full: the connection is free already.
  }
}

class HeaderReader {
  constructor(private readonly headers: IncomingHttpHeaders) {}

  get(name: string): string | null {
    const value = this.headers[name.toLowerCase()];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(', ') : value;
  }
}
