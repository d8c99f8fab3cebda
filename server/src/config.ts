import { toFieldIssues, ValidationError } from '@meshpress/client';
import { z } from 'zod';
import { objectKeySchema } from './blob/blob-key.js';
import { s3BlobStoreOptionsSchema } from './blob/s3-options.js';
import { redisConnectionSchema } from './bus/redis-connection.js';
import {
  DEFAULT_CONSUMER_LAG_GRACE_MS,
  DEFAULT_CONSUMER_STATUS_TTL_MS,
} from './consumers/consumer-status-store.js';
import { DEFAULT_REFRESH_INTERVAL_MS, DEFAULT_REVERIFY_AFTER_MS } from './core/consumer-cache.js';
import { DEFAULT_INLINE_LIMIT_BYTES, DEFAULT_MAX_PAYLOAD_BYTES } from './core/service.js';
import { LIMIT_ENV_NAMES, limiterConfigShape } from './limits/config.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, MAX_REQUEST_TIMEOUT_MS } from './rest/request-timeout.js';
import { keyspaceSchema, replicationTextSchema } from './store/cassandra/options.js';
import { DEFAULT_FALLBACK_INTERVAL_MS } from './tasks/fallback-writer.js';
import { DEFAULT_JANITOR_INTERVAL_MS } from './tasks/janitor.js';

const port = z.coerce.number().int().min(0).max(65_535);
const bytes = z.coerce.number().int().min(1);
/**
 * `us-east-1:bucket-a,eu-west-1:bucket-b` (or `region=bucket`, as the CLI writes it): one bucket per
 * region, the first is the primary. An already parsed list is accepted too, so a parsed configuration
 * parses again to itself.
 */
const s3Buckets = z.preprocess(
  (value) =>
    Array.isArray(value)
      ? value.map((b: { region?: unknown; bucket?: unknown }) => `${b.region}:${b.bucket}`).join(',')
      : value,
  z
    .string()
    .min(1)
    .transform((text, ctx) => {
      const buckets = [];
      for (const part of text.split(',')) {
        const [region, bucket, ...rest] = part.trim().split(/[:=]/);
        if (!region || !bucket || rest.length > 0) {
          ctx.addIssue({ code: 'custom', message: `'${part}' is not region:bucket` });
          return z.NEVER;
        }
        buckets.push({ region, bucket });
      }
      return buckets;
    }),
);

export const ROLES = ['publish', 'consume', 'tasks'] as const;
export type Role = (typeof ROLES)[number];
const roles = z
  .string()
  .transform((text) =>
    text
      .split(',')
      .map((r) => r.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.enum(ROLES)).min(1))
  .or(z.array(z.enum(ROLES)).min(1));

/** Why `schema` refuses `value`; empty when it accepts it. */
function refusals(schema: z.ZodType, value: unknown): string[] {
  const result = schema.safeParse(value);
  return result.success ? [] : result.error.issues.map((issue) => issue.message);
}

/**
 * Keeps the value as written, but only if `schema` accepts it: for entries a backend validates again when
 * it is built, so that a value it would refuse stops the start here, named, before anything connects.
 */
function acceptedBy(schema: z.ZodType) {
  return (value: unknown, ctx: z.RefinementCtx) => {
    for (const message of refusals(schema, value)) ctx.addIssue({ code: 'custom', message });
  };
}

const flag = z.union([
  z.boolean(),
  z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1'),
]);

/**
 * Server configuration, read once from the environment (MESHPRESS_*) and validated. Every entry is
 * documented in README.md ("Configuration").
 */
export const serverConfigSchema = z
  .object({
    dataDir: z.string().min(1).default('./data'),
    host: z.string().min(1).default('127.0.0.1'),
    httpPort: port.default(8080),
    grpcPort: port.default(9090),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    inlineLimitBytes: bytes.default(DEFAULT_INLINE_LIMIT_BYTES),
    maxPayloadBytes: bytes.default(DEFAULT_MAX_PAYLOAD_BYTES),
    refreshIntervalMs: z.coerce.number().int().min(100).default(DEFAULT_REFRESH_INTERVAL_MS),
    cacheReverifyAfterMs: z.coerce.number().int().min(0).default(DEFAULT_REVERIFY_AFTER_MS),
    shutdownGraceMs: z.coerce.number().int().min(0).default(10_000),
    /** Bounds receiving a request (headers and body), not a held long-poll: rest/request-timeout.ts. */
    requestTimeoutMs: z.coerce
      .number()
      .int()
      .min(1)
      .max(MAX_REQUEST_TIMEOUT_MS)
      .default(DEFAULT_REQUEST_TIMEOUT_MS),
    instanceId: z.string().min(1).max(128).optional(),
    exposeOpenApi: flag.default(true),
    /** Which parts of the API this instance serves; split publishers from consumers as Gutenberg does. */
    roles: roles.default([...ROLES]),
    blobStore: z.enum(['dir', 's3']).default('dir'),
    s3Buckets: s3Buckets.pipe(s3BlobStoreOptionsSchema.shape.buckets).optional(),
    s3Endpoint: z.url().optional(),
    s3ForcePathStyle: flag.default(false),
    s3Prefix: z.string().max(256).superRefine(acceptedBy(s3BlobStoreOptionsSchema.shape.prefix)).optional(),
    fallbackIntervalMs: z.coerce.number().int().min(1_000).default(DEFAULT_FALLBACK_INTERVAL_MS),
    fallbackKey: objectKeySchema.max(512).optional(),
    janitorEnabled: flag.default(true),
    janitorIntervalMs: z.coerce.number().int().min(1_000).default(DEFAULT_JANITOR_INTERVAL_MS),
    /** Distributed mode: Redis for change notification, task leadership and consumer status. */
    redisUrl: redisConnectionSchema.shape.url.optional(),
    redisPrefix: z.string().min(1).max(100).default('meshpress'),
    /** Distributed mode: the durable store. */
    store: z.enum(['sqlite', 'cassandra']).default('sqlite'),
    cassandraContactPoints: z
      .preprocess((value) => (Array.isArray(value) ? value.join(',') : value), z.string())
      .transform((text) =>
        text
          .split(',')
          .map((p) => p.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.string()).min(1))
      .optional(),
    cassandraLocalDc: z.string().min(1).optional(),
    cassandraPort: port.optional(),
    cassandraKeyspace: keyspaceSchema.optional(),
    cassandraReplication: replicationTextSchema.default('SimpleStrategy:1'),
    cassandraConsistency: z.enum(['ONE', 'LOCAL_ONE', 'QUORUM', 'LOCAL_QUORUM', 'ALL']).optional(),
    cassandraSerialConsistency: z.enum(['SERIAL', 'LOCAL_SERIAL']).optional(),
    cassandraUsername: z.string().min(1).optional(),
    cassandraPassword: z.string().optional(),
    cassandraProtocolVersion: z.coerce
      .number()
      .pipe(z.union([z.literal(3), z.literal(4)]))
      .optional(),
    cassandraMigrate: flag.default(true),
    /**
     * The operator's word that only one instance uses the Cassandra keyspace: allows the per-instance
     * blob directory and no Redis with the cassandra store, which several instances cannot share.
     */
    singleInstance: flag.default(false),
    ...limiterConfigShape,
    consumerStatusTtlMs: z.coerce.number().int().min(1_000).default(DEFAULT_CONSUMER_STATUS_TTL_MS),
    consumerLagGraceMs: z.coerce.number().int().min(0).default(DEFAULT_CONSUMER_LAG_GRACE_MS),
  })
  .superRefine((config, ctx) => {
    if (config.blobStore === 's3' && !config.s3Buckets)
      ctx.addIssue({ code: 'custom', path: ['s3Buckets'], message: 'required when the blob store is s3' });
    // The instance id names this instance's Redis connections (CLIENT SETNAME), which allow less.
    if (config.redisUrl && config.instanceId !== undefined)
      for (const message of refusals(redisConnectionSchema.shape.clientName, config.instanceId))
        ctx.addIssue({
          code: 'custom',
          path: ['instanceId'],
          message: `${message} (with Redis it names this instance's connections)`,
        });
    if (config.store === 'cassandra') {
      if (!config.cassandraContactPoints)
        ctx.addIssue({
          code: 'custom',
          path: ['cassandraContactPoints'],
          message: 'required when the store is cassandra',
        });
      if (!config.cassandraLocalDc)
        ctx.addIssue({
          code: 'custom',
          path: ['cassandraLocalDc'],
          message: 'required when the store is cassandra',
        });
      // A shared keyspace with per-instance blobs, notifications and leases works on one instance and
      // breaks as soon as a second one runs: refused unless the operator says only one ever runs.
      if (!config.singleInstance) {
        if (config.blobStore === 'dir')
          ctx.addIssue({
            code: 'custom',
            path: ['blobStore'],
            message:
              "must be s3 with the cassandra store: 'dir' keeps payloads and the fallback cache on one instance's disk (set MESHPRESS_SINGLE_INSTANCE=true if only one instance runs)",
          });
        if (!config.redisUrl)
          ctx.addIssue({
            code: 'custom',
            path: ['redisUrl'],
            message:
              'required with the cassandra store: without it every instance runs the periodic tasks and change notifications and consumer status stay per instance (set MESHPRESS_SINGLE_INSTANCE=true if only one instance runs)',
          });
      }
    }
  });

export type ServerConfig = z.output<typeof serverConfigSchema>;

const ENV_NAMES: Record<keyof ServerConfig, string> = {
  dataDir: 'MESHPRESS_DATA_DIR',
  host: 'MESHPRESS_HOST',
  httpPort: 'MESHPRESS_HTTP_PORT',
  grpcPort: 'MESHPRESS_GRPC_PORT',
  logLevel: 'MESHPRESS_LOG_LEVEL',
  inlineLimitBytes: 'MESHPRESS_INLINE_LIMIT_BYTES',
  maxPayloadBytes: 'MESHPRESS_MAX_PAYLOAD_BYTES',
  refreshIntervalMs: 'MESHPRESS_REFRESH_INTERVAL_MS',
  shutdownGraceMs: 'MESHPRESS_SHUTDOWN_GRACE_MS',
  requestTimeoutMs: 'MESHPRESS_REQUEST_TIMEOUT_MS',
  cacheReverifyAfterMs: 'MESHPRESS_CACHE_REVERIFY_MS',
  instanceId: 'MESHPRESS_INSTANCE_ID',
  exposeOpenApi: 'MESHPRESS_OPENAPI',
  roles: 'MESHPRESS_ROLES',
  blobStore: 'MESHPRESS_BLOB_STORE',
  s3Buckets: 'MESHPRESS_S3_BUCKETS',
  s3Endpoint: 'MESHPRESS_S3_ENDPOINT',
  s3ForcePathStyle: 'MESHPRESS_S3_FORCE_PATH_STYLE',
  s3Prefix: 'MESHPRESS_S3_PREFIX',
  fallbackIntervalMs: 'MESHPRESS_FALLBACK_INTERVAL_MS',
  fallbackKey: 'MESHPRESS_FALLBACK_KEY',
  janitorEnabled: 'MESHPRESS_JANITOR_ENABLED',
  janitorIntervalMs: 'MESHPRESS_JANITOR_INTERVAL_MS',
  redisUrl: 'MESHPRESS_REDIS_URL',
  redisPrefix: 'MESHPRESS_REDIS_PREFIX',
  store: 'MESHPRESS_STORE',
  cassandraContactPoints: 'MESHPRESS_CASSANDRA_CONTACT_POINTS',
  cassandraLocalDc: 'MESHPRESS_CASSANDRA_LOCAL_DC',
  cassandraPort: 'MESHPRESS_CASSANDRA_PORT',
  cassandraKeyspace: 'MESHPRESS_CASSANDRA_KEYSPACE',
  cassandraReplication: 'MESHPRESS_CASSANDRA_REPLICATION',
  cassandraConsistency: 'MESHPRESS_CASSANDRA_CONSISTENCY',
  cassandraSerialConsistency: 'MESHPRESS_CASSANDRA_SERIAL_CONSISTENCY',
  cassandraUsername: 'MESHPRESS_CASSANDRA_USERNAME',
  cassandraPassword: 'MESHPRESS_CASSANDRA_PASSWORD',
  cassandraProtocolVersion: 'MESHPRESS_CASSANDRA_PROTOCOL_VERSION',
  cassandraMigrate: 'MESHPRESS_CASSANDRA_MIGRATE',
  singleInstance: 'MESHPRESS_SINGLE_INSTANCE',
  ...LIMIT_ENV_NAMES,
  consumerStatusTtlMs: 'MESHPRESS_CONSUMER_STATUS_TTL_MS',
  consumerLagGraceMs: 'MESHPRESS_CONSUMER_LAG_GRACE_MS',
};

/** Reads the configuration from environment variables; a ValidationError names each bad variable. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const raw: Record<string, string> = {};
  for (const [key, name] of Object.entries(ENV_NAMES)) {
    const value = env[name];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const result = serverConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  const issues = toFieldIssues(result.error).map((issue) => {
    // A nested path (s3Buckets.1.bucket) names its variable; the rest says where inside the value.
    const [field = '', ...inside] = issue.path.split('.');
    const name = ENV_NAMES[field as keyof ServerConfig];
    if (!name) return issue;
    return {
      path: name,
      message: inside.length > 0 ? `${inside.join('.')}: ${issue.message}` : issue.message,
    };
  });
  throw new ValidationError(
    `invalid configuration: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
    issues,
  );
}

/** Parses an explicit configuration object (tests, embedding), applying the same defaults. */
export function parseServerConfig(
  input: Partial<z.input<typeof serverConfigSchema>> | Partial<ServerConfig> = {},
): ServerConfig {
  const result = serverConfigSchema.safeParse(input);
  if (result.success) return result.data;
  throw new ValidationError('invalid server configuration', toFieldIssues(result.error));
}
