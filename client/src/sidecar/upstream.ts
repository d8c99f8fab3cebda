import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { MeshEndpoint } from '../mesh/index.js';
import type { Cancellation } from './cancellation.js';
import { streamBody } from './stream-body.js';

/** One attempt's request, ready to send. */
export interface UpstreamRequest {
  readonly method: string;
  /** Path and query, as the caller sent them. */
  readonly path: string;
  /** Flat `[name, value, ...]` list. */
  readonly headers: readonly string[];
  /**
   * A buffer can be sent again by a retry; a stream (the caller's request, when its route can never
   * retry) is sent once, as it arrives.
   */
  readonly body: Buffer | Readable | undefined;
}

/**
 * A response body, read once: streamed to the caller or thrown away. Not a Readable: on a proxy's
 * request path a stream per response, and `pipe` between two, cost a tenth of the CPU.
 */
export interface UpstreamBody {
  /** True once the body is done with (read to its end, failed, discarded or destroyed): its connection is free. */
  readonly closed: boolean;
  /** Runs `listener` once when closed (at once if already). One listener per body. */
  onClose(listener: () => void): void;
  /**
   * Writes the body into `res` and ends it, honouring back-pressure. If the body fails midway, `res` is
   * destroyed (a truncated body must not pass for a whole one). `done` is called once, when the body
   * is finished with either way.
   */
  pipeTo(res: ServerResponse, done: () => void): void;
  /** Throws the body away, letting its connection be reused when that is cheap. */
  discard(): void;
  /** Abandons the body and its connection. */
  destroy(): void;
}

export interface UpstreamResponse {
  readonly statusCode: number;
  /** Flat `[name, value, ...]` list as received: original order, repeats kept, values byte for byte (latin1). */
  readonly headers: readonly string[];
  readonly body: UpstreamBody;
}

/**
 * The seam between the proxy's decisions and the wire. `send` resolves at response headers and rejects
 * when no response came (connect failure, reset, abort via `signal`); aborting after the headers
 * destroys the body. The real implementation pools connections per endpoint (UndiciUpstream).
 */
export interface Upstream {
  send(
    endpoint: MeshEndpoint,
    maxConnections: number,
    request: UpstreamRequest,
    signal: Cancellation,
  ): Promise<UpstreamResponse>;
  /** Keeps pools only for these endpoints (and those still in use). Called on every routes swap. */
  retain(endpoints: Iterable<{ endpoint: MeshEndpoint; maxConnections: number }>): void;
  close(): Promise<void>;
}

/** Throws a Readable away, letting its connection be reused when that is cheap (undici's `dump`). */
export function discardBody(body: Readable): void {
  const dump = (body as Readable & { dump?: () => Promise<void> }).dump;
  if (typeof dump === 'function') dump.call(body).catch(() => undefined);
  else body.destroy();
}

/** An UpstreamBody over a Node Readable: for Upstream implementations that produce streams (test doubles). */
export function readableBody(body: Readable): UpstreamBody {
  return {
    get closed() {
      return body.closed;
    },
    onClose(listener) {
      if (body.closed) listener();
      else body.once('close', listener);
    },
    pipeTo(res, done) {
      streamBody(body, res, done);
    },
    discard() {
      discardBody(body);
    },
    destroy() {
      body.destroy();
    },
  };
}
