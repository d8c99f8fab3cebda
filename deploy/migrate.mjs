#!/usr/bin/env node
/**
 * Deploy step for distributed mode: creates the Cassandra keyspace when missing, applies pending schema
 * migrations, and exits. Run it once per release, before the server instances, which open the store with
 * MESHPRESS_CASSANDRA_MIGRATE=false. Cassandra breaks when two processes create the same table at once,
 * so the first start of a new keyspace must be one process alone (docs/cassandra.md, "Migrations").
 *
 * Reads the same MESHPRESS_* variables as the server (docs/deploy.md).
 *
 *   node deploy/migrate.mjs [--wait-ms=N]
 *
 * --wait-ms=N  keep retrying while no Cassandra node answers, for up to N ms (a cluster still starting).
 * Exit codes: 0 schema current, 1 failed, 2 invalid configuration or usage.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CassandraConfigStore, configFromEnv, parseReplication } from '@meshpress/server';

const MAX_RETRY_DELAY_MS = 10_000;

function fail(code, message) {
  process.stderr.write(`meshpress-migrate: ${message}\n`);
  process.exit(code);
}

function firstLine(err) {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}

function parseArgs(argv) {
  let waitMs = 0;
  for (const arg of argv) {
    const match = /^--wait-ms=(\d+)$/.exec(arg);
    if (!match) fail(2, `unknown argument '${arg}' (usage: migrate.mjs [--wait-ms=N])`);
    waitMs = Number(match[1]);
  }
  return { waitMs };
}

/** The store options the server builds in server/src/backends.ts (openStore), with migration on. */
function cassandraOptions(config) {
  return {
    contactPoints: config.cassandraContactPoints ?? [],
    localDataCenter: config.cassandraLocalDc ?? '',
    replication: parseReplication(config.cassandraReplication),
    migrate: true,
    ...(config.cassandraPort ? { port: config.cassandraPort } : {}),
    ...(config.cassandraKeyspace ? { keyspace: config.cassandraKeyspace } : {}),
    ...(config.cassandraConsistency ? { consistency: config.cassandraConsistency } : {}),
    ...(config.cassandraSerialConsistency ? { serialConsistency: config.cassandraSerialConsistency } : {}),
    ...(config.cassandraProtocolVersion ? { protocolVersion: config.cassandraProtocolVersion } : {}),
    ...(config.cassandraUsername
      ? { credentials: { username: config.cassandraUsername, password: config.cassandraPassword ?? '' } }
      : {}),
  };
}

async function main() {
  const { waitMs } = parseArgs(process.argv.slice(2));
  let options;
  try {
    // Only the schema, by one process: the refusal of a cassandra store without S3 or Redis, which
    // protects instances sharing the keyspace, does not apply here.
    const config = configFromEnv({ ...process.env, MESHPRESS_SINGLE_INSTANCE: 'true' });
    if (config.store !== 'cassandra') fail(2, 'MESHPRESS_STORE is not cassandra: nothing to migrate');
    options = cassandraOptions(config);
  } catch (err) {
    fail(2, err instanceof Error ? err.message : String(err));
  }

  const deadline = performance.now() + waitMs;
  for (let attempt = 0; ; attempt++) {
    try {
      const applied = await CassandraConfigStore.migrate(options);
      process.stdout.write(
        applied.length > 0
          ? `meshpress-migrate: applied migrations ${applied.join(', ')}\n`
          : 'meshpress-migrate: schema already current\n',
      );
      return;
    } catch (err) {
      // Only "nobody answered" is worth waiting out; a bad schema or credentials will not heal.
      const retryable = err?.code === 'UNAVAILABLE';
      const delay = Math.min(1_000 * 2 ** attempt, MAX_RETRY_DELAY_MS);
      if (!retryable || performance.now() + delay > deadline) throw err;
      process.stderr.write(`meshpress-migrate: ${firstLine(err)}; retrying in ${delay} ms\n`);
      await sleep(delay);
    }
  }
}

main().catch((err) => fail(1, err instanceof Error ? err.message : String(err)));
