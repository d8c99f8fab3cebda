import { parseOrThrow } from '@meshpress/client';
import type { z } from 'zod';
import type { PublishInput } from '../core/inputs.js';
import { metadataFromQuery, type publishBody, rawPublishQuery } from './request-schemas.js';

/**
 * A REST publish as a service input, with the way back from the service's field names to the caller's:
 * the service validates some fields itself (S3 locations, raw scopes and metadata), and names them as
 * its input does, so its issues are renamed before they reach the caller (as the gRPC adapter does).
 */
export interface RestPublish {
  readonly input: PublishInput;
  /** The field the caller sent for a service issue path. */
  readonly fieldOf: (path: string) => string;
}

const samePath = (path: string): string => path;

/** The JSON pointer nests under `payload.s3`; the service input has it directly under `payload`. */
const s3PointerField = (path: string): string =>
  path.startsWith('payload.') ? `payload.s3.${path.slice('payload.'.length)}` : path;

export function jsonPublish(topic: string, body: z.output<typeof publishBody>): RestPublish {
  const p = body.payload;
  const common = {
    topic,
    ...(body.scopes ? { scopes: body.scopes } : {}),
    ...(body.metadata ? { metadata: body.metadata } : {}),
    ...(body.sha256 ? { sha256: body.sha256 } : {}),
  };
  if ('s3' in p)
    return {
      input: { ...common, contentType: body.contentType, payload: { kind: 's3', ...p.s3 } },
      fieldOf: s3PointerField,
    };
  if ('text' in p)
    return {
      input: {
        ...common,
        contentType: body.contentType ?? 'text/plain; charset=utf-8',
        payload: { kind: 'bytes', data: Buffer.from(p.text, 'utf8') },
      },
      fieldOf: samePath,
    };
  if ('base64' in p)
    return {
      input: {
        ...common,
        contentType: body.contentType,
        payload: { kind: 'bytes', data: Buffer.from(p.base64, 'base64') },
      },
      fieldOf: samePath,
    };
  return {
    input: {
      ...common,
      contentType: body.contentType ?? 'application/json',
      payload: { kind: 'bytes', data: Buffer.from(JSON.stringify(p.document ?? null), 'utf8') },
    },
    fieldOf: samePath,
  };
}

/** Raw bytes: scopes from `scope` query parameters, metadata from `meta.<key>` ones. */
export function rawPublish(
  topic: string,
  data: Buffer,
  query: unknown,
  contentType: string | undefined,
): RestPublish {
  const parsed = parseOrThrow(rawPublishQuery, query ?? {}, 'query');
  const scope = parsed.scope;
  return {
    input: {
      topic,
      payload: { kind: 'bytes', data },
      contentType: contentType ?? 'application/octet-stream',
      ...(scope === undefined ? {} : { scopes: Array.isArray(scope) ? scope : [scope] }),
      metadata: metadataFromQuery(parsed),
      ...(parsed.sha256 ? { sha256: parsed.sha256 } : {}),
    },
    fieldOf: rawQueryField(Array.isArray(scope)),
  };
}

/**
 * `scopes.1` was the second `scope` parameter, named as the query schema would name it: `scope.1` when
 * the parameter was repeated, `scope` when it was given once. `metadata.build` was `meta.build`.
 */
function rawQueryField(repeatedScope: boolean): (path: string) => string {
  return (path) => {
    if (path === 'scopes') return 'scope';
    if (path.startsWith('scopes.')) return repeatedScope ? `scope.${path.slice('scopes.'.length)}` : 'scope';
    if (path === 'metadata') return 'meta';
    if (path.startsWith('metadata.')) return `meta.${path.slice('metadata.'.length)}`;
    return path;
  };
}
