import { backfillPayloadRefs } from './payload-refs.js';
import type { CqlSession } from './session.js';

/**
 * Schema history of the Cassandra store, applied in order by migrate.ts. Never edit a migration that has
 * shipped: append a new one. Every statement must be safe to run twice (a crash between a statement and
 * the migration's record re-runs it): CREATE … IF NOT EXISTS; for ALTER TABLE ADD, which has no
 * IF NOT EXISTS in CQL 3.2, migrate.ts treats "already exists" as done.
 *
 * CQL 3.2 only, so the schema runs on Cassandra 2.1 and unchanged on 4 and 5: no JSON, no materialized
 * views, no PER PARTITION LIMIT, no GROUP BY, no functions, and no identifier reserved in later versions
 * (e.g. `entries`). docs/cassandra.md explains each table.
 */
export interface CassandraMigration {
  readonly version: number;
  readonly name: string;
  /** CQL statements for keyspace `ks` (a validated, unquoted identifier). */
  readonly statements: (ks: string) => readonly string[];
  /**
   * Data to write once the statements ran (filling a new table from existing rows), before the migration
   * is recorded. Must be safe to run twice, as the statements are.
   */
  readonly backfill?: (session: CqlSession, ks: string) => Promise<void>;
}

export const CASSANDRA_MIGRATIONS: readonly CassandraMigration[] = [
  {
    version: 1,
    name: 'initial',
    statements: (ks) => [
      `CREATE TABLE IF NOT EXISTS ${ks}.topics (
        name text PRIMARY KEY,
        retention_max_versions int,
        retention_max_age_days double,
        kind text,
        description text,
        created_at timestamp,
        updated_at timestamp
      )`,
      // Topic names in order, for listing. One partition (bucket 0): a listing is one clustering-range
      // read. A later migration can spread names over buckets and merge the ordered reads.
      `CREATE TABLE IF NOT EXISTS ${ks}.topic_index (
        bucket int,
        name text,
        PRIMARY KEY (bucket, name)
      ) WITH CLUSTERING ORDER BY (name ASC)`,
      // Highest version number handed out per topic; only ever changed by lightweight transaction.
      `CREATE TABLE IF NOT EXISTS ${ks}.version_counters (
        topic text PRIMARY KEY,
        latest int
      )`,
      `CREATE TABLE IF NOT EXISTS ${ks}.versions (
        topic text,
        version int,
        metadata text,
        pointer_kind text,
        pointer_json text,
        pointer_data blob,
        size bigint,
        sha256 text,
        content_type text,
        publisher text,
        created_at timestamp,
        PRIMARY KEY (topic, version)
      ) WITH CLUSTERING ORDER BY (version DESC)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.version_scopes (
        topic text,
        version int,
        scope text,
        added_at timestamp,
        PRIMARY KEY (topic, version, scope)
      ) WITH CLUSTERING ORDER BY (version DESC, scope ASC)`,
      // The commit marker, written last. Its own table, so that history pages are clustering-range reads
      // over committed versions only.
      `CREATE TABLE IF NOT EXISTS ${ks}.version_commits (
        topic text,
        version int,
        committed_at timestamp,
        PRIMARY KEY (topic, version)
      ) WITH CLUSTERING ORDER BY (version DESC)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.pins (
        topic text,
        scope text,
        version int,
        reason text,
        author text,
        set_at timestamp,
        PRIMARY KEY (topic, scope)
      ) WITH CLUSTERING ORDER BY (scope ASC)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.pin_events (
        topic text,
        event_id timeuuid,
        scope text,
        version int,
        reason text,
        author text,
        event_at timestamp,
        PRIMARY KEY (topic, event_id)
      ) WITH CLUSTERING ORDER BY (event_id ASC)`,
    ],
  },
  {
    version: 2,
    name: 'payload references',
    statements: (ks) => [
      // Which version records point at a blob, by digest: the janitor deletes a content-addressed blob
      // only when its partition is empty (isPayloadReferenced is a one-partition read). Rows exist for
      // non-direct pointers only; writeVersion writes the row before the record, deleteVersion removes it
      // after the record, so a record never exists without its row.
      `CREATE TABLE IF NOT EXISTS ${ks}.payload_refs (
        sha256 text,
        topic text,
        version int,
        PRIMARY KEY (sha256, topic, version)
      )`,
    ],
    // Records written before this migration have no row yet.
    backfill: backfillPayloadRefs,
  },
  {
    version: 3,
    name: 'topic change markers',
    statements: (ks) => [
      // Per topic, a count of the changes to what it serves, bumped after each change's data is written:
      // the consumer cache reads the whole (single) partition every few seconds and reloads only topics
      // whose count moved. A counter, not a timeuuid written with a plain UPDATE: increments commute, so
      // every bump changes the value whatever the writers' clocks say, where a plain write stamped earlier
      // than the one before it (clock skew between instances) would be dropped by last-write-wins and the
      // change it announces never seen. Counters need a table of their own. Same bucket as topic_index.
      // Topics untouched since this migration have no row: their marker reads as 0, so no backfill.
      `CREATE TABLE IF NOT EXISTS ${ks}.topic_changes (
        bucket int,
        name text,
        changes counter,
        PRIMARY KEY (bucket, name)
      ) WITH CLUSTERING ORDER BY (name ASC)`,
    ],
  },
  {
    version: 4,
    name: 'pin clock',
    statements: (ks) => [
      // Per topic (static: one value per partition), the time of its last pin change. Every pin change
      // moves it by lightweight transaction from the value it read, so a topic's pin changes are ordered by
      // Paxos and timed in that order whatever the instances' clocks say (pin-rows.ts). Null until the
      // topic's first pin change after this migration: no backfill.
      `ALTER TABLE ${ks}.pins ADD pin_clock timestamp static`,
    ],
  },
];

export const LATEST_CASSANDRA_SCHEMA_VERSION = Math.max(...CASSANDRA_MIGRATIONS.map((m) => m.version));
