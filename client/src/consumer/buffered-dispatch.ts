import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { type AbortWatcher, unwatchAbort, watchAbort } from './abort.js';

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

class BufferingHandler implements Dispatcher.DispatchHandler, AbortWatcher {
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
    // One listener per signal, shared by its requests (abort.ts); #settle stops watching.
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
    unwatchAbort(this.signal, this);
    return true;
  }
}
