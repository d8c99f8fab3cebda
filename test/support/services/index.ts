export { CASSANDRA_DC_ENV, CASSANDRA_URL_ENV, type CassandraService, startCassandra } from './cassandra.js';
export { freePort } from './free-port.js';
export { REDIS_URL_ENV, type RedisService, startRedis } from './redis.js';
export {
  S3_REGION_ENV,
  S3_URL_ENV,
  type S3Credentials,
  type S3Service,
  s3ClientFor,
  startS3,
  uniqueBucketName,
} from './s3.js';
