export * from './consumer/index.js';
export * from './core/clock.js';
export * from './core/compiled-resolution.js';
export * from './core/errors.js';
export * from './core/model.js';
export * from './core/names.js';
export * from './core/rename-issue-paths.js';
export * from './core/resolve.js';
export * from './core/s3-client.js';
export * from './core/scope.js';
export * from './core/sha256.js';
export * from './core/validation.js';
export * from './fallback/errors.js';
export * from './fallback/fallback-index.js';
export * from './fallback/file-reader.js';
export * from './fallback/format.js';
export { DEFAULT_FALLBACK_CACHE_TTL_MS } from './fallback/reader-options.js';
export * from './fallback/s3-reader.js';
export * from './fallback/types.js';
export * from './mesh/index.js';
export {
  type Download,
  MeshpressAdmin,
  type ResolveAnswer,
  type ResolveIdentity,
  type TopicDetails,
  type TopicPage,
  type VersionPage,
} from './publisher/admin.js';
export type {
  CallOptions,
  PinHistoryOptions,
  PinOptions,
  PointerPublishOptions,
  PublishOptions,
  S3PointerInput,
  TopicPageOptions,
  TopicSpec,
  VersionPageOptions,
} from './publisher/admin-inputs.js';
export {
  adminOptionsSchema,
  DEFAULT_ADMIN_RETRIES,
  DEFAULT_ADMIN_TIMEOUT_MS,
  DEFAULT_PUBLISH_INLINE_LIMIT_BYTES,
  type MeshpressAdminOptions,
} from './publisher/admin-options.js';
export { NoAnswerError, PublishOutcomeUnknownError } from './publisher/no-answer-error.js';
export type { PublishPayload } from './publisher/payload-input.js';
export type { ProgressListener, UploadProgress } from './publisher/progress.js';
export {
  DEFAULT_S3_MAX_ATTEMPTS,
  DEFAULT_S3_UPLOAD_TIMEOUT_MS,
  type S3UploadOptions,
  s3UploadOptionsSchema,
} from './publisher/s3-options.js';
export * from './wire/grpc-contract.js';
export * from './wire/rest-views.js';
