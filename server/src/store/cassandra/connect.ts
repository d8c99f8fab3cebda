import { Client } from 'cassandra-driver';
import { toMeshpressError } from './cassandra-errors.js';
import type { ParsedCassandraConfigStoreOptions } from './options.js';

/**
 * A connected driver client: contact points, local data center (the default load-balancing policy routes
 * to its nodes, token-aware), protocol version (negotiated unless pinned), timeouts, credentials, and the
 * default consistency levels. Rejects with UnavailableError when no contact point answers.
 */
export async function connect(options: ParsedCassandraConfigStoreOptions): Promise<Client> {
  const client = new Client({
    contactPoints: [...options.contactPoints],
    localDataCenter: options.localDataCenter,
    protocolOptions: {
      port: options.port,
      ...(options.protocolVersion === undefined ? {} : { maxVersion: options.protocolVersion }),
    },
    ...(options.credentials ? { credentials: { ...options.credentials } } : {}),
    socketOptions: { readTimeout: options.requestTimeoutMs, connectTimeout: options.connectTimeoutMs },
    queryOptions: { consistency: options.consistency, serialConsistency: options.serialConsistency },
  });
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.shutdown().catch(() => undefined);
    throw toMeshpressError(error);
  }
}
