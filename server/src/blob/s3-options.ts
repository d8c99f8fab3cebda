import { z } from 'zod';
import { objectKeySchema } from './blob-key.js';

/** Per-request budget (connect plus full request/response); sized for a multi-MiB payload on a slow link. */
export const DEFAULT_S3_REQUEST_TIMEOUT_MS = 30_000;
/** SDK attempts per request (1 = no retry). Kept low: a failing region is better skipped than retried. */
export const DEFAULT_S3_MAX_ATTEMPTS = 2;

export const s3BucketSchema = z.object({
  region: z.string().min(1),
  bucket: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'bucket names are 3-63 characters of a-z 0-9 . -'),
  /** Custom endpoint (MinIO, s3rver, a VPC endpoint); the AWS default for the region when absent. */
  endpoint: z.url().optional(),
  /** Path-style addressing, which most S3-compatible servers need. */
  forcePathStyle: z.boolean().optional(),
});

export const s3BlobStoreOptionsSchema = z.object({
  /** One bucket per region; every payload is written to all of them. The first is the primary. */
  buckets: z
    .array(s3BucketSchema)
    .min(1)
    .refine(
      (buckets) => new Set(buckets.map((b) => `${b.region}/${b.bucket}`)).size === buckets.length,
      'each region/bucket pair may appear once',
    ),
  /** Static credentials; the SDK's default provider chain (env, profile, instance role) when absent. */
  credentials: z
    .object({
      accessKeyId: z.string().min(1),
      secretAccessKey: z.string().min(1),
      sessionToken: z.string().min(1).optional(),
    })
    .optional(),
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
