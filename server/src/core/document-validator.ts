import { type DocumentKind, MalformedRequestError } from '@meshpress/client';

/**
 * Validates the payload of a typed topic at publish time. Throw ValidationError (with the path of each
 * problem) or MalformedRequestError to reject the publish.
 */
export type DocumentValidator = (kind: DocumentKind, payload: Uint8Array) => void;

/** Accepts any well-formed JSON: used until a kind has a schema of its own. */
export const requireJson: DocumentValidator = (kind, payload) => {
  try {
    JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
  } catch (cause) {
    throw new MalformedRequestError(`a ${kind} topic takes a JSON document`, { cause });
  }
};
