import { UnavailableError } from '../core/errors.js';

/**
 * A request that went out without an answer coming back: it timed out, or the connection broke after it
 * was made. Unlike "cannot reach", the server may have received the request and acted on it. Still an
 * UnavailableError (code UNAVAILABLE): reads and idempotent writes retry it as before.
 */
export class NoAnswerError extends UnavailableError {}

/**
 * A publish that got no answer: the version may have been committed, or may not. Publishes are never
 * retried (the server would allocate a second version), so whoever retries must look first.
 * `details.outcome` is `unknown` for scripts reading the JSON error.
 */
export class PublishOutcomeUnknownError extends UnavailableError {
  override readonly details: { readonly outcome: 'unknown'; readonly topic: string };

  constructor(noAnswer: NoAnswerError, topic: string, howToCheck = "list the topic's newest versions") {
    super(
      `${noAnswer.message}; the outcome is unknown: the version may have been committed, ${howToCheck} before publishing again`,
      { cause: noAnswer },
    );
    this.details = { outcome: 'unknown', topic };
  }
}
