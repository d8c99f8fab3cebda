import { MeshpressError } from '../core/errors.js';
import { UsageError } from './usage-error.js';

/** Exit statuses scripts can rely on. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
  validation: 4,
  unavailable: 5,
  interrupted: 130,
} as const;

export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError) return EXIT.usage;
  if (!(error instanceof MeshpressError)) return EXIT.failure;
  switch (error.code) {
    case 'TOPIC_NOT_FOUND':
    case 'VERSION_NOT_FOUND':
      return EXIT.notFound;
    // The data was refused as it is: sending it again will not help, changing it will.
    case 'VALIDATION_FAILED':
    case 'MALFORMED_REQUEST':
    case 'PAYLOAD_TOO_LARGE':
      return EXIT.validation;
    case 'UNAVAILABLE':
    case 'TOO_MANY_REQUESTS':
    case 'CLOSED':
      return EXIT.unavailable;
    default:
      return EXIT.failure;
  }
}
