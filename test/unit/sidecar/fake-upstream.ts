import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { MeshEndpoint } from '../../../client/src/mesh/index.js';
import type { Cancellation } from '../../../client/src/sidecar/cancellation.js';
import {
  readableBody,
  type Upstream,
  type UpstreamRequest,
  type UpstreamResponse,
} from '../../../client/src/sidecar/upstream.js';
import { UpstreamExchange } from '../../../client/src/sidecar/upstream-exchange.js';

export interface UpstreamCall {
  readonly host: string;
  readonly request: UpstreamRequest;
  readonly signal: Cancellation;
  /** Header value from the flat list. */
  header(name: string): string | undefined;
}

/**
 * The wire seam, scripted: unit tests decide each attempt's fate (status, failure, hang) at an exact
 * moment on a ManualClock, which a real socket cannot do deterministically. Real upstreams are used by
 * the e2e tests.
 */
export class ScriptedUpstream implements Upstream {
  readonly calls: UpstreamCall[] = [];
  retained = 0;

  constructor(readonly answer: (call: UpstreamCall) => Promise<UpstreamResponse>) {}

  send(
    endpoint: MeshEndpoint,
    _max: number,
    request: UpstreamRequest,
    signal: Cancellation,
  ): Promise<UpstreamResponse> {
    const call: UpstreamCall = {
      host: endpoint.host,
      request,
      signal,
      header(name) {
        for (let i = request.headers.length - 2; i >= 0; i -= 2)
          if (request.headers[i]!.toLowerCase() === name) return request.headers[i + 1];
        return undefined;
      },
    };
    this.calls.push(call);
    return this.answer(call);
  }

  retain(): void {
    this.retained++;
  }

  async close(): Promise<void> {}
}

export function reply(status: number, text: string): Promise<UpstreamResponse> {
  return Promise.resolve({
    statusCode: status,
    headers: ['content-type', 'text/plain'],
    body: readableBody(Readable.from([Buffer.from(text)])),
  });
}

/** Never answers; rejects with the abort reason like undici does. */
export function hang(signal: Cancellation): Promise<UpstreamResponse> {
  return new Promise((_, reject) => {
    signal.onAbort(() => reject(signal.reason));
  });
}

export function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** undici's side of a dispatch, driven by hand: abort() fails the request through the handler, as undici does. */
export class FakeController implements Dispatcher.DispatchController {
  aborted = false;
  paused = false;
  reason: Error | null = null;
  resumes = 0;
  rawHeaders: Buffer[] | null = null;
  constructor(readonly exchange: UpstreamExchange) {}
  abort(reason: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.exchange.onResponseError(this, reason);
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    this.resumes++;
  }
}

/**
 * A real UpstreamExchange for `call`, as UndiciUpstream makes one, with its undici side under the test's
 * control: `connect()` is undici getting a connection (onRequestStart), `respond()` the response head and
 * the start of its body.
 */
export function exchangeFor(call: UpstreamCall) {
  const exchange = new UpstreamExchange(call.signal, () => undefined);
  const controller = new FakeController(exchange);
  return {
    exchange,
    controller,
    connect() {
      exchange.onRequestStart(controller);
    },
    respond(status: number, firstChunk?: string) {
      controller.rawHeaders = [Buffer.from('content-type'), Buffer.from('text/plain')];
      exchange.onResponseStart(controller, status, {});
      if (firstChunk !== undefined) exchange.onResponseData(controller, Buffer.from(firstChunk));
    },
  };
}
