export * from './blob/blob-store.js';
export { DirBlobStore, type DirBlobStoreOptions, dirBlobStoreOptionsSchema } from './blob/dir-blob-store.js';
export * from './blob/errors.js';
export {
  DEFAULT_S3_MAX_ATTEMPTS,
  DEFAULT_S3_REQUEST_TIMEOUT_MS,
  S3BlobStore,
  type S3BlobStoreOptions,
  type S3BucketOptions,
  s3BlobStoreOptionsSchema,
} from './blob/s3-blob-store.js';
export * from './bus/change-bus.js';
export { InProcessChangeBus } from './bus/in-process-bus.js';
export {
  DEFAULT_REDIS_CHANGE_CHANNEL,
  RedisChangeBus,
  type RedisChangeBusOptions,
  redisChangeBusOptionsSchema,
} from './bus/redis-change-bus.js';
export { configFromEnv, parseServerConfig, type ServerConfig, serverConfigSchema } from './config.js';
export * from './consumers/consumer-status-store.js';
export { MemoryConsumerStatusStore } from './consumers/memory-consumer-status-store.js';
export {
  type RedisConsumerStatusOptions,
  RedisConsumerStatusStore,
} from './consumers/redis-consumer-status-store.js';
export * from './core/caller.js';
export type { DocumentValidator } from './core/document-validator.js';
export { MeshpressService, type MeshpressServiceOptions } from './core/service.js';
export * from './grpc/index.js';
export { RedisLeadership, type RedisLeadershipOptions } from './leadership/redis-leadership.js';
export * from './limits/index.js';
export { ServerMetrics } from './metrics.js';
export { type RunningServer, type ServerParts, startServer } from './server.js';
export { CassandraConfigStore } from './store/cassandra/cassandra-config-store.js';
export {
  type CassandraConfigStoreOptions,
  type CassandraReplication,
  cassandraConfigStoreOptionsSchema,
  DEFAULT_CASSANDRA_CONNECT_TIMEOUT_MS,
  DEFAULT_CASSANDRA_CONSISTENCY,
  DEFAULT_CASSANDRA_KEYSPACE,
  DEFAULT_CASSANDRA_PORT,
  DEFAULT_CASSANDRA_REQUEST_TIMEOUT_MS,
  DEFAULT_CASSANDRA_SERIAL_CONSISTENCY,
  parseReplication,
} from './store/cassandra/options.js';
export * from './store/config-store.js';
export {
  DEFAULT_SQLITE_BUSY_TIMEOUT_MS,
  type SqliteConfigStoreOptions,
  sqliteConfigStoreOptionsSchema,
} from './store/sqlite/options.js';
export { SqliteConfigStore } from './store/sqlite/sqlite-config-store.js';
export * from './tasks/index.js';
