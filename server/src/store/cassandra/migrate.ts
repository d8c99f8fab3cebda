import { randomUUID } from 'node:crypto';
import { type Clock, InternalError, UnavailableError } from '@meshpress/client';
import { errors, types } from 'cassandra-driver';
import { CASSANDRA_MIGRATIONS, type CassandraMigration } from './migrations.js';
import { type CassandraReplication, replicationCql } from './options.js';
import type { CqlSession } from './session.js';

/** A migrator that died holding the lock stops blocking others after this long. */
const LOCK_TTL_SECONDS = 120;
/** How long an instance waits for another one's migrations before giving up. */
const LOCK_WAIT_MS = 150_000;
const LOCK_POLL_MS = 500;
const LOCK_NAME = 'migrations';

export interface MigrateOptions {
  readonly keyspace: string;
  readonly replication: CassandraReplication;
  readonly clock: Clock;
  /** Defaults to CASSANDRA_MIGRATIONS; tests pass longer histories. */
  readonly migrations?: readonly CassandraMigration[];
}

/**
 * Brings the keyspace to the newest schema: creates it when missing (with the given replication; an
 * existing keyspace is left as it is), then applies the migrations not yet recorded in
 * `schema_migrations`, in order, each recorded after its statements ran. Returns the versions applied by
 * this call; [] when the schema was current (one read, no schema statement).
 *
 * Concurrency: Cassandra gives a table created twice at the same moment two ids, and the cluster's
 * schema then stays broken ("Column family ID mismatch") for every later schema change. So the
 * migrations run under a lock row taken by lightweight transaction in `schema_lock`: instances upgraded
 * together apply each migration once. The lock table itself cannot be guarded that way; it is created
 * on the very first start of a keyspace, which must therefore happen on one instance alone (see
 * docs/cassandra.md: start one instance first, or run the migrations as a deploy step).
 */
export async function migrate(session: CqlSession, options: MigrateOptions): Promise<number[]> {
  const { keyspace: ks, clock } = options;
  const migrations = sortedMigrations(options.migrations);
  if ((await pendingMigrations(session, ks, migrations)).length === 0) return [];

  await session.ddl(
    `CREATE KEYSPACE IF NOT EXISTS ${ks} WITH replication = ${replicationCql(options.replication)} AND durable_writes = true`,
  );
  await session.ddl(`CREATE TABLE IF NOT EXISTS ${ks}.schema_lock (name text PRIMARY KEY, owner uuid)`);
  const owner = await acquireLock(session, ks, clock);
  try {
    await session.ddl(
      `CREATE TABLE IF NOT EXISTS ${ks}.schema_migrations (version int PRIMARY KEY, name text, applied_at timestamp)`,
    );
    const done: number[] = [];
    // Another instance may have finished while this one waited for the lock.
    for (const migration of await pendingMigrations(session, ks, migrations)) {
      for (const statement of migration.statements(ks)) await runIdempotent(session, statement);
      await migration.backfill?.(session, ks);
      await session.execute(
        `INSERT INTO ${ks}.schema_migrations (version, name, applied_at) VALUES (?, ?, ?) IF NOT EXISTS`,
        [migration.version, migration.name, new Date(clock.now())],
        { idempotent: true },
      );
      done.push(migration.version);
    }
    return done;
  } finally {
    await releaseLock(session, ks, owner);
  }
}

/**
 * For instances that do not migrate: resolves when every migration is applied, else rejects with
 * UnavailableError (the migrating instance or deploy step has not run yet: try again later).
 */
export async function requireCurrentSchema(
  session: CqlSession,
  keyspace: string,
  migrations?: readonly CassandraMigration[],
): Promise<void> {
  const pending = await pendingMigrations(session, keyspace, sortedMigrations(migrations));
  if (pending.length > 0)
    throw new UnavailableError(
      `keyspace ${keyspace} lacks schema migrations ${pending.map((m) => m.version).join(', ')}: ` +
        'run them first (an instance with migrations enabled, or the deploy step in docs/cassandra.md)',
    );
}

function sortedMigrations(migrations: readonly CassandraMigration[] = CASSANDRA_MIGRATIONS) {
  return [...migrations].sort((a, b) => a.version - b.version);
}

/** Migrations not yet recorded; all of them when the keyspace or its history table does not exist. */
async function pendingMigrations(
  session: CqlSession,
  ks: string,
  migrations: readonly CassandraMigration[],
): Promise<CassandraMigration[]> {
  let rows: types.Row[];
  try {
    rows = await session.all(`SELECT version FROM ${ks}.schema_migrations`, []);
  } catch (error) {
    // "Keyspace … does not exist" / "unconfigured table": nothing applied yet.
    if (error instanceof errors.ResponseError && error.code === types.responseErrorCodes.invalid)
      return [...migrations];
    throw error;
  }
  const applied = new Set(rows.map((row) => row.get('version') as number));
  const newest = Math.max(0, ...applied);
  const latest = Math.max(0, ...migrations.map((m) => m.version));
  // An older server must not write into a schema it does not understand.
  if (newest > latest)
    throw new InternalError(
      `keyspace ${ks} has schema version ${newest}, newer than this server supports (${latest})`,
    );
  return migrations.filter((m) => !applied.has(m.version));
}

async function acquireLock(session: CqlSession, ks: string, clock: Clock): Promise<types.Uuid> {
  const owner = types.Uuid.fromString(randomUUID());
  const deadline = clock.now() + LOCK_WAIT_MS;
  for (;;) {
    const result = await session.execute(
      `INSERT INTO ${ks}.schema_lock (name, owner) VALUES (?, ?) IF NOT EXISTS USING TTL ${LOCK_TTL_SECONDS}`,
      [LOCK_NAME, owner],
      { idempotent: false },
    );
    if (result.wasApplied()) return owner;
    if (clock.now() >= deadline)
      throw new UnavailableError(
        `another instance has held the schema migration lock of keyspace ${ks} for over ${LOCK_WAIT_MS / 1000} s`,
      );
    await new Promise<void>((resolve) => clock.setTimeout(resolve, LOCK_POLL_MS));
  }
}

async function releaseLock(session: CqlSession, ks: string, owner: types.Uuid): Promise<void> {
  // Only our own lock: if it expired and another instance took it, that one is still working.
  await session.execute(`DELETE FROM ${ks}.schema_lock WHERE name = ? IF owner = ?`, [LOCK_NAME, owner], {
    idempotent: true,
  });
}

/** Runs one schema statement; "already exists" (a re-run ALTER TABLE ADD) means it was applied before. */
async function runIdempotent(session: CqlSession, statement: string): Promise<void> {
  try {
    await session.ddl(statement);
  } catch (error) {
    const alreadyDone =
      error instanceof errors.ResponseError &&
      (error.code === types.responseErrorCodes.alreadyExists ||
        (error.code === types.responseErrorCodes.invalid &&
          /already exists|conflicts with an existing column/i.test(error.message)));
    if (!alreadyDone) throw error;
  }
}
