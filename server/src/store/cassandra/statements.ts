import { VERSION_COLUMNS } from './rows.js';

/** The one partition of topic_index (see migrations.ts). */
export const TOPIC_INDEX_BUCKET = 0;

/**
 * Every statement the store runs, for one keyspace. All are prepared on first use (CqlSession), and each
 * reads or writes a single partition: no multi-partition IN, no ALLOW FILTERING, no secondary index.
 */
export function cqlFor(ks: string) {
  return {
    topicGet: `SELECT * FROM ${ks}.topics WHERE name = ?`,
    topicExists: `SELECT name FROM ${ks}.topics WHERE name = ?`,
    topicInsert: `INSERT INTO ${ks}.topics
      (name, retention_max_versions, retention_max_age_days, kind, description, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS`,
    // A lightweight transaction too, so its Paxos ballot orders it after the creating one whatever the
    // clocks of the instances say. The condition is on created_at, which never changes (UPDATE … IF EXISTS
    // is not in Cassandra 2.1.0).
    topicUpdate: `UPDATE ${ks}.topics SET retention_max_versions = ?, retention_max_age_days = ?, kind = ?,
      description = ?, updated_at = ? WHERE name = ? IF created_at = ?`,
    topicIndexInsert: `INSERT INTO ${ks}.topic_index (bucket, name) VALUES (?, ?)`,
    topicIndexPage: `SELECT name FROM ${ks}.topic_index WHERE bucket = ? AND name > ? LIMIT ?`,
    topicChanged: `UPDATE ${ks}.topic_changes SET changes = changes + 1 WHERE bucket = ? AND name = ?`,
    topicChangeGet: `SELECT changes FROM ${ks}.topic_changes WHERE bucket = ? AND name = ?`,
    topicChangeRange: `SELECT name, changes FROM ${ks}.topic_changes WHERE bucket = ? AND name > ? AND name <= ?`,

    counterGet: `SELECT latest FROM ${ks}.version_counters WHERE topic = ?`,
    counterCreate: `INSERT INTO ${ks}.version_counters (topic, latest) VALUES (?, 0) IF NOT EXISTS`,
    counterAdvance: `UPDATE ${ks}.version_counters SET latest = ? WHERE topic = ? IF latest = ?`,

    versionGet: `SELECT * FROM ${ks}.versions WHERE topic = ? AND version = ?`,
    versionExists: `SELECT version FROM ${ks}.versions WHERE topic = ? AND version = ?`,
    versionInsert: `INSERT INTO ${ks}.versions (${VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    versionRange: `SELECT * FROM ${ks}.versions WHERE topic = ? AND version >= ? AND version <= ?`,
    versionDelete: `DELETE FROM ${ks}.versions WHERE topic = ? AND version = ?`,

    payloadRefInsert: `INSERT INTO ${ks}.payload_refs (sha256, topic, version) VALUES (?, ?, ?)`,
    payloadRefDelete: `DELETE FROM ${ks}.payload_refs WHERE sha256 = ? AND topic = ? AND version = ?`,
    payloadRefAny: `SELECT topic FROM ${ks}.payload_refs WHERE sha256 = ? LIMIT 1`,

    scopesOfVersion: `SELECT version, scope, added_at FROM ${ks}.version_scopes WHERE topic = ? AND version = ?`,
    scopesOfRange: `SELECT version, scope, added_at FROM ${ks}.version_scopes
      WHERE topic = ? AND version >= ? AND version <= ?`,
    scopesOfTopic: `SELECT version, scope, added_at FROM ${ks}.version_scopes WHERE topic = ?`,
    scopeInsert: `INSERT INTO ${ks}.version_scopes (topic, version, scope, added_at) VALUES (?, ?, ?, ?)`,
    // A clustering prefix: one range tombstone for every scope of the version.
    scopesDelete: `DELETE FROM ${ks}.version_scopes WHERE topic = ? AND version = ?`,

    commitGet: `SELECT committed_at FROM ${ks}.version_commits WHERE topic = ? AND version = ?`,
    // A plain write, not a lightweight transaction: every commit of a topic lands in one partition, and
    // Paxos rounds on it made concurrent publishes time out. A resend is skipped by reading first.
    commitInsert: `INSERT INTO ${ks}.version_commits (topic, version, committed_at) VALUES (?, ?, ?)`,
    // Plain, as the marker's insert is: plain and Paxos writes to one row must not be mixed.
    commitDelete: `DELETE FROM ${ks}.version_commits WHERE topic = ? AND version = ?`,
    commitsOfTopic: `SELECT version, committed_at FROM ${ks}.version_commits WHERE topic = ?`,
    commitPage: `SELECT version, committed_at FROM ${ks}.version_commits WHERE topic = ? LIMIT ?`,
    commitPageBefore: `SELECT version, committed_at FROM ${ks}.version_commits
      WHERE topic = ? AND version < ? LIMIT ?`,

    // A partition holding only its pin clock (every pin removed) reads as one row with a null scope.
    pinList: `SELECT scope, version, reason, author, set_at FROM ${ks}.pins WHERE topic = ?`,
    // Every pin change is one lightweight-transaction batch that moves the topic's pin clock (a static
    // column) from the value it read, so Paxos orders a topic's pin changes and their times follow that
    // order (pin-rows.ts); plain and Paxos writes to one row must not be mixed.
    pinClockAndScopes: `SELECT scope, version, reason, author, set_at, pin_clock FROM ${ks}.pins WHERE topic = ?`,
    pinClockStart: `INSERT INTO ${ks}.pins (topic, pin_clock) VALUES (?, ?) IF NOT EXISTS`,
    pinClockAdvance: `UPDATE ${ks}.pins SET pin_clock = ? WHERE topic = ? IF pin_clock = ?`,
    pinDeleteIfExists: `DELETE FROM ${ks}.pins WHERE topic = ? AND scope = ? IF EXISTS`,
    pinLastEventAt: `SELECT event_at FROM ${ks}.pin_events WHERE topic = ? ORDER BY event_id DESC LIMIT 1`,
    pinUpsert: `UPDATE ${ks}.pins SET version = ?, reason = ?, author = ?, set_at = ? WHERE topic = ? AND scope = ?`,
    pinDelete: `DELETE FROM ${ks}.pins WHERE topic = ? AND scope = ?`,
    pinEventInsert: `INSERT INTO ${ks}.pin_events (topic, event_id, scope, version, reason, author, event_at)
      VALUES (?, ?, ?, ?, ?, ?, ?)`,
    pinEvents: `SELECT scope, version, reason, author, event_at FROM ${ks}.pin_events WHERE topic = ?`,
    pinEventsLatest: `SELECT scope, version, reason, author, event_at FROM ${ks}.pin_events
      WHERE topic = ? ORDER BY event_id DESC LIMIT ?`,
  } as const;
}

export type Cql = ReturnType<typeof cqlFor>;
