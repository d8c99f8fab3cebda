import type { Metadata } from './names.js';

/** One copy of a payload in S3. A version may have one per region. */
export interface S3Location {
  readonly region: string;
  readonly bucket: string;
  readonly key: string;
}

/**
 * Where a version's bytes are:
 * - `direct`: inline in the record (small payloads, replicated with the record itself);
 * - `s3`: objects in one or more regional S3 buckets, downloaded by clients directly;
 * - `local`: the server's own blob directory (embedded mode); clients download through the
 *   server's `GET …/versions/:version/data`.
 */
export type DataPointer =
  | { readonly kind: 'direct'; readonly data: Uint8Array }
  | { readonly kind: 's3'; readonly locations: readonly S3Location[] }
  | { readonly kind: 'local'; readonly key: string };

export interface PublishScope {
  /** Canonical scope text. */
  readonly scope: string;
  /** When the scope was attached (epoch ms). */
  readonly addedAt: number;
}

export interface RetentionPolicy {
  /** Keep at least the newest N versions (undefined: no count limit). */
  readonly maxVersions?: number | undefined;
  /** Keep versions younger than this many days (undefined: no age limit). */
  readonly maxAgeDays?: number | undefined;
}

export type DocumentKind = 'mesh.routes.v1' | 'mesh.policy.v1';
export const DOCUMENT_KINDS: readonly DocumentKind[] = ['mesh.routes.v1', 'mesh.policy.v1'];

export interface TopicRecord {
  readonly name: string;
  readonly retention: RetentionPolicy;
  /** Document kind validated at publish time; undefined = opaque bytes. */
  readonly kind?: DocumentKind | undefined;
  readonly description?: string | undefined;
  /** Highest version number allocated so far (0 before the first publish). */
  readonly latestVersion: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** An immutable version. `committedAt` is undefined while (or if forever) the commit marker is missing. */
export interface VersionRecord {
  readonly topic: string;
  readonly version: number;
  readonly metadata: Metadata;
  readonly pointer: DataPointer;
  readonly size: number;
  /** Lowercase hex sha256 of the payload bytes. */
  readonly sha256: string;
  readonly contentType: string;
  readonly publisher: string;
  readonly createdAt: number;
  readonly committedAt?: number | undefined;
  readonly scopes: readonly PublishScope[];
}

export interface PinRecord {
  /** Canonical scope text. */
  readonly scope: string;
  readonly version: number;
  readonly reason: string;
  readonly author: string;
  readonly setAt: number;
}

/** One entry of a topic's pin history: a pin set (`version` present) or removed. */
export interface PinEvent {
  readonly scope: string;
  readonly version?: number | undefined;
  readonly reason: string;
  readonly author: string;
  readonly at: number;
}

/** A (version, scope) pair that makes a committed version visible to the identities the scope matches. */
export interface ScopedPublish {
  readonly version: number;
  readonly scope: string;
  /** When this publish became visible: the later of the scope's addedAt and the version's commit. */
  readonly visibleAt: number;
}

/** All resolution needs to know about one topic. */
export interface ResolutionState {
  readonly pins: readonly PinRecord[];
  /** Publish scopes of committed versions only. */
  readonly publishes: readonly ScopedPublish[];
}

export interface ResolvedTarget {
  readonly version: number;
  readonly pinned: boolean;
  /** The scope of the pin or publish that decided the answer. */
  readonly scope: string;
}
