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

  it('requires contact points and a data center for the cassandra store', () => {
    expect(() => configFromEnv({ MESHPRESS_STORE: 'cassandra' })).toThrow(
      /MESHPRESS_CASSANDRA_CONTACT_POINTS/,
    );
  });
});
