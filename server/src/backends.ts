import { join } from 'node:path';
import type { Clock } from '@meshpress/client';
import type { Logger } from 'pino';
import type { BlobStore } from './blob/blob-store.js';
import { DirBlobStore } from './blob/dir-blob-store.js';
import { S3BlobStore } from './blob/s3-blob-store.js';
import type { ChangeBus } from './bus/change-bus.js';
import { InProcessChangeBus } from './bus/in-process-bus.js';
import { RedisChangeBus } from './bus/redis-change-bus.js';
import type { ServerConfig } from './config.js';
import type { ConsumerStatusStore } from './consumers/consumer-status-store.js';
import { MemoryConsumerStatusStore } from './consumers/memory-consumer-status-store.js';
import { RedisConsumerStatusStore } from './consumers/redis-consumer-status-store.js';
import { RedisLeadership } from './leadership/redis-leadership.js';
import { CassandraConfigStore } from './store/cassandra/cassandra-config-store.js';
import { parseReplication } from './store/cassandra/options.js';
import type { ConfigStore } from './store/config-store.js';
import { SqliteConfigStore } from './store/sqlite/sqlite-config-store.js';
import { InProcessLeadership, type Leadership } from './tasks/leadership.js';

/** The implementations of each role, chosen by configuration (embedded or distributed). */

export async function openStore(config: ServerConfig, clock: Clock): Promise<ConfigStore> {
  if (config.store === 'cassandra')
    return CassandraConfigStore.open({
      contactPoints: config.cassandraContactPoints ?? [],
      localDataCenter: config.cassandraLocalDc ?? '',
      replication: parseReplication(config.cassandraReplication),
      migrate: config.cassandraMigrate,
      clock,
      ...(config.cassandraPort ? { port: config.cassandraPort } : {}),
      ...(config.cassandraKeyspace ? { keyspace: config.cassandraKeyspace } : {}),
      ...(config.cassandraConsistency ? { consistency: config.cassandraConsistency } : {}),
      ...(config.cassandraSerialConsistency ? { serialConsistency: config.cassandraSerialConsistency } : {}),
      ...(config.cassandraProtocolVersion ? { protocolVersion: config.cassandraProtocolVersion } : {}),
      ...(config.cassandraUsername
        ? { credentials: { username: config.cassandraUsername, password: config.cassandraPassword ?? '' } }
        : {}),
    });
  return SqliteConfigStore.open({ path: join(config.dataDir, 'meshpress.db') });
}

export function openBlobStore(config: ServerConfig): BlobStore {
  if (config.blobStore === 's3')
    return new S3BlobStore({
      buckets: (config.s3Buckets ?? []).map((b) => ({
        ...b,
        ...(config.s3Endpoint ? { endpoint: config.s3Endpoint } : {}),
        forcePathStyle: config.s3ForcePathStyle,
      })),
      ...(config.s3Prefix ? { prefix: config.s3Prefix } : {}),
    });
  return new DirBlobStore({ root: join(config.dataDir, 'blobs') });
}

export function openChangeBus(config: ServerConfig, deps: RedisDeps): ChangeBus {
  if (!config.redisUrl) return new InProcessChangeBus();
  return new RedisChangeBus(
    { url: config.redisUrl, channel: `${config.redisPrefix}:changes`, clientName: deps.instanceId },
    deps,
  );
}

export function openLeadership(config: ServerConfig, deps: RedisDeps): Leadership {
  if (!config.redisUrl) return new InProcessLeadership();
  return new RedisLeadership(
    {
      url: config.redisUrl,
      instanceId: deps.instanceId,
      keyPrefix: `${config.redisPrefix}:task:`,
      clientName: deps.instanceId,
    },
    deps,
  );
}

export function openConsumerStatus(config: ServerConfig, deps: RedisDeps): ConsumerStatusStore {
  if (!config.redisUrl) return new MemoryConsumerStatusStore({ ttlMs: config.consumerStatusTtlMs });
  return new RedisConsumerStatusStore(
    {
      url: config.redisUrl,
      keyPrefix: `${config.redisPrefix}:consumers:`,
      ttlMs: config.consumerStatusTtlMs,
      clientName: deps.instanceId,
    },
    deps,
  );
}

interface RedisDeps {
  readonly instanceId: string;
  readonly clock: Clock;
  readonly logger: Logger;
}
