import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  ClosedError,
  ConflictError,
  type PinEvent,
  type PinRecord,
  parseOrThrow,
  TopicNotFoundError,
  type TopicRecord,
  VersionNotFoundError,
  type VersionRecord,
} from '@meshpress/client';
import Database from 'better-sqlite3';
import { z } from 'zod';
import {
  type ConfigStore,
  pinChangeTime,
  samePin,
  type TopicChange,
  type TopicSnapshotData,
  type TopicSpec,
  type VersionDraft,
  type VersionPage,
} from '../config-store.js';
import { migrate } from './migrations.js';
import { parseSqliteConfigStoreOptions, type SqliteConfigStoreOptions } from './options.js';
import {
  pinEventFromRow,
  pinFromRow,
  type ScopeRow,
  sameVersionContent,
  topicFromRow,
  versionFromRow,
  versionToRow,
} from './rows.js';
import { toMeshpressError } from './sqlite-errors.js';
import { prepareStatements, type Statements, type TopicParams } from './statements.js';

const MEMORY_PATH = ':memory:';
/** Larger than any version number, for "no `before`". */
const NO_UPPER_BOUND = Number.MAX_SAFE_INTEGER + 1;

const limitSchema = z.number().int().min(1);
const topicPageSchema = z.object({ after: z.string().optional(), limit: limitSchema });
const versionPageSchema = z.object({ before: z.number().int().optional(), limit: limitSchema });

/**
 * ConfigStore on one SQLite file (embedded mode) or an in-memory database (tests). better-sqlite3 is
 * synchronous, so each method runs to completion before returning its promise; every multi-statement
 * method runs in one transaction, and writes take the write lock up front (BEGIN IMMEDIATE) so that
 * several processes sharing the file serialise instead of failing on a lock upgrade.
 */
export class SqliteConfigStore implements ConfigStore {
  readonly #db: Database.Database;
  readonly #stmts: Statements;
  #closed = false;

  constructor(options: SqliteConfigStoreOptions) {
    const { path, busyTimeoutMs, clock } = parseSqliteConfigStoreOptions(options);
    if (path !== MEMORY_PATH) mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path, { timeout: busyTimeoutMs });
    try {
      if (path !== MEMORY_PATH) db.pragma('journal_mode = WAL');
      db.pragma(`busy_timeout = ${busyTimeoutMs}`);
      db.pragma('foreign_keys = ON');
      migrate(db, clock.now());
      this.#stmts = prepareStatements(db);
    } catch (error) {
      db.close();
      throw toMeshpressError(error);
    }
    this.#db = db;
  }

  /** Opens (creating if needed) and migrates the database. Rejects with ValidationError on bad options. */
  static async open(options: SqliteConfigStoreOptions): Promise<SqliteConfigStore> {
    return new SqliteConfigStore(options);
  }

  async putTopic(spec: TopicSpec, now: number): Promise<{ topic: TopicRecord; created: boolean }> {
    return this.#write((s) => {
      const params: TopicParams = {
        name: spec.name,
        retention_max_versions: spec.retention.maxVersions ?? null,
        retention_max_age_days: spec.retention.maxAgeDays ?? null,
        kind: spec.kind ?? null,
        description: spec.description ?? null,
        now,
      };
      const created = s.topicExists.get(spec.name) === undefined;
      (created ? s.topicInsert : s.topicUpdate).run(params);
      s.topicChanged.run(spec.name);
      return { topic: topicFromRow(s.topicGet.get(spec.name)!), created };
    });
  }

  async getTopic(name: string): Promise<TopicRecord | undefined> {
    return this.#read((s) => {
      const row = s.topicGet.get(name);
      return row && topicFromRow(row);
    });
  }

  async listTopics(options: { after?: string | undefined; limit: number }): Promise<TopicRecord[]> {
    const { after, limit } = parseOrThrow(topicPageSchema, options, 'topic page options');
    // Every topic name is non-empty, so '' sorts before all of them.
    return this.#read((s) => s.topicList.all(after ?? '', limit).map(topicFromRow));
  }

  async listTopicChanges(options: { after?: string | undefined; limit: number }): Promise<TopicChange[]> {
    const { after, limit } = parseOrThrow(topicPageSchema, options, 'topic change page options');
    return this.#read((s) =>
      s.topicChangeList
        .all(after ?? '', limit)
        .map((row) => ({ name: row.name, changeMarker: String(row.change_seq) })),
    );
  }

  async allocateVersion(topic: string): Promise<number> {
    return this.#write((s) => {
      const version = s.allocate.get(topic);
      if (version === undefined) throw new TopicNotFoundError(topic);
      return version;
    });
  }

  async writeVersion(draft: VersionDraft): Promise<void> {
    return this.#write((s) => {
      const topic = s.topicGet.get(draft.topic);
      if (!topic) throw new TopicNotFoundError(draft.topic);
      // A number never allocated would later be handed out again by allocateVersion.
      if (draft.version < 1 || draft.version > topic.latest_version)
        throw new ConflictError(`version ${draft.version} of topic '${draft.topic}' has not been allocated`, {
          topic: draft.topic,
          version: draft.version,
        });
      const row = versionToRow(draft);
      const existing = s.versionGet.get(draft.topic, draft.version);
      if (!existing) {
        s.versionInsert.run(row);
        return;
      }
      // Versions are immutable: a retry of the same write is harmless, a different one is refused.
      if (!sameVersionContent(existing, row))
        throw new ConflictError(`version ${draft.version} of topic '${draft.topic}' was already written`, {
          topic: draft.topic,
          version: draft.version,
        });
    });
  }

  async addScopes(topic: string, version: number, scopes: readonly string[], now: number): Promise<void> {
    return this.#write((s) => {
      requireVersion(s, topic, version);
      for (const scope of scopes) s.scopeInsert.run(topic, version, scope, now);
      s.topicChanged.run(topic);
    });
  }

  async commitVersion(topic: string, version: number, now: number): Promise<void> {
    return this.#write((s) => {
      requireVersion(s, topic, version);
      // Only the first commit counts: visibleAt of every publish is derived from it.
      s.versionCommit.run(now, topic, version);
      s.topicChanged.run(topic);
    });
  }

  async getVersion(topic: string, version: number): Promise<VersionRecord | undefined> {
    return this.#read((s) => {
      const row = s.versionGet.get(topic, version);
      return row && versionFromRow(row, s.scopesOfVersion.all(topic, version));
    });
  }

  async listVersions(
    topic: string,
    options: { before?: number | undefined; limit: number },
  ): Promise<VersionPage> {
    const { before, limit } = parseOrThrow(versionPageSchema, options, 'version page options');
    return this.#read((s) => {
      // One row more than asked tells whether another page exists.
      const rows = s.committedPage.all(topic, before ?? NO_UPPER_BOUND, limit + 1);
      const page = rows.slice(0, limit);
      const newest = page[0];
      const oldest = page.at(-1);
      if (!newest || !oldest) return { versions: [] };
      const scopes = new Map<number, ScopeRow[]>();
      for (const scope of s.scopesOfRange.all(topic, oldest.version, newest.version)) {
        const list = scopes.get(scope.version);
        if (list) list.push(scope);
        else scopes.set(scope.version, [scope]);
      }
      return {
        versions: page.map((row) => versionFromRow(row, scopes.get(row.version) ?? [])),
        ...(rows.length > limit ? { nextBefore: oldest.version } : {}),
      };
    });
  }

  async deleteVersion(topic: string, version: number): Promise<boolean> {
    return this.#write((s) => {
      // One transaction: readers see the version whole or gone. The statements keep the documented order.
      s.versionUncommit.run(topic, version);
      s.scopesDelete.run(topic, version);
      if (s.versionDelete.run(topic, version).changes === 0) return false;
      s.topicChanged.run(topic);
      return true;
    });
  }

  async isPayloadReferenced(sha256: string): Promise<boolean> {
    return this.#read((s) => s.payloadReferenced.get(sha256) !== undefined);
  }

  async setPin(topic: string, pin: PinRecord): Promise<PinRecord> {
    return this.#write((s) => {
      if (s.topicExists.get(topic) === undefined) throw new TopicNotFoundError(topic);
      const row = s.pinOfScope.get(topic, pin.scope);
      const inPlace = row && pinFromRow(row);
      if (inPlace && samePin(inPlace, pin)) return inPlace;
      const stored = { ...pin, setAt: pinChangeTime(pin.setAt, s.pinLastChangeAt.get(topic)?.at) };
      s.pinUpsert.run({
        topic,
        scope: stored.scope,
        version: stored.version,
        reason: stored.reason,
        author: stored.author,
        set_at: stored.setAt,
      });
      s.pinEventInsert.run({
        topic,
        scope: stored.scope,
        version: stored.version,
        reason: stored.reason,
        author: stored.author,
        at: stored.setAt,
      });
      s.topicChanged.run(topic);
      return stored;
    });
  }

  async removePin(
    topic: string,
    scope: string,
    event: { author: string; reason: string; at: number },
  ): Promise<boolean> {
    return this.#write((s) => {
      if (s.topicExists.get(topic) === undefined) throw new TopicNotFoundError(topic);
      const at = pinChangeTime(event.at, s.pinLastChangeAt.get(topic)?.at);
      if (s.pinDelete.run(topic, scope).changes === 0) return false;
      s.pinEventInsert.run({
        topic,
        scope,
        version: null,
        reason: event.reason,
        author: event.author,
        at,
      });
      s.topicChanged.run(topic);
      return true;
    });
  }

  async listPins(topic: string): Promise<PinRecord[]> {
    return this.#read((s) => s.pinList.all(topic).map(pinFromRow));
  }

  async pinHistory(topic: string): Promise<PinEvent[]> {
    return this.#read((s) => s.pinEvents.all(topic).map(pinEventFromRow));
  }

  async latestPinEvents(topic: string, limit: number): Promise<PinEvent[]> {
    return this.#read((s) => s.pinEventsLatest.all(topic, limit).map(pinEventFromRow));
  }

  async loadTopicSnapshot(topic: string): Promise<TopicSnapshotData | undefined> {
    return this.#read((s) => {
      const row = s.topicGet.get(topic);
      if (!row) return undefined;
      return {
        // One read transaction: the marker and the data are of the same instant.
        changeMarker: String(row.change_seq),
        topic: topicFromRow(row),
        pins: s.pinList.all(topic).map(pinFromRow),
        publishes: s.publishes
          .all(topic)
          .map((p) => ({ version: p.version, scope: p.scope, visibleAt: p.visible_at })),
      };
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  /** Runs `fn` in a read transaction, so multi-query reads see one consistent state. */
  #read<T>(fn: (s: Statements) => T): Promise<T> {
    return this.#run(() => this.#db.transaction(fn).deferred(this.#stmts));
  }

  #write<T>(fn: (s: Statements) => T): Promise<T> {
    return this.#run(() => this.#db.transaction(fn).immediate(this.#stmts));
  }

  async #run<T>(fn: () => T): Promise<T> {
    if (this.#closed) throw new ClosedError('config store');
    try {
      return fn();
    } catch (error) {
      throw toMeshpressError(error);
    }
  }
}

function requireVersion(s: Statements, topic: string, version: number): void {
  if (s.versionExists.get(topic, version) !== undefined) return;
  if (s.topicExists.get(topic) === undefined) throw new TopicNotFoundError(topic);
  throw new VersionNotFoundError(topic, version);
}
