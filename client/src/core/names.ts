import { z } from 'zod';

export const TOPIC_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,199}$/;

export const topicNameSchema = z
  .string()
  .regex(
    TOPIC_NAME_PATTERN,
    'topic names are 1-200 characters of a-z 0-9 . _ -, starting with a letter or digit',
  );

export const versionNumberSchema = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

/** Identity values and scope values: the characters a region, app, cluster or node id is made of. */
export const IDENTITY_VALUE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;
export const identityValueSchema = z
  .string()
  .regex(IDENTITY_VALUE_PATTERN, 'identity values are 1-128 characters of A-Z a-z 0-9 . _ : / -');

/** The keys an identity (and so a scope constraint) can have. */
export const IDENTITY_KEYS = ['app', 'cluster', 'env', 'node', 'region'] as const;
export type IdentityKey = (typeof IDENTITY_KEYS)[number];

export const identitySchema = z
  .object({
    app: identityValueSchema.optional(),
    cluster: identityValueSchema.optional(),
    region: identityValueSchema.optional(),
    node: identityValueSchema.optional(),
    env: identityValueSchema.optional(),
  })
  .strict();

/** Who is asking for configuration. Every key is optional; a scope constraint on a missing key never holds. */
export type Identity = z.infer<typeof identitySchema>;

export const METADATA_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/;
export const MAX_METADATA_ENTRIES = 64;
export const MAX_METADATA_VALUE_LENGTH = 4096;

export const metadataSchema = z
  .record(
    z.string().regex(METADATA_KEY_PATTERN, 'metadata keys are 1-128 characters of A-Z a-z 0-9 . _ / -'),
    z.string().max(MAX_METADATA_VALUE_LENGTH),
  )
  .refine((m) => Object.keys(m).length <= MAX_METADATA_ENTRIES, {
    message: `at most ${MAX_METADATA_ENTRIES} metadata entries`,
  });

export type Metadata = Readonly<Record<string, string>>;
