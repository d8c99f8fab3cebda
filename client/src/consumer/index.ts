export { asTransportError, errorFromWire } from '../core/wire-error.js';
export { RequestTimeoutError } from './abort.js';
export {
  type AtomicOptions,
  type AtomicState,
  AtomicSubscription,
  type ChangeListener,
  type Decoder,
} from './atomic-subscription.js';
export { type BackoffPolicy, createBackoff, jitteredInterval } from './backoff.js';
export { MeshpressClient, type ReadyReport, STARTUP_DISK_MARGIN_MS } from './client.js';
export type { Delivery, StartSource } from './delivery.js';
export { DISK_CACHE_FORMAT, DiskCache, type DiskCacheEntry } from './disk-cache.js';
export { type Downloaded, Downloader, type DownloaderOptions } from './downloader.js';
export {
  DEFAULT_GRPC_MAX_RECONNECT_BACKOFF_MS,
  GrpcTransport,
  type GrpcTransportOptions,
} from './grpc-transport.js';
export { verifyPayload } from './integrity.js';
export { type ClientLogger, silentLogger } from './logger.js';
export {
  type ClientMetrics,
  type FallbackSource,
  InMemoryClientMetrics,
  noopClientMetrics,
  type PollOutcome,
  type RejectReason,
  type ValueSource,
} from './metrics.js';
export {
  clientOptionsSchema,
  DEFAULT_DOWNLOAD_TIMEOUT_MS,
  DEFAULT_LONG_POLL_WAIT_MS,
  DEFAULT_MAX_RETRIES,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_POLL_JITTER,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_RETRY_BASE_MS,
  DEFAULT_RETRY_CAP_MS,
  DEFAULT_STARTUP_HISTORY_DEPTH,
  DEFAULT_STARTUP_TIMEOUT_MS,
  MAX_DOWNLOAD_TIMEOUT_MS,
  MAX_LONG_POLL_WAIT_MS,
  MAX_POLL_INTERVAL_MS,
  MAX_REQUEST_TIMEOUT_MS,
  MAX_STARTUP_TIMEOUT_MS,
  type MeshpressClientOptions,
  MIN_LONG_POLL_WAIT_MS,
  MIN_POLL_INTERVAL_MS,
  MIN_RETRY_BASE_MS,
  MIN_RETRY_CAP_MS,
  parseClientOptions,
} from './options.js';
export { RestTransport, type RestTransportOptions } from './rest-transport.js';
export { orderByRegion, S3Downloader, type S3DownloadOptions } from './s3-downloader.js';
export { Subscription, type VersionHandler, type VersionListener } from './subscription.js';
export type { CallerHeaders, PollRequest, PollTopic, PollTransport } from './transport.js';
