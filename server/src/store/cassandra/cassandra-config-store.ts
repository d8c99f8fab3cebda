import {
  ClosedError,
  ConflictError,
  type PinEvent,
  type PinRecord,
  type PublishScope,
  parseOrThrow,
  TopicNotFoundError,
  type TopicRecord,
  VersionNotFoundError,
  type VersionRecord,
} from '@meshpress/client';
import { type Client, types } from 'cassandra-driver';
import { z } from 'zod';
import type {
  ConfigStore,
  TopicChange,
  TopicSnapshotData,
  TopicSpec,
  VersionDraft,
  VersionPage,
} from '../config-store.js';
import { toMeshpressError } from './cassandra-errors.js';
import { connect } from './connect.js';
import { migrate, requireCurrentSchema } from './migrate.js';
import {
  type CassandraConfigStoreOptions,
  type ParsedCassandraConfigStoreOptions,
  parseCassandraConfigStoreOptions,
} from './options.js';
import { hasBlobReference } from './payload-refs.js';
import { PinEventIds } from './pin-event-ids.js';
import { changePin } from './pin-rows.js';
import {
  commitOf,
  committedPublishes,
  latestOf,
  pinEventFromRow,
  pinsFromRows,
  sameVersionContent,
  scopeFromRow,
  topicColumns,
  topicFromRow,
  versionFromRow,
  versionValues,
} from './rows.js';
import { CqlSession } from './session.js';
import { type Cql, cqlFor, TOPIC_INDEX_BUCKET } from './statements.js';
import { VersionAllocator } from './version-allocator.js';

const limitSchema = z.number().int().min(1);
const topicPageSchema = z.object({ after: z.string().optional(), limit: limitSchema });
const versionPageSchema = z.object({ before: z.number().int().optional(), limit: limitSchema });

/** Version numbers are CQL `int`s. */
const MAX_INT = 2_147_483_647;
/** Statements per batch when attaching many scopes at once (keeps batches under the size warning). */
const SCOPE_BATCH = 100;

/**
 * ConfigStore on Apache Cassandra (distributed mode): every server instance shares one keyspace. Tables and
 * their reasons are in migrations.ts and docs/cassandra.md. Reads and writes run at LOCAL_QUORUM by
 * default, so an instance reads what any instance of its data center wrote before; the compare-and-set
 * steps (topic creation and update, version allocation) and every write to the pins are lightweight
 * transactions at SERIAL. A publish is a sequence of single-partition writes in a fixed order (allocate,
 * record, scopes, commit marker last): readers only ever serve versions whose marker exists, so a crash
 * or a replica that lags at any step exposes nothing incomplete.
 */
export class CassandraConfigStore implements ConfigStore {
  readonly #client: Client;
  readonly #session: CqlSession;
  readonly #cql: Cql;
  readonly #allocator: VersionAllocator;
  readonly #abort = new AbortController();
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #eventIds = new PinEventIds();
  #closed = false;
  #closing: Promise<void> | undefined;

  private constructor(client: Client, options: ParsedCassandraConfigStoreOptions) {
    this.#client = client;
    this.#session = new CqlSession(client, options.consistency, options.serialConsistency);
    this.#cql = cqlFor(options.keyspace);
    this.#allocator = new VersionAllocator({
      session: this.#session,
      cql: this.#cql,
      clock: options.clock,
      signal: this.#abort.signal,
    });
  }

  /**
   * Connects and, unless `migrate: false`, creates the keyspace when missing and applies pending
   * migrations. Rejects with ValidationError on bad options, UnavailableError when no node answers (or,
   * with `migrate: false`, while the schema is not current).
   */
  static async open(options: CassandraConfigStoreOptions): Promise<CassandraConfigStore> {
    const parsed = parseCassandraConfigStoreOptions(options);
    const client = await connect(parsed);
    try {
      const store = new CassandraConfigStore(client, parsed);
      if (parsed.migrate) await migrate(store.#session, parsed);
      else await requireCurrentSchema(store.#session, parsed.keyspace);
      return store;
    } catch (error) {
      await client.shutdown().catch(() => undefined);
      throw toMeshpressError(error);
    }
  }

  /**
   * Only the schema: creates the keyspace when missing and applies pending migrations, then disconnects.
   * For a deploy step that runs before instances opened with `migrate: false`. Returns the versions applied.
   */
  static async migrate(options: CassandraConfigStoreOptions): Promise<number[]> {
    const parsed = parseCassandraConfigStoreOptions(options);
    const client = await connect(parsed);
    try {
      return await migrate(new CqlSession(client, parsed.consistency, parsed.serialConsistency), parsed);
    } catch (error) {
      throw toMeshpressError(error);
    } finally {
      await client.shutdown().catch(() => undefined);
    }
  }

  putTopic(spec: TopicSpec, now: number): Promise<{ topic: TopicRecord; created: boolean }> {
    return this.#run(async () => {
      const { session, cql } = this.#parts();
      const c = topicColumns(spec, now);
      // Not idempotent: a resend after an applied first try would report `created: false`.
      const inserted = await session.execute(
        cql.topicInsert,
        [spec.name, c.retentionMaxVersions, c.retentionMaxAgeDays, c.kind, c.description, c.now, c.now],
        { idempotent: false },
      );
      const index = () =>
        session.execute(cql.topicIndexInsert, [TOPIC_INDEX_BUCKET, spec.name], { idempotent: true });
      if (inserted.wasApplied()) {
        await Promise.all([index(), session.execute(cql.counterCreate, [spec.name], { idempotent: true })]);
        await this.#changed(spec.name);
        return { created: true, topic: topicRecord(spec, now, now, 0) };
      }
      // The transaction that did not apply returns the row as it stands.
      const createdAt = inserted.first().get('created_at') as Date;
      const [, , counter] = await Promise.all([
        session.execute(
          cql.topicUpdate,
          [c.retentionMaxVersions, c.retentionMaxAgeDays, c.kind, c.description, c.now, spec.name, createdAt],
          { idempotent: true },
        ),
        // Also heals a listing entry that a creation cut short never wrote.
        index(),
        session.execute(cql.counterGet, [spec.name], { idempotent: true }),
      ]);
      await this.#changed(spec.name);
      return {
        created: false,
        topic: topicRecord(spec, createdAt.getTime(), now, latestOf(counter.first()) ?? 0),
      };
    });
  }

  getTopic(name: string): Promise<TopicRecord | undefined> {
    return this.#run(() => this.#readTopic(name));
  }

  listTopics(options: { after?: string | undefined; limit: number }): Promise<TopicRecord[]> {
    return this.#run(async () => {
      const { after, limit } = parseOrThrow(topicPageSchema, options, 'topic page options');
      const { session, cql } = this.#parts();
      // Every topic name is non-empty, so '' sorts before all of them.
      const names = await session.all(cql.topicIndexPage, [
        TOPIC_INDEX_BUCKET,
        after ?? '',
        Math.min(limit, MAX_INT),
      ]);
      const topics = await Promise.all(names.map((row) => this.#readTopic(row.get('name') as string)));
      return topics.filter((topic): topic is TopicRecord => topic !== undefined);
    });
  }

  listTopicChanges(options: { after?: string | undefined; limit: number }): Promise<TopicChange[]> {
    return this.#run(async () => {
      const { after, limit } = parseOrThrow(topicPageSchema, options, 'topic change page options');
      const { session, cql } = this.#parts();
      // The names from topic_index, so this lists exactly the topics listTopics lists; then the markers of
      // that name range, one clustering-range read of the same size.
      const names = (
        await session.all(cql.topicIndexPage, [TOPIC_INDEX_BUCKET, after ?? '', Math.min(limit, MAX_INT)])
      ).map((row) => row.get('name') as string);
      const last = names.at(-1);
      if (last === undefined) return [];
      const changes = await session.all(cql.topicChangeRange, [TOPIC_INDEX_BUCKET, after ?? '', last]);
      const markers = new Map(changes.map((row) => [row.get('name') as string, changeMarkerOf(row)]));
      return names.map((name) => ({ name, changeMarker: markers.get(name) ?? NO_CHANGES }));
    });
  }

  allocateVersion(topic: string): Promise<number> {
    return this.#run(() => this.#allocator.allocate(topic));
  }

  writeVersion(draft: VersionDraft): Promise<void> {
    return this.#run(async () => {
      const { session, cql } = this.#parts();
      const [counter, existing] = await Promise.all([
        session.execute(cql.counterGet, [draft.topic], { idempotent: true }),
        session.execute(cql.versionGet, [draft.topic, draft.version], { idempotent: true }),
      ]);
      const latest = latestOf(counter.first());
      if (latest === undefined && !(await this.#topicExists(draft.topic)))
        throw new TopicNotFoundError(draft.topic);
      // A number never allocated would later be handed out again by allocateVersion.
      if (!Number.isInteger(draft.version) || draft.version < 1 || draft.version > (latest ?? 0))
        throw new ConflictError(`version ${draft.version} of topic '${draft.topic}' has not been allocated`, {
          topic: draft.topic,
          version: draft.version,
        });
      const row = existing.first();
      if (row) {
        // Versions are immutable: a retry of the same write is harmless, a different one is refused.
        if (sameVersionContent(row, draft)) return;
        throw new ConflictError(`version ${draft.version} of topic '${draft.topic}' was already written`, {
          topic: draft.topic,
          version: draft.version,
        });
      }
      // The reference first: whenever the record exists, the janitor sees its blob as in use.
      if (hasBlobReference(draft.pointer))
        await session.execute(cql.payloadRefInsert, [draft.sha256, draft.topic, draft.version], {
          idempotent: true,
        });
      await session.execute(cql.versionInsert, versionValues(draft), { idempotent: true });
    });
  }

  addScopes(topic: string, version: number, scopes: readonly string[], now: number): Promise<void> {
    return this.#run(async () => {
      const { session, cql } = this.#parts();
      const [, existing] = await Promise.all([
        this.#requireVersion(topic, version),
        session.all(cql.scopesOfVersion, [topic, version]),
      ]);
      // Only scopes not attached yet, so each keeps the time it was first added.
      const attached = new Set(existing.map((row) => row.get('scope') as string));
      const fresh = [...new Set(scopes)].filter((scope) => !attached.has(scope));
      const addedAt = new Date(now);
      for (let i = 0; i < fresh.length; i += SCOPE_BATCH) {
        await session.batch(
          fresh.slice(i, i + SCOPE_BATCH).map((scope) => ({
            query: cql.scopeInsert,
            params: [topic, version, scope, addedAt],
          })),
          { idempotent: true },
        );
      }
      // Even when every scope was attached already: that may be the retry of a call that failed before
      // this line.
      await this.#changed(topic);
    });
  }

  commitVersion(topic: string, version: number, now: number): Promise<void> {
    return this.#run(async () => {
      const { session, cql } = this.#parts();
      await this.#requireVersion(topic, version);
      // A resend finds the marker and keeps the first commit time. (Two commits of one version racing each
      // other, which only a client retry can cause, may leave the later time: both mark the same version.)
      const existing = await session.execute(cql.commitGet, [topic, version], { idempotent: true });
      if (!existing.first())
        await session.execute(cql.commitInsert, [topic, version, new Date(now)], { idempotent: true });
      // After the marker, and on a resend too (the first try may have failed before this line).
      await this.#changed(topic);
    });
  }

  getVersion(topic: string, version: number): Promise<VersionRecord | undefined> {
    return this.#run(async () => {
      if (!isStorableVersion(version)) return undefined;
      const { session, cql } = this.#parts();
      const [record, scopes, commit] = await Promise.all([
        session.execute(cql.versionGet, [topic, version], { idempotent: true }),
        session.all(cql.scopesOfVersion, [topic, version]),
        session.execute(cql.commitGet, [topic, version], { idempotent: true }),
      ]);
      const row = record.first();
      return row ? versionFromRow(row, scopes.map(scopeFromRow), commitOf(commit.first())) : undefined;
    });
  }

  listVersions(topic: string, options: { before?: number | undefined; limit: number }): Promise<VersionPage> {
    return this.#run(async () => {
      const { before, limit } = parseOrThrow(versionPageSchema, options, 'version page options');
      if (before !== undefined && before <= 1) return { versions: [] };
      const { session, cql } = this.#parts();
      // One marker more than asked tells whether another page exists.
      const fetch = Math.min(limit, MAX_INT - 1) + 1;
      const markers =
        before === undefined || before > MAX_INT
          ? await session.all(cql.commitPage, [topic, fetch])
          : await session.all(cql.commitPageBefore, [topic, before, fetch]);
      const page = markers.slice(0, limit).map((row) => ({
        version: row.get('version') as number,
        committedAt: commitOf(row),
      }));
      const newest = page[0];
      const oldest = page.at(-1);
      if (!newest || !oldest) return { versions: [] };
      // Records and scopes of the page's range, read page by page (paging state); uncommitted versions
      // inside the range are dropped below.
      const range = [topic, oldest.version, newest.version];
      const [records, scopeRows] = await Promise.all([
        session.all(cql.versionRange, range),
        session.all(cql.scopesOfRange, range),
      ]);
      const byVersion = new Map(records.map((row) => [row.get('version') as number, row]));
      const scopes = new Map<number, PublishScope[]>();
      for (const scope of scopeRows.map(scopeFromRow)) {
        const list = scopes.get(scope.version);
        if (list) list.push(scope);
        else scopes.set(scope.version, [scope]);
      }
      const versions: VersionRecord[] = [];
      for (const { version, committedAt } of page) {
        const row = byVersion.get(version);
        if (row) versions.push(versionFromRow(row, scopes.get(version) ?? [], committedAt));
      }
      return { versions, ...(markers.length > limit ? { nextBefore: oldest.version } : {}) };
    });
  }

  deleteVersion(topic: string, version: number): Promise<boolean> {
    return this.#run(async () => {
      if (!isStorableVersion(version)) return false;
      const { session, cql } = this.#parts();
      const row = (await session.execute(cql.versionGet, [topic, version], { idempotent: true })).first();
      // The record goes last, so without it the marker and scopes are gone already (or never existed).
      if (!row) return false;
      // Marker first: from here on no reader serves or lists the version, whatever happens next. A resend
      // finds no marker and changes nothing; whether it applied is not read.
      await session.execute(cql.commitDelete, [topic, version], { idempotent: true });
      // What consumers are served changed with the marker: announce it now, so a crash before the end
      // leaves no cache serving the version. Again once the record is gone (it may be read as a pin's).
      await this.#changed(topic);
      await session.execute(cql.scopesDelete, [topic, version], { idempotent: true });
      await session.execute(cql.versionDelete, [topic, version], { idempotent: true });
      await this.#changed(topic);
      // The reference after the record: a crash in between leaves a blob kept too long, never one
      // deleted too early.
      if (hasBlobReference({ kind: row.get('pointer_kind') as string }))
        await session.execute(cql.payloadRefDelete, [row.get('sha256'), topic, version], {
          idempotent: true,
        });
      return true;
    });
  }

  isPayloadReferenced(sha256: string): Promise<boolean> {
    return this.#run(async () => {
      const { session, cql } = this.#parts();
      return (await session.execute(cql.payloadRefAny, [sha256], { idempotent: true })).rowLength > 0;
    });
  }

  setPin(topic: string, pin: PinRecord): Promise<PinRecord> {
    return this.#run(async () => {
      const { session, cql } = this.#parts();
      if (!(await this.#topicExists(topic))) throw new TopicNotFoundError(topic);
      // The pin by lightweight transaction (pin-rows.ts), then its history entry: a transaction cannot
      // share a batch with another table's write. A failure in between leaves the pin without its entry,
      // never an entry for a pin that was not set.
      const { setAt: askedAt, ...fields } = pin;
      const { at: setAt, changed } = (await changePin(session, cql, topic, askedAt, {
        kind: 'set',
        pin: fields,
      }))!;
      if (!changed) return { ...fields, setAt };
      const at = new Date(setAt);
      await session.execute(
        cql.pinEventInsert,
        [topic, this.#eventIds.next(at), pin.scope, pin.version, pin.reason, pin.author, at],
        { idempotent: true },
      );
      await this.#changed(topic);
      return { ...fields, setAt };
    });
  }

  removePin(
    topic: string,
    scope: string,
    event: { author: string; reason: string; at: number },
  ): Promise<boolean> {
    return this.#run(async () => {
      const { session, cql } = this.#parts();
      if (!(await this.#topicExists(topic))) throw new TopicNotFoundError(topic);
      // Ordered with every other pin change of the topic by Paxos (pin-rows.ts), and of two instances
      // removing the same pin at once only one finds it, so the removal is recorded once.
      const removed = await changePin(session, cql, topic, event.at, { kind: 'remove', scope });
      if (removed === undefined) {
        // Perhaps the retry of a removal that failed after its delete and before announcing it.
        await this.#changed(topic);
        return false;
      }
      const at = new Date(removed.at);
      await session.execute(
        cql.pinEventInsert,
        [topic, this.#eventIds.next(at), scope, null, event.reason, event.author, at],
        { idempotent: true },
      );
      await this.#changed(topic);
      return true;
    });
  }

  listPins(topic: string): Promise<PinRecord[]> {
    return this.#run(async () => {
      const { session, cql } = this.#parts();
      return pinsFromRows(await session.all(cql.pinList, [topic]));
    });
  }

  pinHistory(topic: string): Promise<PinEvent[]> {
    return this.#run(async () => {
      const { session, cql } = this.#parts();
      return (await session.all(cql.pinEvents, [topic])).map(pinEventFromRow);
    });
  }

  latestPinEvents(topic: string, limit: number): Promise<PinEvent[]> {
    return this.#run(async () => {
      const { session, cql } = this.#parts();
      return (await session.all(cql.pinEventsLatest, [topic, limit])).map(pinEventFromRow);
    });
  }

  loadTopicSnapshot(topic: string): Promise<TopicSnapshotData | undefined> {
    return this.#run(async () => {
      const { session, cql } = this.#parts();
      // The marker strictly before the data: a change landing during these reads bumps the marker after
      // the value returned here, so the cache sees it moved and reloads (see ConfigStore).
      const marker = await session.execute(cql.topicChangeGet, [TOPIC_INDEX_BUCKET, topic], {
        idempotent: true,
      });
      const [record, pins, scopes, commits] = await Promise.all([
        this.#readTopic(topic),
        session.all(cql.pinList, [topic]),
        session.all(cql.scopesOfTopic, [topic]),
        session.all(cql.commitsOfTopic, [topic]),
      ]);
      if (!record) return undefined;
      return {
        changeMarker: changeMarkerOf(marker.first()) ?? NO_CHANGES,
        topic: record,
        pins: pinsFromRows(pins),
        publishes: committedPublishes(scopes, commits),
      };
    });
  }

  /** Idempotent. Calls already running finish (queued allocations fail); later ones get ClosedError. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      this.#abort.abort();
      await Promise.allSettled([...this.#inFlight]);
      await this.#client.shutdown();
    })();
    return this.#closing;
  }

  #parts(): { session: CqlSession; cql: Cql } {
    return { session: this.#session, cql: this.#cql };
  }

  async #readTopic(name: string): Promise<TopicRecord | undefined> {
    const [topic, counter] = await Promise.all([
      this.#session.execute(this.#cql.topicGet, [name], { idempotent: true }),
      this.#session.execute(this.#cql.counterGet, [name], { idempotent: true }),
    ]);
    const row = topic.first();
    return row ? topicFromRow(row, latestOf(counter.first()) ?? 0) : undefined;
  }

  /**
   * Bumps the topic's change marker; called after the writes it announces. Marked idempotent although a
   * counter increment is not: a driver retry that counts twice still changes the marker, which is all
   * the marker promises, and a retry beats a change no periodic refresh would see.
   */
  async #changed(topic: string): Promise<void> {
    await this.#session.execute(this.#cql.topicChanged, [TOPIC_INDEX_BUCKET, topic], { idempotent: true });
  }

  async #topicExists(name: string): Promise<boolean> {
    return (await this.#session.execute(this.#cql.topicExists, [name], { idempotent: true })).rowLength > 0;
  }

  /** Resolves when the version has a record; else TopicNotFoundError or VersionNotFoundError. */
  async #requireVersion(topic: string, version: number): Promise<void> {
    const found =
      isStorableVersion(version) &&
      (await this.#session.execute(this.#cql.versionExists, [topic, version], { idempotent: true }))
        .rowLength > 0;
    if (found) return;
    if (!(await this.#topicExists(topic))) throw new TopicNotFoundError(topic);
    throw new VersionNotFoundError(topic, version);
  }

  /**
   * Every public call goes through here. The promise handed back already carries the store's own
   * bookkeeping handler, so a caller that starts several calls and awaits them one after the other never
   * sees an early failure reported as an unhandled rejection.
   */
  #run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) {
      const rejected = Promise.reject(new ClosedError('config store'));
      rejected.catch(() => undefined);
      return rejected;
    }
    const call = (async () => {
      try {
        return await fn();
      } catch (error) {
        throw toMeshpressError(error);
      }
    })();
    this.#inFlight.add(call);
    const forget = () => this.#inFlight.delete(call);
    call.then(forget, forget);
    return call;
  }
}

/** Marker of a topic with no topic_changes row: untouched since migration 3, or never created. */
const NO_CHANGES = '0';

function changeMarkerOf(row: types.Row | null | undefined): string | undefined {
  const value: unknown = row?.get('changes');
  if (value instanceof types.Long) return value.toString();
  return typeof value === 'number' ? String(value) : undefined;
}

function isStorableVersion(version: number): boolean {
  return Number.isInteger(version) && version >= 1 && version <= MAX_INT;
}

function topicRecord(
  spec: TopicSpec,
  createdAt: number,
  updatedAt: number,
  latestVersion: number,
): TopicRecord {
  return {
    name: spec.name,
    retention: {
      ...(spec.retention.maxVersions === undefined ? {} : { maxVersions: spec.retention.maxVersions }),
      ...(spec.retention.maxAgeDays === undefined ? {} : { maxAgeDays: spec.retention.maxAgeDays }),
    },
    ...(spec.kind === undefined ? {} : { kind: spec.kind }),
    ...(spec.description === undefined ? {} : { description: spec.description }),
    latestVersion,
    createdAt,
    updatedAt,
  };
}
