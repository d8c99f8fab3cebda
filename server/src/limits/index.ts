export {
  AimdLimit,
  type AimdOptions,
  DEFAULT_AIMD_BACKOFF_RATIO,
  DEFAULT_AIMD_MIN_THRESHOLD_MS,
  DEFAULT_AIMD_SMOOTHING,
  DEFAULT_AIMD_TOLERANCE,
} from './aimd-limit.js';
export {
  AppConcurrencyLimiter,
  type AppLimitSnapshot,
  type LimiterSnapshot,
  OVERFLOW_APP,
} from './app-concurrency-limiter.js';
export { ANONYMOUS_APP, signalsOverload } from './app-key.js';
export {
  LIMIT_ENV_NAMES,
  type LimiterConfig,
  limiterConfigSchema,
  limiterConfigShape,
  limiterOptionsFromConfig,
} from './config.js';
export {
  DEFAULT_GRADIENT2_LONG_WINDOW,
  DEFAULT_GRADIENT2_QUEUE_SIZE,
  DEFAULT_GRADIENT2_SMOOTHING,
  DEFAULT_GRADIENT2_TOLERANCE,
  Gradient2Limit,
  type Gradient2Options,
} from './gradient2-limit.js';
export { type GrpcLimitOptions, withGrpcLimit } from './grpc-limit.js';
export type { LimitAlgorithm, LimitBounds, LimitSample } from './limit-algorithm.js';
export type { Listener } from './listener.js';
export {
  type AppConcurrencyLimiterOptions,
  appConcurrencyLimiterOptionsSchema,
  DEFAULT_IDLE_EVICTION_MS,
  DEFAULT_INITIAL_LIMIT,
  DEFAULT_MAX_APPS,
  DEFAULT_MAX_LIMIT,
  DEFAULT_MIN_LIMIT,
  DEFAULT_PER_APP_SHARE,
  DEFAULT_RETRY_AFTER_MS,
  DEFAULT_TOTAL_LIMIT,
} from './options.js';
export {
  appKeyOf,
  DEFAULT_UNLIMITED_ROUTES,
  installRestLimiter,
  isHeldPoll,
  type RestLimiterOptions,
} from './rest-limiter.js';
