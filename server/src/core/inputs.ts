import {
  GLOBAL_SCOPE,
  identitySchema,
  metadataSchema,
  SHA256_PATTERN,
  scopeSchema,
  topicNameSchema,
  versionNumberSchema,
} from '@meshpress/client';
import { z } from 'zod';

/** Service-level inputs, validated once here whichever adapter (REST, gRPC) they came through. */

export const retentionSchema = z
  .object({
    maxVersions: z.number().int().min(1).max(1_000_000).optional(),
    maxAgeDays: z.number().min(0.001).max(36_500).optional(),
  })
  .strict();

export const topicSpecSchema = z
  .object({
    name: topicNameSchema,
    retention: retentionSchema.default({ maxVersions: 100 }),
    kind: z.enum(['mesh.routes.v1', 'mesh.policy.v1']).optional(),
    description: z.string().max(1024).optional(),
  })
  .strict();
export type TopicSpecInput = z.input<typeof topicSpecSchema>;

const s3LocationSchema = z
  .object({
    region: z.string().min(1).max(64),
    bucket: z.string().min(3).max(63),
    key: z.string().min(1).max(1024),
  })
  .strict();

export const sha256Schema = z.string().regex(SHA256_PATTERN, 'sha256 must be 64 lowercase hex characters');

const scopesSchema = z.array(scopeSchema).min(1).max(64);

export const publishInputSchema = z
  .object({
    topic: topicNameSchema,
    payload: z.discriminatedUnion('kind', [
      z
        .object({
          kind: z.literal('bytes'),
          data: z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected bytes'),
        })
        .strict(),
      z
        .object({
          kind: z.literal('s3'),
          locations: z.array(s3LocationSchema).min(1).max(16),
          size: z.number().int().min(0),
          sha256: sha256Schema,
        })
        .strict(),
    ]),
    contentType: z.string().min(1).max(255).default('application/octet-stream'),
    scopes: scopesSchema.default([GLOBAL_SCOPE]),
    metadata: metadataSchema.default({}),
    /** Expected digest of inline bytes: the publish fails if the bytes that arrived differ. */
    sha256: sha256Schema.optional(),
  })
  .strict();
export type PublishInput = z.input<typeof publishInputSchema>;

export const addScopesInputSchema = z
  .object({ topic: topicNameSchema, version: versionNumberSchema, scopes: scopesSchema })
  .strict();

export const pinInputSchema = z
  .object({
    topic: topicNameSchema,
    scope: scopeSchema,
    version: versionNumberSchema,
    reason: z.string().max(1024).default(''),
  })
  .strict();

export const unpinInputSchema = z
  .object({ topic: topicNameSchema, scope: scopeSchema, reason: z.string().max(1024).default('') })
  .strict();

export const listTopicsInputSchema = z
  .object({ after: topicNameSchema.optional(), limit: z.number().int().min(1).max(1000).default(100) })
  .strict();

export const listVersionsInputSchema = z
  .object({
    topic: topicNameSchema,
    before: versionNumberSchema.optional(),
    limit: z.number().int().min(1).max(1000).default(50),
  })
  .strict();

export const pinHistoryInputSchema = z
  .object({ topic: topicNameSchema, limit: z.number().int().min(1).max(1000).default(100) })
  .strict();

export const versionRefSchema = z.object({ topic: topicNameSchema, version: versionNumberSchema }).strict();

export const resolveInputSchema = z
  .object({ topic: topicNameSchema, identity: identitySchema, at: z.number().int().min(0).optional() })
  .strict();

export const MAX_POLL_TOPICS = 1000;
export const MAX_WAIT_MS = 120_000;

export const pollInputSchema = z
  .object({
    identity: identitySchema,
    topics: z
      .array(z.object({ topic: topicNameSchema, currentVersion: versionNumberSchema.optional() }).strict())
      .max(MAX_POLL_TOPICS)
      .refine((topics) => new Set(topics.map((t) => t.topic)).size === topics.length, {
        message: 'each topic may appear once',
      }),
    waitMs: z.number().int().min(0).max(MAX_WAIT_MS).default(0),
  })
  .strict();
export type PollInput = z.input<typeof pollInputSchema>;
