import { MalformedRequestError } from '../core/errors.js';
import type { DocumentKind } from '../core/model.js';
import { compilePolicy } from './compile-policy.js';
import { compileRoutes } from './compile-routes.js';
import type { PolicyDocument } from './policy-schema.js';
import type { RoutesDocument } from './routes-schema.js';
import type { PolicySnapshot, RoutesSnapshot } from './snapshot-types.js';
import { type MeshDocument, validateDocument } from './validate.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes a typed topic's payload (UTF-8 JSON) and validates it: the publish-time check and the first
 * step of a subscriber. Bytes that are not JSON throw MalformedRequestError; JSON that is not a valid
 * document throws ValidationError with the path of each problem.
 */
export function decodeMeshDocument(kind: 'mesh.routes.v1', payload: Uint8Array | string): RoutesDocument;
export function decodeMeshDocument(kind: 'mesh.policy.v1', payload: Uint8Array | string): PolicyDocument;
export function decodeMeshDocument(kind: DocumentKind, payload: Uint8Array | string): MeshDocument;
export function decodeMeshDocument(kind: DocumentKind, payload: Uint8Array | string): MeshDocument {
  let value: unknown;
  try {
    value = JSON.parse(typeof payload === 'string' ? payload : utf8.decode(payload));
  } catch (error) {
    throw new MalformedRequestError(`${kind} payload is not UTF-8 JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return validateDocument(kind, value);
}

/** Payload bytes straight to a snapshot: decode, validate, compile. What a subscription's decoder calls. */
export function compileMeshPayload(kind: 'mesh.routes.v1', payload: Uint8Array | string): RoutesSnapshot;
export function compileMeshPayload(kind: 'mesh.policy.v1', payload: Uint8Array | string): PolicySnapshot;
export function compileMeshPayload(
  kind: DocumentKind,
  payload: Uint8Array | string,
): RoutesSnapshot | PolicySnapshot;
export function compileMeshPayload(
  kind: DocumentKind,
  payload: Uint8Array | string,
): RoutesSnapshot | PolicySnapshot {
  return kind === 'mesh.routes.v1'
    ? compileRoutes(decodeMeshDocument(kind, payload))
    : compilePolicy(decodeMeshDocument('mesh.policy.v1', payload));
}
