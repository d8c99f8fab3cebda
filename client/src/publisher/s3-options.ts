import { z } from 'zod';
import {
  DISTINCT_BUCKETS_MESSAGE,
  hasDistinctBuckets,
  s3BucketSchema,
  s3CredentialsSchema,
} from '../core/s3-client.js';

/** Budget of one S3 request (connect plus the whole transfer); sized for tens of MiB on a slow link. */
export const DEFAULT_S3_UPLOAD_TIMEOUT_MS = 120_000;
/** SDK attempts per S3 request. A PUT of a content-addressed key is idempotent, so retrying is safe. */
export const DEFAULT_S3_MAX_ATTEMPTS = 3;

export const s3TargetSchema = s3BucketSchema.extend({ region: z.string().min(1).max(64) }).strict();

/**
 * Where the publisher uploads payloads above the inline limit: one bucket per region, every payload
 * copied to all of them (consumers download from the closest), under `<prefix>blobs/<sha256>`, the key
 * the server's S3 blob store uses too, so both writers share the objects.
 */
export const s3UploadOptionsSchema = z
  .object({
    buckets: z.array(s3TargetSchema).min(1).max(16).refine(hasDistinctBuckets, DISTINCT_BUCKETS_MESSAGE),
    /** Static credentials; the SDK's default provider chain (env, profile, instance role) when absent. */
    credentials: s3CredentialsSchema.optional(),
    /** Key prefix inside every bucket, e.g. `meshpress/prod`; a trailing `/` is implied. */
    prefix: z
      .string()
      .max(512)
      .regex(/^[A-Za-z0-9._/-]*$/, 'prefixes are made of A-Z a-z 0-9 . _ / -')
      .optional()
      .transform((prefix) => {
        const trimmed = prefix?.replace(/^\/+|\/+$/g, '') ?? '';
        return trimmed === '' ? '' : `${trimmed}/`;
      }),
    requestTimeoutMs: z.number().int().positive().default(DEFAULT_S3_UPLOAD_TIMEOUT_MS),
    maxAttempts: z.number().int().min(1).max(10).default(DEFAULT_S3_MAX_ATTEMPTS),
  })
  .strict();

export type S3Target = z.output<typeof s3TargetSchema>;
export type S3UploadOptions = z.input<typeof s3UploadOptionsSchema>;
export type ParsedS3UploadOptions = z.output<typeof s3UploadOptionsSchema>;
