import { Metadata, type StatusObject } from '@grpc/grpc-js';
import { MalformedRequestError, type MeshpressError } from '@meshpress/client';
import { ERROR_STATUS } from '../core/error-status.js';

export const ERROR_CODE_KEY = 'meshpress-error-code';
export const ERROR_DETAILS_KEY = 'meshpress-error-details';
export const REQUEST_ID_KEY = 'x-request-id';

/**
 * Metadata travels in HTTP/2 headers: other gRPC implementations refuse header lists above 8-16 KiB, so
 * the details are cut down (validation issues first) well below that.
 */
export const MAX_DETAILS_JSON_LENGTH = 4096;

/** Trailers every answer carries, success or failure. */
export function requestIdTrailer(requestId: string): Metadata {
  const metadata = new Metadata();
  metadata.set(REQUEST_ID_KEY, requestId);
  return metadata;
}

/** A MeshpressError as a gRPC status: mapped code, message, stable code and details in the trailers. */
export function toGrpcStatus(error: MeshpressError, requestId: string): Partial<StatusObject> {
  const metadata = requestIdTrailer(requestId);
  metadata.set(ERROR_CODE_KEY, error.code);
  const details = detailsJson(error.details);
  if (details !== undefined) metadata.set(ERROR_DETAILS_KEY, details);
  return { code: ERROR_STATUS[error.code].grpc, details: error.message, metadata };
}

function detailsJson(details: unknown): string | undefined {
  if (details === undefined) return undefined;
  const json = asciiJson(details);
  if (json.length <= MAX_DETAILS_JSON_LENGTH) return json;
  const issues = (details as { issues?: unknown } | null)?.issues;
  if (Array.isArray(issues)) {
    for (let keep = Math.floor(issues.length / 2); keep >= 0; keep = keep === 0 ? -1 : Math.floor(keep / 2)) {
      const shorter = asciiJson({
        ...(details as object),
        issues: issues.slice(0, keep),
        omittedIssues: issues.length - keep,
      });
      if (shorter.length <= MAX_DETAILS_JSON_LENGTH) return shorter;
    }
  }
  return asciiJson({ truncated: true });
}

/** JSON with every non-ASCII character escaped: plain (non `-bin`) metadata values must be printable ASCII. */
export function asciiJson(value: unknown): string {
  return (JSON.stringify(value) ?? 'null').replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** What a request deserializer returns instead of throwing: grpc-js would answer INTERNAL for a throw. */
export class MalformedMessage {
  constructor(readonly reason: string) {}
}

export function safeDeserializer<T>(
  deserialize: (bytes: Buffer) => T,
): (bytes: Buffer) => T | MalformedMessage {
  return (bytes) => {
    try {
      return deserialize(bytes);
    } catch (err) {
      return new MalformedMessage(err instanceof Error ? err.message : String(err));
    }
  };
}

export function requireWellFormed<T>(request: T | MalformedMessage, operation: string): T {
  if (request instanceof MalformedMessage)
    throw new MalformedRequestError(
      `the ${operation} request is not a valid protobuf message: ${request.reason}`,
    );
  return request;
}
