import { z } from 'zod';
import { type Clock, systemClock } from '../core/clock.js';
import { serverUrlProblem } from '../core/safe-url.js';
import { s3UploadOptionsSchema } from './s3-options.js';

/** Budget of one request attempt, response body included. */
export const DEFAULT_ADMIN_TIMEOUT_MS = 30_000;
/** Extra attempts of an idempotent call (GET, PUT, DELETE) after the first fails to reach the service. */
export const DEFAULT_ADMIN_RETRIES = 2;
/** First retry delay; doubles per attempt up to DEFAULT_ADMIN_RETRY_MAX_MS, with full jitter. */
export const DEFAULT_ADMIN_RETRY_BASE_MS = 200;
export const DEFAULT_ADMIN_RETRY_MAX_MS = 5_000;
/**
 * Payloads up to this size travel inside the publish request; larger ones go to S3 when upload options
 * are given. Matches the server's default inline limit, so an inline publish stays a `direct` pointer.
 */
export const DEFAULT_PUBLISH_INLINE_LIMIT_BYTES = 1024 * 1024;

const CALLER_NAME = /^[A-Za-z0-9._:@/-]{1,128}$/;

export const adminOptionsSchema = z
  .object({
    /** The service, e.g. `http://meshpress.internal:8080` (no credentials, query or fragment). */
    baseUrl: z
      .url({ protocol: /^https?$/ })
      .superRefine((url, ctx) => {
        const problem = serverUrlProblem(url);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .transform((url) => url.replace(/\/+$/, '')),
    /** Who is publishing (recorded as publisher and pin author); sent as `x-meshpress-principal`. */
    principal: z
      .string()
      .regex(CALLER_NAME, 'principals are 1-128 characters of A-Z a-z 0-9 . _ : @ / -')
      .optional(),
    /** The calling application (keys the server's rate limits); sent as `x-meshpress-app`. */
    app: z
      .string()
      .regex(CALLER_NAME, 'app names are 1-128 characters of A-Z a-z 0-9 . _ : @ / -')
      .optional(),
    timeoutMs: z.number().int().positive().default(DEFAULT_ADMIN_TIMEOUT_MS),
    retries: z.number().int().min(0).max(10).default(DEFAULT_ADMIN_RETRIES),
    retryBaseMs: z.number().int().min(0).default(DEFAULT_ADMIN_RETRY_BASE_MS),
    retryMaxMs: z.number().int().min(0).default(DEFAULT_ADMIN_RETRY_MAX_MS),
    inlineLimitBytes: z.number().int().min(0).default(DEFAULT_PUBLISH_INLINE_LIMIT_BYTES),
    /** Upload payloads above the inline limit to these buckets (and read `s3` pointers from them). */
    s3: s3UploadOptionsSchema.optional(),
    clock: z
      .custom<Clock>(
        (v) => typeof v === 'object' && v !== null && typeof (v as Clock).setTimeout === 'function',
        'expected a Clock',
      )
      .default(systemClock),
    /** Source of jitter in [0, 1); injectable so retry timing is deterministic in tests. */
    random: z
      .custom<() => number>((v) => typeof v === 'function', 'expected a function')
      .default(() => Math.random),
  })
  .strict();

export type MeshpressAdminOptions = z.input<typeof adminOptionsSchema>;
export type ParsedAdminOptions = z.output<typeof adminOptionsSchema>;
