import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Cancellation } from './cancellation.js';
import type { UpstreamBody, UpstreamResponse } from './upstream.js';

/** As undici's `body.dump()`: a discarded body up to this size is read off so its connection is reused. */
const DISCARD_LIMIT_BYTES = 128 * 1024;
/** Body bytes held before anyone reads them; beyond, the upstream connection is paused. */
const BUFFER_LIMIT_BYTES = 64 * 1024;

/** No response headers yet. */
const WAITING = 0;
/** Headers arrived; the body is coming. */
const BODY = 1;
/** The whole body arrived. */
const COMPLETE = 2;
/** The exchange failed or was abandoned. */
const FAILED = 3;
type Phase = typeof WAITING | typeof BODY | typeof COMPLETE | typeof FAILED;

/** Why an exchange was abandoned by `destroy()`. */
class BodyDestroyed extends Error {
  constructor() {
    super('the response body was destroyed');
    this.name = 'BodyDestroyed';
  }
}

/**
 * One upstream request over undici's `dispatch`: the undici handler, the response and its body in one
 * object. Compared with `Pool.request`, there is no Readable per response, no `pipe` and no async
 * resource: body chunks go straight from the upstream parser to the caller's response, and back-pressure
 * pauses the upstream connection. The caller's signal is watched until the body ends, so a timeout or a
 * caller that leaves while the body streams aborts the upstream request.
 */
export class UpstreamExchange implements Dispatcher.DispatchHandler, UpstreamResponse, UpstreamBody {
  statusCode = 0;
  headers: readonly string[] = NO_HEADERS;
  readonly body: UpstreamBody = this;
  closed = false;
  /** Resolves at the response headers, rejects if none come. */
  readonly response: Promise<UpstreamResponse>;

  #phase: Phase = WAITING;
  #resolve!: (response: UpstreamResponse) => void;
  #reject!: (error: unknown) => void;
  readonly #signal: Cancellation;
  readonly #onRelease: () => void;
  #controller: Dispatcher.DispatchController | undefined = undefined;
  #chunks: Buffer[] | undefined = undefined;
  #buffered = 0;
  /** The upstream connection is paused (buffer full, or the caller's connection needs to drain). */
  #paused = false;
  #awaitingDrain = false;
  #sink: ServerResponse | undefined = undefined;
  #done: (() => void) | undefined = undefined;
  #discarding = false;
  #onClose: (() => void) | undefined = undefined;

  /** `onRelease` runs once when the exchange no longer uses its connection. */
  constructor(signal: Cancellation, onRelease: () => void) {
    this.#signal = signal;
    this.#onRelease = onRelease;
    this.response = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    signal.addAbortListener(this.#abortBySignal);
  }

  // --- undici handler --------------------------------------------------------------------------

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#signal.aborted) controller.abort(abortReason(this.#signal));
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    // 1xx are informational: the final response follows on the same request.
    if (statusCode < 200 || this.#phase !== WAITING) return;
    this.statusCode = statusCode;
    this.headers = flatHeaders(controller.rawHeaders, headers);
    this.#phase = BODY;
    this.#resolve(this);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#discarding) {
      this.#buffered += chunk.length;
      if (this.#buffered > DISCARD_LIMIT_BYTES) controller.abort(new BodyDestroyed());
      return;
    }
    const sink = this.#sink;
    if (sink !== undefined) {
      if (!sink.write(chunk)) this.#pauseUntilDrained(controller, sink);
      return;
    }
    // Nobody reads yet (the proxy is a few microtasks behind the parser): keep the chunk.
    if (this.#chunks === undefined) this.#chunks = [chunk];
    else this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    if (this.#buffered >= BUFFER_LIMIT_BYTES) {
      this.#paused = true;
      controller.pause();
    }
  }

  onResponseEnd(_controller?: Dispatcher.DispatchController, _trailers?: IncomingHttpHeaders): void {
    if (this.#phase !== BODY) return;
    this.#phase = COMPLETE;
    this.#signal.removeAbortListener(this.#abortBySignal);
    const sink = this.#sink;
    if (sink !== undefined) {
      sink.end();
      this.#finish();
    } else if (this.#discarding) this.#finish();
    this.#close();
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, error: Error): void {
    const phase = this.#phase;
    if (phase === FAILED || phase === COMPLETE) return;
    this.#phase = FAILED;
    this.#signal.removeAbortListener(this.#abortBySignal);
    this.#chunks = undefined;
    this.#close();
    if (phase === WAITING) {
      this.#reject(error);
      return;
    }
    // Midway through the body: the caller must not take a truncated body for a whole one.
    this.#sink?.destroy();
    if (this.#sink !== undefined || this.#discarding) this.#finish();
  }

  // --- UpstreamBody ------------------------------------------------------------------------------

  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.#onClose = listener;
  }

  pipeTo(res: ServerResponse, done: () => void): void {
    if (this.#sink !== undefined || this.#discarding)
      throw new Error('the response body is already being read');
    this.#sink = res;
    this.#done = done;
    if (this.#phase === FAILED) {
      res.destroy();
      this.#finish();
      return;
    }
    const chunks = this.#chunks;
    this.#chunks = undefined;
    this.#buffered = 0;
    if (this.#phase === COMPLETE) {
      // Usually the whole body came with the headers: one write with the end.
      if (chunks === undefined) res.end();
      else {
        const last = chunks.length - 1;
        for (let i = 0; i < last; i++) res.write(chunks[i]);
        res.end(chunks[last]);
      }
      this.#finish();
      return;
    }
    let writable = true;
    if (chunks !== undefined) for (const chunk of chunks) writable = res.write(chunk);
    if (!writable && this.#controller !== undefined) this.#pauseUntilDrained(this.#controller, res);
    else if (this.#paused) this.#resume();
  }

  discard(): void {
    if (this.#sink !== undefined || this.#discarding) return;
    this.#discarding = true;
    this.#chunks = undefined;
    if (this.#phase !== BODY) return;
    if (this.#buffered > DISCARD_LIMIT_BYTES) this.destroy();
    else if (this.#paused) this.#resume();
  }

  destroy(): void {
    this.#chunks = undefined;
    if (this.#phase !== BODY) return;
    const reason = new BodyDestroyed();
    if (this.#controller !== undefined) this.#controller.abort(reason);
    else this.onResponseError(undefined, reason);
  }

  // --- internals ---------------------------------------------------------------------------------

  readonly #abortBySignal = (): void => {
    const controller = this.#controller;
    if (controller !== undefined) {
      controller.abort(abortReason(this.#signal));
      return;
    }
    // Not yet on a connection (still connecting, or queued for one): undici cannot be told, so the
    // exchange fails now, freeing whoever waits on it (the attempt and its circuit slot), rather than when
    // the connect completes or times out. onRequestStart aborts the request if a connection comes.
    this.onResponseError(undefined, abortReason(this.#signal));
  };

  #pauseUntilDrained(controller: Dispatcher.DispatchController, sink: ServerResponse): void {
    if (!this.#paused) {
      this.#paused = true;
      controller.pause();
    }
    if (this.#awaitingDrain) return;
    this.#awaitingDrain = true;
    sink.once('drain', () => {
      this.#awaitingDrain = false;
      if (this.#phase === BODY && this.#paused) this.#resume();
    });
  }

  #resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#controller?.resume();
  }

  #finish(): void {
    const done = this.#done;
    if (done === undefined) return;
    this.#done = undefined;
    done();
  }

  #close(): void {
    if (this.closed) return;
    this.closed = true;
    this.#onRelease();
    const listener = this.#onClose;
    if (listener !== undefined) {
      this.#onClose = undefined;
      listener();
    }
  }
}

const NO_HEADERS: readonly string[] = Object.freeze([]);

/**
 * The response headers as a flat list. From undici's raw list when it has one: values byte for byte
 * (latin1, which is how Node writes them again), where the parsed object has them decoded as UTF-8, which
 * Node cannot write back (characters above U+00FF) or writes back as different bytes.
 */
function flatHeaders(
  raw: Dispatcher.DispatchController['rawHeaders'],
  parsed: IncomingHttpHeaders,
): string[] {
  const out: string[] = [];
  if (Array.isArray(raw)) {
    for (const item of raw) out.push(typeof item === 'string' ? item : item.toString('latin1'));
    return out;
  }
  for (const name in parsed) {
    const value = parsed[name];
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else if (value !== undefined) out.push(name, value);
  }
  return out;
}

/** undici needs an Error to fail a request with; the signal's own reason when it is one. */
function abortReason(signal: Cancellation): Error {
  const reason = signal.reason;
  return reason instanceof Error ? reason : new Error('the request was aborted');
}
