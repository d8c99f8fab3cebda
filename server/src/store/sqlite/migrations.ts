import { InternalError } from '@meshpress/client';
import type Database from 'better-sqlite3';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * Schema history, applied in order. Never edit a migration that has shipped: append a new one, so every
 * existing database file reaches the same schema.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
      CREATE TABLE topics (
        name TEXT PRIMARY KEY,
        retention_max_versions INTEGER,
        retention_max_age_days REAL,
        kind TEXT,
        description TEXT,
        latest_version INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE versions (
        topic TEXT NOT NULL REFERENCES topics(name) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        metadata TEXT NOT NULL,
        pointer_kind TEXT NOT NULL CHECK (pointer_kind IN ('direct', 's3', 'local')),
        pointer_json TEXT,
        pointer_data BLOB,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        content_type TEXT NOT NULL,
        publisher TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        committed_at INTEGER,
        PRIMARY KEY (topic, version)
      ) STRICT;

      -- History pages and snapshots only ever look at committed versions.
      CREATE INDEX versions_committed ON versions (topic, version) WHERE committed_at IS NOT NULL;

      CREATE TABLE version_scopes (
        topic TEXT NOT NULL,
        version INTEGER NOT NULL,
        scope TEXT NOT NULL,
        added_at INTEGER NOT NULL,
        PRIMARY KEY (topic, version, scope),
        FOREIGN KEY (topic, version) REFERENCES versions(topic, version) ON DELETE CASCADE
      ) STRICT;

      CREATE TABLE pins (
        topic TEXT NOT NULL REFERENCES topics(name) ON DELETE CASCADE,
        scope TEXT NOT NULL,
        version INTEGER NOT NULL,
        reason TEXT NOT NULL,
        author TEXT NOT NULL,
        set_at INTEGER NOT NULL,
        PRIMARY KEY (topic, scope)
      ) STRICT;

      -- AUTOINCREMENT so a sequence number is never reused, even after the newest events are deleted.
      CREATE TABLE pin_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        topic TEXT NOT NULL REFERENCES topics(name) ON DELETE CASCADE,
        scope TEXT NOT NULL,
        version INTEGER,
        reason TEXT NOT NULL,
        author TEXT NOT NULL,
        at INTEGER NOT NULL
      ) STRICT;

      CREATE INDEX pin_events_topic ON pin_events (topic, seq);
    `,
  },
  {
    version: 2,
    name: 'payload references',
    // The janitor asks, per blob, whether any record still points at it by digest (isPayloadReferenced).
    // Partial: inline payloads have no blob, and they are most versions.
    sql: `
      CREATE INDEX versions_payload_sha256 ON versions (sha256) WHERE pointer_kind <> 'direct';
    `,
  },
  {
    version: 3,
    name: 'topic change markers',
    // Bumped in the same transaction as every change to what a topic serves, so the consumer cache can
    // tell which topics changed from one read of (name, change_seq) instead of reloading every topic.
    sql: `
      ALTER TABLE topics ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
    `,
  },
];

const LATEST_VERSION = Math.max(...MIGRATIONS.map((m) => m.version));

/**
 * Brings the database to the newest schema. Safe to run on every open, and from several processes at
 * once: the check and the applying happen under one write lock, so each migration runs exactly once.
 * Returns the versions applied by this call.
 */
export function migrate(db: Database.Database, now: number): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  ) STRICT`);
  const appliedStmt = db.prepare<[], { version: number }>('SELECT version FROM schema_migrations');
  const recordStmt = db.prepare<[number, string, number]>(
    'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
  );
  const run = db.transaction(() => {
    const applied = new Set(appliedStmt.all().map((row) => row.version));
    const newest = Math.max(0, ...applied);
    // An older server must not write into a schema it does not understand.
    if (newest > LATEST_VERSION)
      throw new InternalError(
        `database schema version ${newest} is newer than this server supports (${LATEST_VERSION})`,
      );
    const done: number[] = [];
    for (const migration of [...MIGRATIONS].sort((a, b) => a.version - b.version)) {
      if (applied.has(migration.version)) continue;
      db.exec(migration.sql);
      recordStmt.run(migration.version, migration.name, now);
      done.push(migration.version);
    }
    return done;
  });
  return run.immediate();
}
