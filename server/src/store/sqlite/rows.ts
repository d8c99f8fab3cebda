import {
  DOCUMENT_KINDS,
  type DocumentKind,
  InternalError,
  type Metadata,
  type PinEvent,
  type PinRecord,
  type PublishScope,
  type TopicRecord,
  type VersionRecord,
} from '@meshpress/client';
import type { VersionDraft } from '../config-store.js';
import { decodePointer, type EncodedPointer, encodePointer } from './pointer-codec.js';

/** Column-for-column shapes of the tables in migrations.ts, and their mapping to the model. */

export interface TopicRow {
  readonly name: string;
  readonly retention_max_versions: number | null;
  readonly retention_max_age_days: number | null;
  readonly kind: string | null;
  readonly description: string | null;
  readonly latest_version: number;
  readonly created_at: number;
  readonly updated_at: number;
  readonly change_seq: number;
}

export interface TopicChangeRow {
  readonly name: string;
  /** Per-topic count of changes (migration 3); only ever grows, so a value is never repeated. */
  readonly change_seq: number;
}

export interface VersionRow extends EncodedPointer {
  readonly topic: string;
  readonly version: number;
  readonly metadata: string;
  readonly size: number;
  readonly sha256: string;
  readonly content_type: string;
  readonly publisher: string;
  readonly created_at: number;
  readonly committed_at: number | null;
}

export interface ScopeRow {
  readonly version: number;
  readonly scope: string;
  readonly added_at: number;
}

export interface PinRow {
  readonly scope: string;
  readonly version: number;
  readonly reason: string;
  readonly author: string;
  readonly set_at: number;
}

export interface PinEventRow {
  readonly scope: string;
  readonly version: number | null;
  readonly reason: string;
  readonly author: string;
  readonly at: number;
}

export interface PublishRow {
  readonly version: number;
  readonly scope: string;
  readonly visible_at: number;
}

const KINDS: ReadonlySet<string> = new Set(DOCUMENT_KINDS);

export function topicFromRow(row: TopicRow): TopicRecord {
  if (row.kind !== null && !KINDS.has(row.kind))
    throw new InternalError(`topic '${row.name}' has unknown kind '${row.kind}'`);
  return {
    name: row.name,
    retention: {
      ...(row.retention_max_versions === null ? {} : { maxVersions: row.retention_max_versions }),
      ...(row.retention_max_age_days === null ? {} : { maxAgeDays: row.retention_max_age_days }),
    },
    ...(row.kind === null ? {} : { kind: row.kind as DocumentKind }),
    ...(row.description === null ? {} : { description: row.description }),
    latestVersion: row.latest_version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function versionToRow(draft: VersionDraft): VersionRow {
  return {
    topic: draft.topic,
    version: draft.version,
    metadata: JSON.stringify(draft.metadata),
    ...encodePointer(draft.pointer),
    size: draft.size,
    sha256: draft.sha256,
    content_type: draft.contentType,
    publisher: draft.publisher,
    created_at: draft.createdAt,
    committed_at: null,
  };
}

/** True when two rows hold the same version content (the commit marker aside). */
export function sameVersionContent(a: VersionRow, b: VersionRow): boolean {
  const bytesEqual =
    a.pointer_data === null || b.pointer_data === null
      ? a.pointer_data === b.pointer_data
      : a.pointer_data.equals(b.pointer_data);
  return (
    bytesEqual &&
    a.metadata === b.metadata &&
    a.pointer_kind === b.pointer_kind &&
    a.pointer_json === b.pointer_json &&
    a.size === b.size &&
    a.sha256 === b.sha256 &&
    a.content_type === b.content_type &&
    a.publisher === b.publisher &&
    a.created_at === b.created_at
  );
}

export function versionFromRow(row: VersionRow, scopes: readonly ScopeRow[]): VersionRecord {
  return {
    topic: row.topic,
    version: row.version,
    metadata: JSON.parse(row.metadata) as Metadata,
    pointer: decodePointer(row),
    size: row.size,
    sha256: row.sha256,
    contentType: row.content_type,
    publisher: row.publisher,
    createdAt: row.created_at,
    ...(row.committed_at === null ? {} : { committedAt: row.committed_at }),
    scopes: scopes.map(scopeFromRow),
  };
}

function scopeFromRow(row: ScopeRow): PublishScope {
  return { scope: row.scope, addedAt: row.added_at };
}

export function pinFromRow(row: PinRow): PinRecord {
  return {
    scope: row.scope,
    version: row.version,
    reason: row.reason,
    author: row.author,
    setAt: row.set_at,
  };
}

export function pinEventFromRow(row: PinEventRow): PinEvent {
  return {
    scope: row.scope,
    ...(row.version === null ? {} : { version: row.version }),
    reason: row.reason,
    author: row.author,
    at: row.at,
  };
}
