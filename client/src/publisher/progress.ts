import { Readable } from 'node:stream';

/** How far an upload is: bytes handed to the network so far, of the total it will send. */
export interface UploadProgress {
  readonly sentBytes: number;
  readonly totalBytes: number;
}

export type ProgressListener = (progress: UploadProgress) => void;

/** Chunk size of progress-reporting bodies: fine enough for a smooth bar, coarse enough to be cheap. */
export const PROGRESS_CHUNK_BYTES = 256 * 1024;

/**
 * Accumulates bytes sent by one or several concurrent transfers (one per regional bucket) and reports the
 * running total. A throwing listener is ignored: display code must not fail a publish.
 */
export class ProgressCounter {
  #sent = 0;
  readonly #total: number;
  readonly #listener: ProgressListener | undefined;

  constructor(totalBytes: number, listener: ProgressListener | undefined) {
    this.#total = totalBytes;
    this.#listener = listener;
  }

  add(bytes: number): void {
    this.#sent = Math.min(this.#total, this.#sent + bytes);
    this.#emit();
  }

  start(): void {
    this.#emit();
  }

  finish(): void {
    this.#sent = this.#total;
    this.#emit();
  }

  #emit(): void {
    if (!this.#listener) return;
    try {
      this.#listener({ sentBytes: this.#sent, totalBytes: this.#total });
    } catch {
      // Ignored on purpose (see class comment).
    }
  }
}

function* chunks(data: Uint8Array): Generator<Uint8Array> {
  for (let offset = 0; offset < data.byteLength; offset += PROGRESS_CHUNK_BYTES)
    yield data.subarray(offset, Math.min(data.byteLength, offset + PROGRESS_CHUNK_BYTES));
}

/** A Node stream of `data` that reports each chunk as the consumer pulls it (for the AWS SDK). */
export function countingNodeStream(data: Uint8Array, onChunk: (bytes: number) => void): Readable {
  const source = chunks(data);
  return new Readable({
    read() {
      const next = source.next();
      if (next.done) {
        this.push(null);
        return;
      }
      onChunk(next.value.byteLength);
      this.push(next.value);
    },
  });
}

/** A web stream of `data` that reports each chunk as the consumer pulls it (for fetch bodies). */
export function countingWebStream(
  data: Uint8Array,
  onChunk: (bytes: number) => void,
): ReadableStream<Uint8Array> {
  const source = chunks(data);
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = source.next();
      if (next.done) {
        controller.close();
        return;
      }
      onChunk(next.value.byteLength);
      controller.enqueue(next.value);
    },
  });
}
