import { type DocumentKind, decodeMeshDocument } from '@meshpress/client';

/**
 * Validates the payload of a typed topic at publish time. Throw ValidationError (with the path of each
 * problem) or MalformedRequestError to reject the publish.
 */
export type DocumentValidator = (kind: DocumentKind, payload: Uint8Array) => void;

/**
 * The default: the payload must be a JSON document of the topic's kind that passes the structural (zod)
 * and semantic checks shared with the client (client/src/mesh), so a bad route table never reaches a proxy.
 */
export const validateMeshDocument: DocumentValidator = (kind, payload) => {
  decodeMeshDocument(kind, payload);
};
