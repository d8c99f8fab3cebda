import { z } from 'zod';
import {
  type AppConcurrencyLimiterOptions,
  DEFAULT_IDLE_EVICTION_MS,
  DEFAULT_INITIAL_LIMIT,
  DEFAULT_MAX_APPS,
  DEFAULT_MAX_LIMIT,
  DEFAULT_MIN_LIMIT,
  DEFAULT_PER_APP_SHARE,
  DEFAULT_RETRY_AFTER_MS,
  DEFAULT_TOTAL_LIMIT,
} from './options.js';

const count = z.coerce.number().int().min(1);
const flag = z.union([
  z.boolean(),
  z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1'),
]);

/**
 * The limiter's server configuration entries, flat and coercing strings, ready to be spread into the
 * server's configuration schema (environment names in LIMIT_ENV_NAMES).
 */
export const limiterConfigShape = {
  limitEnabled: flag.default(true),
  limitAlgorithm: z.enum(['aimd', 'gradient2']).default('aimd'),
  limitInitial: count.default(DEFAULT_INITIAL_LIMIT),
  limitMin: count.default(DEFAULT_MIN_LIMIT),
  limitMax: count.default(DEFAULT_MAX_LIMIT),
  limitTotal: count.default(DEFAULT_TOTAL_LIMIT),
  limitAppShare: z.coerce.number().gt(0).max(1).default(DEFAULT_PER_APP_SHARE),
  limitIdleEvictionMs: count.default(DEFAULT_IDLE_EVICTION_MS),
  limitMaxApps: count.default(DEFAULT_MAX_APPS),
  limitRetryAfterMs: count.default(DEFAULT_RETRY_AFTER_MS),
};

export const limiterConfigSchema = z.object(limiterConfigShape);
export type LimiterConfig = z.output<typeof limiterConfigSchema>;

export const LIMIT_ENV_NAMES: Record<keyof LimiterConfig, string> = {
  limitEnabled: 'MESHPRESS_LIMIT_ENABLED',
  limitAlgorithm: 'MESHPRESS_LIMIT_ALGORITHM',
  limitInitial: 'MESHPRESS_LIMIT_INITIAL',
  limitMin: 'MESHPRESS_LIMIT_MIN',
  limitMax: 'MESHPRESS_LIMIT_MAX',
  limitTotal: 'MESHPRESS_LIMIT_TOTAL',
  limitAppShare: 'MESHPRESS_LIMIT_APP_SHARE',
  limitIdleEvictionMs: 'MESHPRESS_LIMIT_IDLE_EVICTION_MS',
  limitMaxApps: 'MESHPRESS_LIMIT_MAX_APPS',
  limitRetryAfterMs: 'MESHPRESS_LIMIT_RETRY_AFTER_MS',
};

/** Limiter options from the server configuration; undefined when limiting is switched off. */
export function limiterOptionsFromConfig(config: LimiterConfig): AppConcurrencyLimiterOptions | undefined {
  if (!config.limitEnabled) return undefined;
  return {
    algorithm: { kind: config.limitAlgorithm },
    initialLimit: config.limitInitial,
    minLimit: config.limitMin,
    maxLimit: config.limitMax,
    totalLimit: config.limitTotal,
    perAppShare: config.limitAppShare,
    idleEvictionMs: config.limitIdleEvictionMs,
    maxApps: config.limitMaxApps,
    retryAfterMs: config.limitRetryAfterMs,
  };
}
