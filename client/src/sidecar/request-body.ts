import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';

export type BodyResult =
  | { readonly kind: 'ok'; readonly body: Buffer | undefined }
  | { readonly kind: 'too-large' }
  | { readonly kind: 'error'; readonly error: unknown };

const NO_BODY: BodyResult = Object.freeze({ kind: 'ok', body: undefined });
const TOO_LARGE: BodyResult = Object.freeze({ kind: 'too-large' });

/** Whether the request carries a body at all (RFC 9112 §6.3: a length or a transfer coding). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}

/**
 * Reads the whole request body, up to `limit` bytes, so that a retry can send it again. Requests
 * without a body (most GETs) cost nothing here.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  if (!hasBody(req)) {
    req.resume();
    return Promise.resolve(NO_BODY);
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve(TOO_LARGE);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (result: BodyResult) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.pause();
        finish(TOO_LARGE);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () =>
      finish({ kind: 'ok', body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size) });
    const onError = (error: unknown) => finish({ kind: 'error', error });
    const onClose = () => finish({ kind: 'error', error: new Error('the caller closed the request') });
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/**
 * The request body as a stream for undici to send once, as it arrives (routes that never retry). A
 * PassThrough stands between the two: undici destroys the stream it sends when the exchange fails or the
 * upstream answers before reading it all, and destroying the caller's request would drop the caller's
 * connection before the sidecar could answer. Whatever the upstream leaves unread is read off and thrown
 * away once the stream closes, as Node does for a body nobody reads, so the connection stays usable.
 */
export function requestBodyStream(req: IncomingMessage): Readable {
  const body = new PassThrough();
  body.once('close', () => {
    if (req.complete) return;
    req.unpipe(body);
    req.resume();
  });
  // A caller that goes away mid-body: the upstream must not wait for the rest.
  req.once('error', (error) => body.destroy(error));
  req.pipe(body);
  return body;
}
