import { type Clock, parseOrThrow, systemClock } from '@meshpress/client';
import { z } from 'zod';
import {
  DEFAULT_AIMD_BACKOFF_RATIO,
  DEFAULT_AIMD_MIN_THRESHOLD_MS,
  DEFAULT_AIMD_SMOOTHING,
  DEFAULT_AIMD_TOLERANCE,
} from './aimd-limit.js';
import {
  DEFAULT_GRADIENT2_LONG_WINDOW,
  DEFAULT_GRADIENT2_QUEUE_SIZE,
  DEFAULT_GRADIENT2_SMOOTHING,
  DEFAULT_GRADIENT2_TOLERANCE,
} from './gradient2-limit.js';

/**
 * Each app starts here. Generous on purpose: held long-polls count in flight and an app may have a
 * thousand nodes polling one instance, so a low start would refuse a healthy app on a cold start; the
 * limit comes down quickly (per round trip) when the app's answers slow down or fail.
 */
export const DEFAULT_INITIAL_LIMIT = 2_000;
export const DEFAULT_MIN_LIMIT = 50;
export const DEFAULT_MAX_LIMIT = 10_000;
/** Twice the 20,000 held polls one instance is sized for. */
export const DEFAULT_TOTAL_LIMIT = 40_000;
export const DEFAULT_PER_APP_SHARE = 0.5;
export const DEFAULT_IDLE_EVICTION_MS = 10 * 60_000;
export const DEFAULT_MAX_APPS = 10_000;
export const DEFAULT_RETRY_AFTER_MS = 1_000;

const positiveInt = z.number().int().min(1);
const fraction = z.number().gt(0).max(1);

export const aimdOptionsSchema = z
  .object({
    kind: z.literal('aimd'),
    backoffRatio: z.number().gt(0).lt(1).default(DEFAULT_AIMD_BACKOFF_RATIO),
    tolerance: z.number().gt(1).default(DEFAULT_AIMD_TOLERANCE),
    minThresholdMs: z.number().min(0).default(DEFAULT_AIMD_MIN_THRESHOLD_MS),
    smoothing: fraction.default(DEFAULT_AIMD_SMOOTHING),
  })
  .strict();

export const gradient2OptionsSchema = z
  .object({
    kind: z.literal('gradient2'),
    tolerance: z.number().min(1).default(DEFAULT_GRADIENT2_TOLERANCE),
    smoothing: fraction.default(DEFAULT_GRADIENT2_SMOOTHING),
    longWindow: positiveInt.default(DEFAULT_GRADIENT2_LONG_WINDOW),
    queueSize: z.number().min(0).default(DEFAULT_GRADIENT2_QUEUE_SIZE),
  })
  .strict();

const isClock = (value: unknown): value is Clock =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Clock).now === 'function' &&
  typeof (value as Clock).setTimeout === 'function';

/**
 * Options of AppConcurrencyLimiter; every field is documented in docs/rate-limiting.md. Unset limits are
 * derived from the ones given (maxLimit defaults to at most the per-app share of totalLimit, and so on), so setting one bound
 * never makes the defaults of the others invalid.
 */
export const appConcurrencyLimiterOptionsSchema = z
  .object({
    /** Bounds of each app's adaptive limit (concurrent requests in flight). */
    initialLimit: positiveInt.optional(),
    minLimit: positiveInt.optional(),
    maxLimit: positiveInt.optional(),
    /** Requests in flight across all apps before apps above their fair share are refused. */
    totalLimit: positiveInt.default(DEFAULT_TOTAL_LIMIT),
    /** Largest fraction of totalLimit one app may hold, however high its own limit has grown. */
    perAppShare: fraction.default(DEFAULT_PER_APP_SHARE),
    /** An app with nothing in flight for this long is forgotten (its limit starts over). */
    idleEvictionMs: positiveInt.default(DEFAULT_IDLE_EVICTION_MS),
    /** Apps tracked at once; beyond it, new apps share one overflow partition. */
    maxApps: positiveInt.default(DEFAULT_MAX_APPS),
    /** What a refused caller is told to wait. */
    retryAfterMs: positiveInt.default(DEFAULT_RETRY_AFTER_MS),
    algorithm: z
      .discriminatedUnion('kind', [aimdOptionsSchema, gradient2OptionsSchema])
      .prefault({ kind: 'aimd' }),
    clock: z.custom<Clock>(isClock, { message: 'expected a Clock' }).optional(),
  })
  .strict()
  .transform((o) => {
    const shareCap = Math.max(1, Math.floor(o.totalLimit * o.perAppShare));
    const maxLimit = o.maxLimit ?? Math.min(DEFAULT_MAX_LIMIT, shareCap);
    const minLimit = o.minLimit ?? Math.min(DEFAULT_MIN_LIMIT, maxLimit);
    const initialLimit = o.initialLimit ?? Math.min(maxLimit, Math.max(minLimit, DEFAULT_INITIAL_LIMIT));
    return { ...o, initialLimit, minLimit, maxLimit };
  })
  .superRefine((o, ctx) => {
    if (o.minLimit > o.maxLimit)
      ctx.addIssue({ code: 'custom', path: ['minLimit'], message: 'must not exceed maxLimit' });
    if (o.initialLimit < o.minLimit || o.initialLimit > o.maxLimit)
      ctx.addIssue({
        code: 'custom',
        path: ['initialLimit'],
        message: 'must lie within [minLimit, maxLimit]',
      });
    if (o.maxLimit > o.totalLimit)
      ctx.addIssue({ code: 'custom', path: ['maxLimit'], message: 'must not exceed totalLimit' });
    // Otherwise the share cap would override minLimit and an app could be held below its floor.
    if (Math.floor(o.totalLimit * o.perAppShare) < o.minLimit)
      ctx.addIssue({
        code: 'custom',
        path: ['perAppShare'],
        message: 'perAppShare of totalLimit must be at least minLimit',
      });
  });

export type AppConcurrencyLimiterOptions = z.input<typeof appConcurrencyLimiterOptionsSchema>;
export type ParsedLimiterOptions = Omit<z.output<typeof appConcurrencyLimiterOptionsSchema>, 'clock'> & {
  readonly clock: Clock;
};

export function parseLimiterOptions(input: AppConcurrencyLimiterOptions = {}): ParsedLimiterOptions {
  const parsed = parseOrThrow(appConcurrencyLimiterOptionsSchema, input, 'concurrency limiter options');
  return { ...parsed, clock: parsed.clock ?? systemClock };
}
