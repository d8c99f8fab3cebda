import {
  identityValueSchema,
  MalformedRequestError,
  metadataSchema,
  scopeSchema,
  topicNameSchema,
} from '@meshpress/client';
import { z } from 'zod';
import { retentionSchema, sha256Schema } from '../core/inputs.js';

/** REST request shapes (paths, queries, bodies). Semantic checks happen once more in the service. */

const versionParam = z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

/**
 * The longest value a path parameter can validly have: a scope (topic names stop at 200). The router is
 * told this limit, so every valid parameter reaches its route and gets the same validation as the rest.
 */
export const MAX_PATH_PARAM_LENGTH = 512;

export const topicParams = z.object({ topic: topicNameSchema });
export const versionParams = z.object({ topic: topicNameSchema, version: versionParam });
export const pinParams = z.object({
  topic: topicNameSchema,
  scope: z.string().min(1).max(MAX_PATH_PARAM_LENGTH),
});

export const putTopicBody = z
  .object({
    retention: retentionSchema.optional(),
    kind: z.enum(['mesh.routes.v1', 'mesh.policy.v1']).optional(),
    description: z.string().max(1024).optional(),
  })
  .strict();

export const listTopicsQuery = z.object({
  after: topicNameSchema.optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

export const listVersionsQuery = z.object({
  before: versionParam.optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

const s3Pointer = z
  .object({
    locations: z.array(z.object({ region: z.string(), bucket: z.string(), key: z.string() }).strict()).min(1),
    size: z.number().int().min(0),
    sha256: sha256Schema,
  })
  .strict();

export const publishBody = z
  .object({
    payload: z.union([
      z.object({ text: z.string() }).strict(),
      z.object({ base64: z.base64() }).strict(),
      z.object({ document: z.unknown() }).strict(),
      z.object({ s3: s3Pointer }).strict(),
    ]),
    contentType: z.string().min(1).max(255).optional(),
    scopes: z.array(scopeSchema).min(1).optional(),
    metadata: metadataSchema.optional(),
    sha256: sha256Schema.optional(),
  })
  .strict()
  .describe(
    'JSON publish. Raw bytes may be sent instead with any non-JSON Content-Type: then scopes come from `scope` query parameters and metadata from `meta.<key>` ones.',
  );

/** Query of a raw-bytes publish. */
export const rawPublishQuery = z.looseObject({
  scope: z.union([z.string(), z.array(z.string())]).optional(),
  sha256: sha256Schema.optional(),
});

export const addScopesBody = z.object({ scopes: z.array(scopeSchema).min(1) }).strict();

export const pinBody = z
  .object({ version: z.number().int().min(1), reason: z.string().max(1024).optional() })
  .strict();
export const unpinQuery = z.object({ reason: z.string().max(1024).optional() });
export const pinHistoryQuery = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .optional()
    .describe('the latest this many changes (default 100)'),
});

const instant = z
  .union([z.iso.datetime({ offset: true }), z.string().regex(/^\d{1,16}$/)])
  .transform((value) => {
    const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
    if (!Number.isFinite(ms)) throw new MalformedRequestError(`'${value}' is not an instant`);
    return ms;
  });

export const resolveQuery = z
  .object({
    app: identityValueSchema.optional(),
    cluster: identityValueSchema.optional(),
    region: identityValueSchema.optional(),
    node: identityValueSchema.optional(),
    env: identityValueSchema.optional(),
    at: instant.optional().describe('RFC 3339 timestamp or epoch milliseconds'),
  })
  .strict();

export const pollBody = z
  .object({
    identity: z.record(z.string(), z.unknown()),
    topics: z.array(z.object({ topic: z.string(), currentVersion: z.number().int().optional() }).strict()),
    waitMs: z.number().int().min(0).optional(),
  })
  .strict();

/** Metadata from `meta.<key>=value` query parameters of a raw publish. */
export function metadataFromQuery(query: Record<string, unknown>): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(query)) {
    if (!key.startsWith('meta.')) continue;
    metadata[key.slice(5)] = Array.isArray(value) ? String(value.at(-1)) : String(value);
  }
  return metadata;
}
