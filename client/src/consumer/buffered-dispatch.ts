import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';

export interface BufferedResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/**
 * One request through `dispatcher.dispatch`, its whole body buffered. Configuration answers are small
 * and always read in full, so the stream machinery of `request()` (a Readable per answer, its events and
 * ticks) is cost without use: after a publish, every subscriber of a fleet runs this path at once.
 * Aborting `signal` cancels the request wherever it is (queued, sent, or receiving).
 */
export function dispatchBuffered(
  dispatcher: Dispatcher,
  options: Dispatcher.DispatchOptions,
  signal: AbortSignal,
): Promise<BufferedResponse> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    dispatcher.dispatch(options, new BufferingHandler(signal, resolve, reject));
  });
}

/**
 * The requests in flight under each signal, told by one abort listener per signal. A poller's controller
 * serves poll after poll until something aborts it, and registering then removing a listener on Node's
 * EventTarget cost 2 to 3 µs per request, a few percent of a subscriber's CPU per applied update.
 */
const inFlight = new WeakMap<AbortSignal, Set<BufferingHandler>>();

function watchAbort(signal: AbortSignal, handler: BufferingHandler): void {
  let handlers = inFlight.get(signal);
  if (handlers === undefined) {
    const created = new Set<BufferingHandler>();
    inFlight.set(signal, created);
    // Each handler removes itself as it settles; a Set allows that while it is being iterated.
    signal.addEventListener('abort', () => {
      for (const each of created) each.aborted();
    });
    handlers = created;
  }
  handlers.add(handler);
}

class BufferingHandler implements Dispatcher.DispatchHandler {
  #controller: Dispatcher.DispatchController | undefined;
  #status = 0;
  #headers: IncomingHttpHeaders = {};
  #chunks: Buffer[] = [];
  #settled = false;

  constructor(
    private readonly signal: AbortSignal,
    private readonly resolve: (response: BufferedResponse) => void,
    private readonly reject: (reason: unknown) => void,
  ) {
    // #settle stops watching.
    watchAbort(signal, this);
  }

  /** The signal aborted. */
  aborted(): void {
    const reason = this.signal.reason;
    this.#controller?.abort(reason instanceof Error ? reason : new Error(String(reason)));
    this.#settle();
    this.reject(reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    // Aborted while queued: the caller has its rejection already; stop the request before it is sent.
    if (this.#settled) controller.abort(new Error('request aborted'));
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ) {
    // Informational (1xx) answers come first; the final one replaces them.
    this.#status = statusCode;
    this.#headers = headers;
    this.#chunks = [];
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#chunks.push(chunk);
  }

  onResponseEnd(): void {
    if (!this.#settle()) return;
    const chunks = this.#chunks;
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    this.resolve({ status: this.#status, headers: this.#headers, body });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.#settle()) this.reject(error);
  }

  /** Marks the request done; false when it already was (an abort raced the answer). */
  #settle(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    inFlight.get(this.signal)?.delete(this);
    return true;
  }
}
