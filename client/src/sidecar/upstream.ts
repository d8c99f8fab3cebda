import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { MeshEndpoint } from '../mesh/index.js';
import type { Cancellation } from './cancellation.js';

/** One attempt's request, ready to send: the body is buffered so that it can be sent again on retry. */
export interface UpstreamRequest {
  readonly method: string;
  /** Path and query, as the caller sent them. */
  readonly path: string;
  /** Flat `[name, value, ...]` list. */
  readonly headers: readonly string[];
  readonly body: Buffer | undefined;
}

export interface UpstreamResponse {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
  /** Emits 'close' once consumed or destroyed; the connection is reusable only after that. */
  readonly body: Readable;
}

/**
 * The seam between the proxy's decisions and the wire. `send` resolves at response headers and rejects
 * when no response came (connect failure, reset, abort via `signal`); aborting after the headers
 * destroys the body. undici takes the Cancellation as its request signal. The real implementation pools connections per endpoint (UndiciUpstream).
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

/** Throws a response body away, letting its connection be reused when that is cheap. */
export function discardBody(body: Readable): void {
  const dump = (body as Readable & { dump?: () => Promise<void> }).dump;
  if (typeof dump === 'function') dump.call(body).catch(() => undefined);
  else body.destroy();
}
