import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Cancellation } from '../../../client/src/sidecar/cancellation.js';
import { UpstreamExchange } from '../../../client/src/sidecar/upstream-exchange.js';
import { FakeController } from './fake-upstream.js';

/**
 * The exchange driven as undici drives a dispatch handler, step by step, with a real Writable standing
 * in for the caller's response (its write callbacks released by the test, so back-pressure happens on
 * cue). Real sockets are exercised by test/e2e/sidecar-bodies.test.ts.
 */

/** A caller's response: keeps what it is given; with `manual`, each write completes when `release()`d. */
class Sink extends Writable {
  readonly received: Buffer[] = [];
  readonly #pending: (() => void)[] = [];
  constructor(readonly manual = false) {
    super({ highWaterMark: 16 });
  }
  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    this.received.push(chunk);
    if (this.manual) this.#pending.push(callback);
    else callback();
  }
  release(): void {
    for (const callback of this.#pending.splice(0)) callback();
  }
  get text(): string {
    return Buffer.concat(this.received).toString();
  }
}

function start(signal = new Cancellation()) {
  let released = 0;
  const exchange = new UpstreamExchange(signal, () => released++);
  const controller = new FakeController(exchange);
  exchange.onRequestStart(controller);
  const headers = (status = 200, raw: string[] = ['Content-Type', 'text/plain']) => {
    controller.rawHeaders = raw.map((h) => Buffer.from(h, 'latin1'));
    exchange.onResponseStart(controller, status, {});
  };
  return { exchange, controller, signal, headers, released: () => released };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('UpstreamExchange', () => {
  it('resolves at the final headers (1xx skipped), with the raw header list', async () => {
    const t = start();
    t.headers(100, ['X-Info', '1']);
    t.headers(200, ['Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2']);
    const response = await t.exchange.response;
    expect(response.statusCode).toBe(200);
    expect(response.headers).toEqual([
      'Content-Type',
      'text/plain',
      'Set-Cookie',
      'a=1',
      'Set-Cookie',
      'b=2',
    ]);
  });

  it('a body that came with the headers is held, then written and ended once read; the connection is freed at its end', async () => {
    const t = start();
    let closed = 0;
    t.headers();
    t.exchange.onResponseData(t.controller, Buffer.from('hel'));
    t.exchange.onResponseData(t.controller, Buffer.from('lo'));
    t.exchange.onResponseEnd(t.controller, {});
    t.exchange.onClose(() => closed++);
    expect([t.released(), closed, t.exchange.closed]).toEqual([1, 1, true]);
    const sink = new Sink();
    let done = 0;
    t.exchange.pipeTo(sink as unknown as ServerResponse, () => done++);
    await tick();
    expect([sink.text, sink.writableEnded, done]).toEqual(['hello', true, 1]);
  });

  it('pauses the upstream while the caller’s connection drains, and resumes after', async () => {
    const t = start();
    t.headers();
    const sink = new Sink(true);
    let done = 0;
    t.exchange.pipeTo(sink as unknown as ServerResponse, () => done++);
    t.exchange.onResponseData(t.controller, Buffer.alloc(64, 1));
    expect(t.controller.paused).toBe(true);
    sink.release();
    await tick();
    expect([t.controller.paused, t.controller.resumes]).toEqual([false, 1]);
    t.exchange.onResponseData(t.controller, Buffer.alloc(8, 2));
    t.exchange.onResponseEnd(t.controller, {});
    sink.release();
    await tick();
    expect([Buffer.concat(sink.received).length, sink.writableEnded, done]).toEqual([72, true, 1]);
  });

  it('holds at most 64 KiB before anyone reads, pausing the upstream beyond, and resumes once read', () => {
    const t = start();
    t.headers();
    t.exchange.onResponseData(t.controller, Buffer.alloc(40 * 1024));
    expect(t.controller.paused).toBe(false);
    t.exchange.onResponseData(t.controller, Buffer.alloc(40 * 1024));
    expect(t.controller.paused).toBe(true);
    t.exchange.pipeTo(new Sink() as unknown as ServerResponse, () => undefined);
    expect(t.controller.paused).toBe(false);
  });

  it('a body that fails midway destroys the caller’s response; done and the connection release run once', async () => {
    const t = start();
    t.headers();
    const sink = new Sink();
    sink.on('error', () => undefined);
    let done = 0;
    t.exchange.pipeTo(sink as unknown as ServerResponse, () => done++);
    t.exchange.onResponseData(t.controller, Buffer.from('part'));
    t.exchange.onResponseError(t.controller, new Error('other side closed'));
    t.exchange.onResponseError(t.controller, new Error('again'));
    await tick();
    expect([sink.destroyed, sink.writableFinished, done, t.released()]).toEqual([true, false, 1, 1]);
  });

  it('a body that failed before anyone read it destroys the response it is then piped to', () => {
    const t = start();
    t.headers();
    t.exchange.onResponseError(t.controller, new Error('reset'));
    const sink = new Sink();
    let done = 0;
    t.exchange.pipeTo(sink as unknown as ServerResponse, () => done++);
    expect([sink.destroyed, done]).toEqual([true, 1]);
  });

  it('discard reads a small body off (connection kept) and aborts a large one', () => {
    const small = start();
    small.headers();
    small.exchange.onResponseData(small.controller, Buffer.alloc(1024));
    small.exchange.discard();
    small.exchange.onResponseData(small.controller, Buffer.alloc(1024));
    small.exchange.onResponseEnd(small.controller, {});
    expect([small.controller.aborted, small.released()]).toEqual([false, 1]);

    const large = start();
    large.headers();
    large.exchange.discard();
    for (let i = 0; i < 3; i++) large.exchange.onResponseData(large.controller, Buffer.alloc(64 * 1024));
    expect([large.controller.aborted, large.released()]).toEqual([true, 1]);
  });

  it('the signal aborts the request: before it starts, while waiting for headers, while the body streams', async () => {
    const early = new Cancellation();
    early.abort(new Error('gone'));
    const before = start(early);
    expect(before.controller.reason?.message).toBe('gone');
    await expect(before.exchange.response).rejects.toThrow('gone');

    const waiting = start();
    waiting.signal.abort(new Error('per-try'));
    await expect(waiting.exchange.response).rejects.toThrow('per-try');

    const streaming = start();
    streaming.headers();
    const sink = new Sink();
    sink.on('error', () => undefined);
    streaming.exchange.pipeTo(sink as unknown as ServerResponse, () => undefined);
    streaming.signal.abort(new Error('route timeout'));
    expect([streaming.controller.aborted, sink.destroyed]).toEqual([true, true]);
  });

  it('a signal that aborts before undici has a connection fails the exchange at once and frees it; the connection, when it comes, is aborted', async () => {
    const signal = new Cancellation();
    let released = 0;
    const exchange = new UpstreamExchange(signal, () => released++);
    signal.abort(new Error('per-try'));
    expect([released, exchange.closed]).toEqual([1, true]);
    await expect(exchange.response).rejects.toThrow('per-try');
    const controller = new FakeController(exchange);
    exchange.onRequestStart(controller);
    expect([controller.aborted, controller.reason?.message, released]).toEqual([true, 'per-try', 1]);
  });

  it('stops watching the signal once the body has ended', () => {
    const t = start();
    t.headers();
    t.exchange.onResponseEnd(t.controller, {});
    t.signal.abort(new Error('late'));
    expect(t.controller.aborted).toBe(false);
  });
});

describe('Cancellation', () => {
  it('aborts once, runs its listeners in order, and runs a late listener at once', () => {
    const c = new Cancellation();
    const calls: string[] = [];
    c.addAbortListener(() => calls.push('a'));
    const remove = c.onAbort(() => calls.push('b'));
    const c2 = () => calls.push('c');
    c.addAbortListener(c2);
    c.addAbortListener(() => calls.push('d'));
    c.removeAbortListener(c2);
    remove();
    c.abort('why');
    c.abort('again');
    c.addAbortListener(() => calls.push('late'));
    expect(calls).toEqual(['a', 'd', 'late']);
    expect([c.aborted, c.reason]).toEqual([true, 'why']);
  });

  it('has the EventTarget shape undici uses for a request signal', () => {
    const c = new Cancellation();
    const calls: string[] = [];
    const listener = () => calls.push('x');
    c.addEventListener('abort', listener);
    c.addEventListener('other', () => calls.push('other'));
    c.addEventListener('abort', () => calls.push('y'));
    c.removeEventListener('abort', listener);
    c.abort();
    expect(calls).toEqual(['y']);
  });
});
