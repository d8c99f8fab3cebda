import { PayloadTooLargeError } from '@meshpress/client';

/**
 * Reads a GetObject body of at most `maxBytes`. The declared length is checked before anything is read,
 * and the bytes are counted as they arrive as well (a response may not declare its length), so an
 * oversized object costs at most `maxBytes` of memory, never its own size.
 */
export async function readBodyAtMost(
  body: unknown,
  contentLength: number | undefined,
  maxBytes: number,
): Promise<Uint8Array> {
  if (contentLength !== undefined && contentLength > maxBytes) {
    // Not reading the body would keep its connection busy until the response times out.
    (body as { destroy?: () => void } | undefined)?.destroy?.();
    throw new PayloadTooLargeError(contentLength, maxBytes);
  }
  if (!isAsyncIterable(body)) {
    // Only Node streams arrive on the server; anything else has been checked against its declared length.
    const data = await (body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
    if (data.byteLength > maxBytes) throw new PayloadTooLargeError(data.byteLength, maxBytes);
    return data;
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  // Leaving the loop by the throw destroys the stream (its iterator's return()).
  for await (const chunk of body) {
    total += chunk.byteLength;
    if (total > maxBytes) throw new PayloadTooLargeError(total, maxBytes);
    chunks.push(chunk);
  }
  const joined = Buffer.concat(chunks, total);
  return new Uint8Array(joined.buffer, joined.byteOffset, joined.byteLength);
}

function isAsyncIterable(value: unknown): value is AsyncIterable<Uint8Array> {
  return typeof (value as AsyncIterable<Uint8Array> | undefined)?.[Symbol.asyncIterator] === 'function';
}
