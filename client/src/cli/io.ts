import type { Readable } from 'node:stream';
import type { Clock } from '../core/clock.js';

/** A writable text/byte sink (process.stdout, process.stderr, or a test double). */
export interface OutputStream {
  write(chunk: string | Uint8Array, callback?: (error?: Error | null) => void): boolean;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** Everything the CLI touches outside itself, so it can run in-process or as `meshpress`. */
export interface CliIo {
  readonly stdin: Readable;
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly interrupt: Interrupt;
  /** Time for waits and retry delays (default systemClock): tests pass a ManualClock. */
  readonly clock?: Clock;
  /** Jitter source in [0, 1) (default Math.random). */
  readonly random?: () => number;
}

/**
 * Ctrl-C handling. Commands that stop cleanly on an interrupt (watch) opt in and watch `signal`; for the
 * others, and for a second Ctrl-C, the process ends at once with status 130.
 */
export class Interrupt {
  readonly #controller = new AbortController();
  #graceful = false;

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  handleGracefully(): void {
    this.#graceful = true;
  }

  /** Returns true when the interrupt was handed to the running command; false: exit now. */
  trigger(): boolean {
    if (!this.#graceful || this.#controller.signal.aborted) return false;
    this.#controller.abort(new Error('interrupted'));
    return true;
  }
}

/** Writes and waits until the stream took the bytes (large downloads to a pipe). */
export function writeFully(stream: OutputStream, chunk: string | Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(chunk, (error) => (error ? reject(error) : resolve()));
  });
}

/**
 * The reader of our output went away (`meshpress watch --json | head -1`): EPIPE on the write, then
 * ERR_STREAM_DESTROYED on any later one. Nobody is left to tell, so the CLI ends quietly.
 */
export function isBrokenPipe(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED';
}

/**
 * Node emits a failed write's error on the stream as well as to its callback, and with no listener an
 * 'error' event kills the process with a stack trace. The callback (writeFully) deals with a broken
 * pipe; anything else is still thrown.
 */
export function ignoreBrokenPipe(stream: {
  on(event: 'error', listener: (error: Error) => void): unknown;
}): void {
  stream.on('error', (error) => {
    if (!isBrokenPipe(error)) throw error;
  });
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}
