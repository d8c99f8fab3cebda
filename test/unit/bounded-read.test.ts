import { Readable } from 'node:stream';
import { PayloadTooLargeError } from '@meshpress/client';
import { describe, expect, it } from 'vitest';
import { readBodyAtMost } from '../../server/src/blob/bounded-read.js';

/** A GetObject body as the SDK gives it on Node: a stream of chunks; counts what was pulled from it. */
function body(chunks: number[]) {
  const pulled = { bytes: 0 };
  const stream = Readable.from(
    (function* () {
      for (const size of chunks) {
        pulled.bytes += size;
        yield Buffer.alloc(size, 1);
      }
    })(),
    { objectMode: false },
  );
  return { stream, pulled };
}

describe('readBodyAtMost', () => {
  it('refuses on a declared length over the bound without reading, and releases the body', async () => {
    const { stream, pulled } = body([10, 10]);
    await expect(readBodyAtMost(stream, 20, 19)).rejects.toMatchObject({ size: 20, limit: 19 });
    expect(pulled.bytes).toBe(0);
    expect(stream.destroyed).toBe(true);
  });

  it('without a declared length, stops at the first chunk past the bound', async () => {
    const { stream, pulled } = body([8, 8, 8, 8, 8]);
    const failure = await readBodyAtMost(stream, undefined, 12).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PayloadTooLargeError);
    expect(pulled.bytes).toBeLessThan(40);
    expect(stream.destroyed).toBe(true);
  });

  it('reads a body of exactly the bound whole', async () => {
    const { stream } = body([5, 5, 2]);
    const data = await readBodyAtMost(stream, undefined, 12);
    expect(data).toBeInstanceOf(Uint8Array);
    expect(data.byteLength).toBe(12);
  });
});
