import { MeshpressError, UnavailableError, ValidationError } from '../core/errors.js';

/**
 * The document was written in a format this client does not know. Clients are upgraded after the writer
 * in the worst case, so the message says which side to look at.
 */
export class UnsupportedFallbackFormatError extends ValidationError {
  constructor(readonly formatVersion: unknown) {
    super(
      `fallback cache format version ${JSON.stringify(formatVersion)} is not supported (this client reads version 1); upgrade the client or pin the writer to format 1`,
      [{ path: 'formatVersion', message: `unsupported format version ${JSON.stringify(formatVersion)}` }],
    );
  }
}

/** No copy of the fallback cache exists where the reader looked (never written yet, wrong key or bucket). */
export class FallbackCacheMissingError extends UnavailableError {
  constructor(readonly where: string) {
    super(`no fallback cache at ${where}`);
  }
}

/**
 * The writer built a document larger than readers accept (they refuse more than their maxDocumentBytes
 * once decompressed): it is not encoded, so the previous cache stays in place rather than being replaced
 * by one every client would refuse.
 */
export class FallbackCacheTooLargeError extends MeshpressError {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(
      'PAYLOAD_TOO_LARGE',
      `fallback cache document is ${size} bytes of JSON, over the ${limit} bytes readers accept; not written (raise the readers' maxDocumentBytes first, or keep large payloads out of the inline limit)`,
      { details: { size, limit } },
    );
  }
}
