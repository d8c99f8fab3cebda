import type Database from 'better-sqlite3';
import type {
  PinEventRow,
  PinRow,
  PublishRow,
  ScopeRow,
  TopicChangeRow,
  TopicRow,
  VersionRow,
} from './rows.js';

export interface TopicParams {
  readonly name: string;
  readonly retention_max_versions: number | null;
  readonly retention_max_age_days: number | null;
  readonly kind: string | null;
  readonly description: string | null;
  readonly now: number;
}

export interface PinParams extends PinRow {
  readonly topic: string;
}

export interface PinEventParams extends PinEventRow {
  readonly topic: string;
}

/** Every statement the store runs, prepared once per connection. */
export interface Statements {
  readonly topicGet: Database.Statement<[string], TopicRow>;
  readonly topicExists: Database.Statement<[string], 1>;
  readonly topicInsert: Database.Statement<TopicParams>;
  readonly topicUpdate: Database.Statement<TopicParams>;
  readonly topicList: Database.Statement<[string, number], TopicRow>;
  readonly topicChanged: Database.Statement<[string]>;
  readonly topicChangeList: Database.Statement<[string, number], TopicChangeRow>;
  readonly allocate: Database.Statement<[string], number>;
  readonly versionGet: Database.Statement<[string, number], VersionRow>;
  readonly versionExists: Database.Statement<[string, number], 1>;
  readonly versionInsert: Database.Statement<VersionRow>;
  readonly versionCommit: Database.Statement<[number, string, number]>;
  readonly committedPage: Database.Statement<[string, number, number], VersionRow>;
  readonly versionUncommit: Database.Statement<[string, number]>;
  readonly scopesDelete: Database.Statement<[string, number]>;
  readonly versionDelete: Database.Statement<[string, number]>;
  readonly payloadReferenced: Database.Statement<[string], 1>;
  readonly scopesOfVersion: Database.Statement<[string, number], ScopeRow>;
  readonly scopesOfRange: Database.Statement<[string, number, number], ScopeRow>;
  readonly scopeInsert: Database.Statement<[string, number, string, number]>;
  readonly publishes: Database.Statement<[string], PublishRow>;
  readonly pinList: Database.Statement<[string], PinRow>;
  readonly pinOfScope: Database.Statement<[string, string], PinRow>;
  readonly pinUpsert: Database.Statement<PinParams>;
  readonly pinDelete: Database.Statement<[string, string]>;
  readonly pinEventInsert: Database.Statement<PinEventParams>;
  readonly pinEvents: Database.Statement<[string], PinEventRow>;
  readonly pinLastChangeAt: Database.Statement<[string], { at: number | null }>;
  readonly pinEventsLatest: Database.Statement<[string, number], PinEventRow>;
}

export function prepareStatements(db: Database.Database): Statements {
  return {
    topicGet: db.prepare<[string], TopicRow>('SELECT * FROM topics WHERE name = ?'),
    topicExists: db.prepare<[string], 1>('SELECT 1 FROM topics WHERE name = ?').pluck(),
    topicInsert: db.prepare<TopicParams>(
      `INSERT INTO topics (name, retention_max_versions, retention_max_age_days, kind, description,
                           latest_version, created_at, updated_at)
       VALUES (@name, @retention_max_versions, @retention_max_age_days, @kind, @description, 0, @now, @now)`,
    ),
    topicUpdate: db.prepare<TopicParams>(
      `UPDATE topics SET retention_max_versions = @retention_max_versions,
                         retention_max_age_days = @retention_max_age_days,
                         kind = @kind, description = @description, updated_at = @now
       WHERE name = @name`,
    ),
    topicList: db.prepare<[string, number], TopicRow>(
      'SELECT * FROM topics WHERE name > ? ORDER BY name LIMIT ?',
    ),
    topicChanged: db.prepare<[string]>('UPDATE topics SET change_seq = change_seq + 1 WHERE name = ?'),
    topicChangeList: db.prepare<[string, number], TopicChangeRow>(
      'SELECT name, change_seq FROM topics WHERE name > ? ORDER BY name LIMIT ?',
    ),
    allocate: db
      .prepare<[string], number>(
        'UPDATE topics SET latest_version = latest_version + 1 WHERE name = ? RETURNING latest_version',
      )
      .pluck(),

    versionGet: db.prepare<[string, number], VersionRow>(
      'SELECT * FROM versions WHERE topic = ? AND version = ?',
    ),
    versionExists: db
      .prepare<[string, number], 1>('SELECT 1 FROM versions WHERE topic = ? AND version = ?')
      .pluck(),
    versionInsert: db.prepare<VersionRow>(
      `INSERT INTO versions (topic, version, metadata, pointer_kind, pointer_json, pointer_data, size, sha256,
                             content_type, publisher, created_at, committed_at)
       VALUES (@topic, @version, @metadata, @pointer_kind, @pointer_json, @pointer_data, @size, @sha256,
               @content_type, @publisher, @created_at, @committed_at)`,
    ),
    versionCommit: db.prepare<[number, string, number]>(
      'UPDATE versions SET committed_at = ? WHERE topic = ? AND version = ? AND committed_at IS NULL',
    ),
    committedPage: db.prepare<[string, number, number], VersionRow>(
      `SELECT * FROM versions WHERE topic = ? AND version < ? AND committed_at IS NOT NULL
       ORDER BY version DESC LIMIT ?`,
    ),
    versionUncommit: db.prepare<[string, number]>(
      'UPDATE versions SET committed_at = NULL WHERE topic = ? AND version = ?',
    ),
    scopesDelete: db.prepare<[string, number]>('DELETE FROM version_scopes WHERE topic = ? AND version = ?'),
    versionDelete: db.prepare<[string, number]>('DELETE FROM versions WHERE topic = ? AND version = ?'),
    // Same condition as the partial index versions_payload_sha256, so the planner can use it.
    payloadReferenced: db
      .prepare<[string], 1>("SELECT 1 FROM versions WHERE sha256 = ? AND pointer_kind <> 'direct' LIMIT 1")
      .pluck(),

    scopesOfVersion: db.prepare<[string, number], ScopeRow>(
      `SELECT version, scope, added_at FROM version_scopes WHERE topic = ? AND version = ?
       ORDER BY added_at, scope`,
    ),
    scopesOfRange: db.prepare<[string, number, number], ScopeRow>(
      `SELECT version, scope, added_at FROM version_scopes WHERE topic = ? AND version BETWEEN ? AND ?
       ORDER BY version, added_at, scope`,
    ),
    scopeInsert: db.prepare<[string, number, string, number]>(
      `INSERT INTO version_scopes (topic, version, scope, added_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (topic, version, scope) DO NOTHING`,
    ),
    publishes: db.prepare<[string], PublishRow>(
      `SELECT s.version, s.scope, MAX(s.added_at, v.committed_at) AS visible_at
       FROM version_scopes s JOIN versions v ON v.topic = s.topic AND v.version = s.version
       WHERE s.topic = ? AND v.committed_at IS NOT NULL
       ORDER BY s.version, visible_at, s.scope`,
    ),

    pinList: db.prepare<[string], PinRow>(
      'SELECT scope, version, reason, author, set_at FROM pins WHERE topic = ? ORDER BY scope',
    ),
    pinOfScope: db.prepare<[string, string], PinRow>(
      'SELECT scope, version, reason, author, set_at FROM pins WHERE topic = ? AND scope = ?',
    ),
    pinUpsert: db.prepare<PinParams>(
      `INSERT INTO pins (topic, scope, version, reason, author, set_at)
       VALUES (@topic, @scope, @version, @reason, @author, @set_at)
       ON CONFLICT (topic, scope) DO UPDATE SET version = excluded.version, reason = excluded.reason,
                                                author = excluded.author, set_at = excluded.set_at`,
    ),
    pinDelete: db.prepare<[string, string]>('DELETE FROM pins WHERE topic = ? AND scope = ?'),
    pinEventInsert: db.prepare<PinEventParams>(
      `INSERT INTO pin_events (topic, scope, version, reason, author, at)
       VALUES (@topic, @scope, @version, @reason, @author, @at)`,
    ),
    pinEvents: db.prepare<[string], PinEventRow>(
      'SELECT scope, version, reason, author, at FROM pin_events WHERE topic = ? ORDER BY seq',
    ),
    pinEventsLatest: db.prepare<[string, number], PinEventRow>(
      'SELECT scope, version, reason, author, at FROM pin_events WHERE topic = ? ORDER BY seq DESC LIMIT ?',
    ),
    pinLastChangeAt: db.prepare<[string], { at: number | null }>(
      'SELECT MAX(at) AS at FROM pin_events WHERE topic = ?',
    ),
  };
}
