import { ValidationError } from '@meshpress/client';
import { describe, expect, it } from 'vitest';
import { configFromEnv, parseServerConfig } from '../../../server/src/config.js';

const distributed = {
  MESHPRESS_STORE: 'cassandra',
  MESHPRESS_CASSANDRA_CONTACT_POINTS: 'cass-1:9042, cass-2',
  MESHPRESS_CASSANDRA_LOCAL_DC: 'dc1',
  MESHPRESS_CASSANDRA_REPLICATION: 'NetworkTopologyStrategy:dc1=3',
  MESHPRESS_REDIS_URL: 'redis://redis:6379',
  MESHPRESS_BLOB_STORE: 's3',
  MESHPRESS_S3_BUCKETS: 'us-east-1:mp-use1,eu-west-1=mp-euw1',
  MESHPRESS_ROLES: 'consume',
};

describe('server configuration from the environment', () => {
  it('uses the embedded defaults when nothing is set', () => {
    const config = configFromEnv({});
    expect(config).toMatchObject({ store: 'sqlite', blobStore: 'dir', httpPort: 8080, grpcPort: 9090 });
    expect(config.roles).toEqual(['publish', 'consume', 'tasks']);
    expect(config.redisUrl).toBeUndefined();
  });

  it('reads a distributed configuration, and a parsed configuration parses again to itself', () => {
    const config = configFromEnv(distributed);
    expect(config.cassandraContactPoints).toEqual(['cass-1:9042', 'cass-2']);
    expect(config.s3Buckets).toEqual([
      { region: 'us-east-1', bucket: 'mp-use1' },
      { region: 'eu-west-1', bucket: 'mp-euw1' },
    ]);
    expect(config.roles).toEqual(['consume']);
    expect(parseServerConfig(config)).toEqual(config);
  });

  it('names each invalid variable', () => {
    const error = (() => {
      try {
        configFromEnv({
          MESHPRESS_HTTP_PORT: '99999',
          MESHPRESS_ROLES: 'publish,admin',
          MESHPRESS_BLOB_STORE: 's3',
        });
      } catch (e) {
        return e;
      }
    })() as ValidationError;
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.issues.map((i) => i.path).sort()).toEqual(['MESHPRESS_HTTP_PORT', 'MESHPRESS_ROLES']);
    expect(() => configFromEnv({ MESHPRESS_BLOB_STORE: 's3' })).toThrow(/MESHPRESS_S3_BUCKETS/);
    expect(() => configFromEnv({ MESHPRESS_S3_BUCKETS: 'us-east-1' })).toThrow(
      "MESHPRESS_S3_BUCKETS: 'us-east-1' is not region:bucket",
    );
  });

  it('bounds how long a request may take to arrive: five minutes unless set, never zero', () => {
    expect(configFromEnv({}).requestTimeoutMs).toBe(300_000);
    expect(configFromEnv({ MESHPRESS_REQUEST_TIMEOUT_MS: '30000' }).requestTimeoutMs).toBe(30_000);
    for (const bad of ['0', '30s', '1.5'])
      expect(() => configFromEnv({ MESHPRESS_REQUEST_TIMEOUT_MS: bad })).toThrow(
        /MESHPRESS_REQUEST_TIMEOUT_MS/,
      );
  });

  it('requires contact points and a data center for the cassandra store', () => {
    expect(() => configFromEnv({ MESHPRESS_STORE: 'cassandra' })).toThrow(
      /MESHPRESS_CASSANDRA_CONTACT_POINTS/,
    );
  });

  it('refuses the cassandra store with a per-instance blob directory or without Redis, unless one instance runs', () => {
    const cassandraOnly = {
      MESHPRESS_STORE: 'cassandra',
      MESHPRESS_CASSANDRA_CONTACT_POINTS: 'c1',
      MESHPRESS_CASSANDRA_LOCAL_DC: 'dc1',
    };
    expect(issuePaths(cassandraOnly)).toEqual(['MESHPRESS_BLOB_STORE', 'MESHPRESS_REDIS_URL']);
    expect(issuePaths({ ...cassandraOnly, MESHPRESS_REDIS_URL: 'redis://r:6379' })).toEqual([
      'MESHPRESS_BLOB_STORE',
    ]);
    expect(
      issuePaths({ ...cassandraOnly, MESHPRESS_BLOB_STORE: 's3', MESHPRESS_S3_BUCKETS: 'r:bkt' }),
    ).toEqual(['MESHPRESS_REDIS_URL']);
    expect(() => configFromEnv(cassandraOnly)).toThrow(/MESHPRESS_SINGLE_INSTANCE=true/);

    const single = configFromEnv({ ...cassandraOnly, MESHPRESS_SINGLE_INSTANCE: 'true' });
    expect(single).toMatchObject({ store: 'cassandra', blobStore: 'dir', singleInstance: true });
    expect(parseServerConfig(single)).toEqual(single);
    expect(issuePaths({ ...cassandraOnly, MESHPRESS_SINGLE_INSTANCE: 'yes' })).toEqual([
      'MESHPRESS_SINGLE_INSTANCE',
    ]);
    // The same check for a configuration handed to startServer directly.
    expect(() =>
      parseServerConfig({ store: 'cassandra', cassandraLocalDc: 'dc1', redisUrl: 'redis://r' }),
    ).toThrow(ValidationError);
    // Embedded mode is unaffected.
    expect(configFromEnv({}).singleInstance).toBe(false);
  });

  it('refuses, before anything connects, values a backend would refuse when it is built', () => {
    expect(issuePaths({ MESHPRESS_FALLBACK_KEY: '/fallback.json' })).toEqual(['MESHPRESS_FALLBACK_KEY']);
    expect(issuePaths({ MESHPRESS_FALLBACK_KEY: 'fallback/../x' })).toEqual(['MESHPRESS_FALLBACK_KEY']);
    expect(configFromEnv({ MESHPRESS_FALLBACK_KEY: 'fallback/v2/cache.json.gz' }).fallbackKey).toBe(
      'fallback/v2/cache.json.gz',
    );

    // The instance id names the Redis connections, which allow 1-64 printable characters without spaces.
    expect(issuePaths({ MESHPRESS_INSTANCE_ID: 'tasks 1', MESHPRESS_REDIS_URL: 'redis://r' })).toEqual([
      'MESHPRESS_INSTANCE_ID',
    ]);
    expect(
      issuePaths({ MESHPRESS_INSTANCE_ID: `pod-${'x'.repeat(61)}`, MESHPRESS_REDIS_URL: 'redis://r' }),
    ).toEqual(['MESHPRESS_INSTANCE_ID']);
    expect(configFromEnv({ MESHPRESS_INSTANCE_ID: 'tasks 1' }).instanceId).toBe('tasks 1');

    // A URL read from a secret file with its trailing newline.
    expect(issuePaths({ MESHPRESS_REDIS_URL: 'redis://r:6379\n' })).toEqual(['MESHPRESS_REDIS_URL']);
    expect(issuePaths({ MESHPRESS_REDIS_URL: 'http://r:6379' })).toEqual(['MESHPRESS_REDIS_URL']);

    expect(issuePaths({ MESHPRESS_CASSANDRA_KEYSPACE: 'Mesh-Press' })).toEqual([
      'MESHPRESS_CASSANDRA_KEYSPACE',
    ]);
    expect(issuePaths({ MESHPRESS_CASSANDRA_REPLICATION: 'SimpleStrategy:zero' })).toEqual([
      'MESHPRESS_CASSANDRA_REPLICATION',
    ]);
    expect(issuePaths({ MESHPRESS_CASSANDRA_REPLICATION: 'NetworkTopologyStrategy:' })).toEqual([
      'MESHPRESS_CASSANDRA_REPLICATION',
    ]);
    expect(configFromEnv({ MESHPRESS_CASSANDRA_REPLICATION: 'NetworkTopologyStrategy:dc1=3' })).toMatchObject(
      {
        cassandraReplication: 'NetworkTopologyStrategy:dc1=3',
      },
    );

    expect(issuePaths({ MESHPRESS_S3_PREFIX: '/meshpress' })).toEqual(['MESHPRESS_S3_PREFIX']);
    expect(configFromEnv({ MESHPRESS_S3_PREFIX: 'meshpress/prod/' }).s3Prefix).toBe('meshpress/prod/');
    expect(issuePaths({ MESHPRESS_S3_BUCKETS: 'us-east-1:Bad_Bucket' })).toEqual(['MESHPRESS_S3_BUCKETS']);
    expect(issuePaths({ MESHPRESS_S3_BUCKETS: 'us-east-1:mp-a,us-east-1:mp-a' })).toEqual([
      'MESHPRESS_S3_BUCKETS',
    ]);
  });
});

/** The variables a ValidationError from configFromEnv names, sorted; [] when the environment is accepted. */
function issuePaths(env: Record<string, string>): string[] {
  try {
    configFromEnv(env);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return [...new Set((error as ValidationError).issues.map((i) => i.path))].sort();
  }
}
