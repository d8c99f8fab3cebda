import {
  DISTINCT_BUCKETS_MESSAGE,
  hasDistinctBuckets,
  s3BucketSchema,
  s3CredentialsSchema,
} from '@meshpress/client';
import { z } from 'zod';
import { objectKeySchema } from './blob-key.js';

/** Per-request budget (connect plus full request/response); sized for a multi-MiB payload on a slow link. */
export const DEFAULT_S3_REQUEST_TIMEOUT_MS = 30_000;
/** SDK attempts per request (1 = no retry). Kept low: a failing region is better skipped than retried. */
export const DEFAULT_S3_MAX_ATTEMPTS = 2;

export const s3BlobStoreOptionsSchema = z.object({
  /** One bucket per region; every payload is written to all of them. The first is the primary. */
  buckets: z.array(s3BucketSchema).min(1).refine(hasDistinctBuckets, DISTINCT_BUCKETS_MESSAGE),
  /** Static credentials; the SDK's default provider chain (env, profile, instance role) when absent. */
  credentials: s3CredentialsSchema.optional(),
  /** Key prefix inside every bucket, e.g. `meshpress/prod`; a trailing `/` is implied. */
  prefix: z
    .string()
    .optional()
    .transform((prefix) => prefix?.replace(/\/+$/, '') ?? '')
    .pipe(z.union([z.literal(''), objectKeySchema]))
    .transform((prefix) => (prefix === '' ? '' : `${prefix}/`)),
  requestTimeoutMs: z.number().int().positive().default(DEFAULT_S3_REQUEST_TIMEOUT_MS),
  maxAttempts: z.number().int().min(1).max(10).default(DEFAULT_S3_MAX_ATTEMPTS),
});

export type S3BucketOptions = z.output<typeof s3BucketSchema>;
export type S3BlobStoreOptions = z.input<typeof s3BlobStoreOptionsSchema>;
export type ParsedS3BlobStoreOptions = z.output<typeof s3BlobStoreOptionsSchema>;
