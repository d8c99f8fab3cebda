import { UnavailableError, ValidationError } from '../core/errors.js';

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
