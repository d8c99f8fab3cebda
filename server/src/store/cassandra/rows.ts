import {
  DOCUMENT_KINDS,
  type DocumentKind,
  InternalError,
  type Metadata,
  type PinEvent,
  type PinRecord,
  type PublishScope,
  type ScopedPublish,
  type TopicRecord,
  type VersionRecord,
} from '@meshpress/client';
import { types } from 'cassandra-driver';
import type { TopicSpec, VersionDraft } from '../config-store.js';
import { decodePointer, encodePointer } from '../sqlite/pointer-codec.js';

/** Mapping between the tables of migrations.ts and the model. */

const KINDS: ReadonlySet<string> = new Set(DOCUMENT_KINDS);

/** Epoch ms of a `timestamp` cell. */
function millis(row: types.Row, column: string): number {
  const value: unknown = row.get(column);
  if (value instanceof Date) return value.getTime();
  throw new InternalError(`stored ${column} is missing`);
}

function optionalMillis(row: types.Row, column: string): number | undefined {
  const value: unknown = row.get(column);
  return value instanceof Date ? value.getTime() : undefined;
}

/** An `int` or `bigint` cell as a number. */
function integer(row: types.Row, column: string): number {
  const value: unknown = row.get(column);
  if (typeof value === 'number') return value;
  if (value instanceof types.Long) return value.toNumber();
  throw new InternalError(`stored ${column} is missing`);
}

function text(row: types.Row, column: string): string {
  const value: unknown = row.get(column);
  if (typeof value === 'string') return value;
  throw new InternalError(`stored ${column} is missing`);
}

function optional<T>(value: T | null | undefined): T | undefined {
  return value === null ? undefined : value;
}

/** Values for `INSERT INTO topics … IF NOT EXISTS` and, with createdAt left out, the update. */
export function topicColumns(spec: TopicSpec, now: number) {
  return {
    retentionMaxVersions: spec.retention.maxVersions ?? null,
    retentionMaxAgeDays: spec.retention.maxAgeDays ?? null,
    kind: spec.kind ?? null,
    description: spec.description ?? null,
    now: new Date(now),
  };
}

export function topicFromRow(row: types.Row, latestVersion: number): TopicRecord {
  const name = text(row, 'name');
  const kind = optional(row.get('kind') as string | null);
  if (kind !== undefined && !KINDS.has(kind))
    throw new InternalError(`topic '${name}' has unknown kind '${kind}'`);
  const maxVersions = optional(row.get('retention_max_versions') as number | null);
  const maxAgeDays = optional(row.get('retention_max_age_days') as number | null);
  const description = optional(row.get('description') as string | null);
  return {
    name,
    retention: {
      ...(maxVersions === undefined ? {} : { maxVersions }),
      ...(maxAgeDays === undefined ? {} : { maxAgeDays }),
    },
    ...(kind === undefined ? {} : { kind: kind as DocumentKind }),
    ...(description === undefined ? {} : { description }),
    latestVersion,
    createdAt: millis(row, 'created_at'),
    updatedAt: millis(row, 'updated_at'),
  };
}

/** The `latest` of a version_counters row (or an LWT's returned row); undefined when it has none. */
export function latestOf(row: types.Row | null | undefined): number | undefined {
  const value: unknown = row?.get('latest');
  return typeof value === 'number' ? value : undefined;
}

/** Bound values of INSERT INTO versions, in column order. */
export function versionValues(draft: VersionDraft): unknown[] {
  const pointer = encodePointer(draft.pointer);
  return [
    draft.topic,
    draft.version,
    JSON.stringify(draft.metadata),
    pointer.pointer_kind,
    pointer.pointer_json,
    pointer.pointer_data,
    types.Long.fromNumber(draft.size),
    draft.sha256,
    draft.contentType,
    draft.publisher,
    new Date(draft.createdAt),
  ];
}

export const VERSION_COLUMNS =
  'topic, version, metadata, pointer_kind, pointer_json, pointer_data, size, sha256, content_type, publisher, created_at';

/** True when a stored row holds exactly what the draft would write (a retried write, not a conflicting one). */
export function sameVersionContent(row: types.Row, draft: VersionDraft): boolean {
  const pointer = encodePointer(draft.pointer);
  const storedData = row.get('pointer_data') as Buffer | null;
  const bytesEqual =
    storedData === null || pointer.pointer_data === null
      ? (storedData === null || storedData.byteLength === 0) ===
        (pointer.pointer_data === null || pointer.pointer_data.byteLength === 0)
      : storedData.equals(pointer.pointer_data);
  return (
    bytesEqual &&
    row.get('metadata') === JSON.stringify(draft.metadata) &&
    row.get('pointer_kind') === pointer.pointer_kind &&
    (row.get('pointer_json') ?? null) === pointer.pointer_json &&
    integer(row, 'size') === draft.size &&
    row.get('sha256') === draft.sha256 &&
    row.get('content_type') === draft.contentType &&
    row.get('publisher') === draft.publisher &&
    millis(row, 'created_at') === draft.createdAt
  );
}

export function scopeFromRow(row: types.Row): PublishScope & { readonly version: number } {
  return { version: integer(row, 'version'), scope: text(row, 'scope'), addedAt: millis(row, 'added_at') };
}

/** Scopes in the order the store reports them: by the time they were added, then by text. */
export function byAddedAtThenScope(a: PublishScope, b: PublishScope): number {
  return a.addedAt - b.addedAt || (a.scope < b.scope ? -1 : a.scope > b.scope ? 1 : 0);
}

export function versionFromRow(
  row: types.Row,
  scopes: readonly PublishScope[],
  committedAt: number | undefined,
): VersionRecord {
  const pointerData = row.get('pointer_data') as Buffer | null;
  const pointerKind = text(row, 'pointer_kind');
  return {
    topic: text(row, 'topic'),
    version: integer(row, 'version'),
    metadata: JSON.parse(text(row, 'metadata')) as Metadata,
    pointer: decodePointer({
      pointer_kind: pointerKind,
      pointer_json: (row.get('pointer_json') as string | null) ?? null,
      // Cassandra may hand back an empty blob as null: a direct pointer to zero bytes is still one.
      pointer_data: pointerData ?? (pointerKind === 'direct' ? Buffer.alloc(0) : null),
    }),
    size: integer(row, 'size'),
    sha256: text(row, 'sha256'),
    contentType: text(row, 'content_type'),
    publisher: text(row, 'publisher'),
    createdAt: millis(row, 'created_at'),
    ...(committedAt === undefined ? {} : { committedAt }),
    scopes: [...scopes].sort(byAddedAtThenScope).map((s) => ({ scope: s.scope, addedAt: s.addedAt })),
  };
}

export function commitOf(row: types.Row | null | undefined): number | undefined {
  return row ? optionalMillis(row, 'committed_at') : undefined;
}

/** The pins of a partition; a partition holding only its pin clock (every pin removed) has none. */
export function pinsFromRows(rows: readonly types.Row[]): PinRecord[] {
  return rows.filter((row) => row.get('scope') !== null).map(pinFromRow);
}

function pinFromRow(row: types.Row): PinRecord {
  return {
    scope: text(row, 'scope'),
    version: integer(row, 'version'),
    reason: text(row, 'reason'),
    author: text(row, 'author'),
    setAt: millis(row, 'set_at'),
  };
}

export function pinEventFromRow(row: types.Row): PinEvent {
  const version = optional(row.get('version') as number | null);
  return {
    scope: text(row, 'scope'),
    ...(version === undefined ? {} : { version }),
    reason: text(row, 'reason'),
    author: text(row, 'author'),
    at: millis(row, 'event_at'),
  };
}

/**
 * The publishes of a topic: each scope of a version that has its commit marker, visible from the later
 * of the scope being added and the commit. Scopes of versions without a marker are not publishes (yet).
 */
export function committedPublishes(
  scopeRows: readonly types.Row[],
  commitRows: readonly types.Row[],
): ScopedPublish[] {
  const committed = new Map<number, number>();
  for (const row of commitRows) {
    const at = commitOf(row);
    if (at !== undefined) committed.set(integer(row, 'version'), at);
  }
  const publishes: ScopedPublish[] = [];
  for (const scope of scopeRows.map(scopeFromRow)) {
    const committedAt = committed.get(scope.version);
    if (committedAt !== undefined)
      publishes.push({
        version: scope.version,
        scope: scope.scope,
        visibleAt: Math.max(scope.addedAt, committedAt),
      });
  }
  return publishes.sort(
    (a, b) =>
      a.version - b.version ||
      a.visibleAt - b.visibleAt ||
      (a.scope < b.scope ? -1 : a.scope > b.scope ? 1 : 0),
  );
}
