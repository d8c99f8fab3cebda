import type {
  DataPointer,
  DocumentKind,
  Metadata,
  PinEvent,
  PinRecord,
  RetentionPolicy,
  ScopedPublish,
  TopicRecord,
  VersionRecord,
} from '@meshpress/client';

export interface TopicSpec {
  readonly name: string;
  readonly retention: RetentionPolicy;
  readonly kind?: DocumentKind | undefined;
  readonly description?: string | undefined;
}

/** A version as first written, before its scopes and commit marker. */
export interface VersionDraft {
  readonly topic: string;
  readonly version: number;
  readonly metadata: Metadata;
  readonly pointer: DataPointer;
  readonly size: number;
  readonly sha256: string;
  readonly contentType: string;
  readonly publisher: string;
  readonly createdAt: number;
}

export interface VersionPage {
  /** Committed versions, newest first. */
  readonly versions: readonly VersionRecord[];
  /** Pass as `before` to read the next page; undefined when there is none. */
  readonly nextBefore?: number | undefined;
}

/** What the consumer cache loads per topic. */
export interface TopicSnapshotData {
  /**
   * The topic's change marker (see ConfigStore.listTopicChanges), read before the rest of the snapshot:
   * a change the snapshot missed changes the marker after this value, so it is never mistaken for seen.
   */
  readonly changeMarker: string;
  readonly topic: TopicRecord;
  readonly pins: readonly PinRecord[];
  /** Scopes of committed versions, with the instant each became visible. */
  readonly publishes: readonly ScopedPublish[];
}

/** One entry of ConfigStore.listTopicChanges. */
export interface TopicChange {
  readonly name: string;
  /** Opaque; compare for equality only. */
  readonly changeMarker: string;
}

/**
 * Durable state: topics, versions, publish scopes, pins. Implementations: SQLite (embedded) and
 * Cassandra (distributed). Each call is atomic on its own; a publish is a sequence of calls in a fixed
 * order (allocate, write record, add scopes, commit) so that a crash at any point leaves nothing a
 * consumer can be served: readers treat a version without its commit marker as absent.
 *
 * Every implementation passes test/conformance/config-store.ts unchanged.
 */
export interface ConfigStore {
  /** Creates the topic, or updates retention/kind/description of an existing one. */
  putTopic(spec: TopicSpec, now: number): Promise<{ topic: TopicRecord; created: boolean }>;
  getTopic(name: string): Promise<TopicRecord | undefined>;
  /** Topics in name order, starting after `after`. */
  listTopics(options: { after?: string | undefined; limit: number }): Promise<TopicRecord[]>;
  /**
   * Every topic's change marker, in name order after `after` (the same topics listTopics gives), cheap
   * enough to read for every topic every few seconds: the consumer cache reloads only topics whose marker
   * moved. The marker of a topic changes with every putTopic, addScopes, commitVersion, setPin,
   * removePin and deleteVersion of it (allocateVersion and writeVersion change nothing a consumer is
   * served), and only after the data the call writes is readable. It is never repeated: a marker, once
   * replaced, never comes back. Reads never change it. A call that changes nothing (a repeated commit, a
   * removePin finding no pin) may still change it. Fewer than `limit` entries means the listing ended.
   */
  listTopicChanges(options: { after?: string | undefined; limit: number }): Promise<TopicChange[]>;

  /**
   * Allocates the next version number of the topic, atomically across every process sharing the store.
   * Numbers are never handed out twice, even if the publish using one fails.
   * Throws TopicNotFoundError for an unknown topic.
   */
  allocateVersion(topic: string): Promise<number>;
  /** Writes the version record (uncommitted). */
  writeVersion(draft: VersionDraft): Promise<void>;
  /** Attaches publish scopes (canonical text) to a version; scopes already attached are left as they are. */
  addScopes(topic: string, version: number, scopes: readonly string[], now: number): Promise<void>;
  /** Writes the commit marker; the version becomes servable. Idempotent. */
  commitVersion(topic: string, version: number, now: number): Promise<void>;
  /** One version with its scopes, committed or not (undefined if no record exists). */
  getVersion(topic: string, version: number): Promise<VersionRecord | undefined>;
  /**
   * Committed versions newest first, with versions < `before` when given. Paging with `nextBefore` walks
   * every committed version of a topic once (the janitor enumerates a topic this way).
   */
  listVersions(topic: string, options: { before?: number | undefined; limit: number }): Promise<VersionPage>;
  /**
   * Purges one version (retention): removes its commit marker first, then its publish scopes, then its
   * record, so a crash part-way leaves at worst an uncommitted version, which is never served and never
   * listed. Pins and pin history are left alone (the janitor never purges a pinned version). Idempotent:
   * resolves false when the version has no record (never written, already purged, unknown topic).
   */
  deleteVersion(topic: string, version: number): Promise<boolean>;
  /**
   * Whether any version record, committed or not, in any topic, has this sha256 and a pointer that is not
   * `direct`: the reference count the janitor consults before deleting a content-addressed blob. A record
   * counts from the moment writeVersion returns until deleteVersion removes it.
   */
  isPayloadReferenced(sha256: string): Promise<boolean>;

  /**
   * Sets (or replaces) the pin of one scope, and records it in the pin history. Returns the pin as stored:
   * the pin changes of a topic are timed in the order they happen (see pinChangeTime), so its `setAt` is
   * later than asked when the asking clock is at or behind the topic's previous pin change. A pin the
   * same as the one in place (samePin) changes nothing and is not recorded again: that pin is returned,
   * so a retried request is recorded once.
   */
  setPin(topic: string, pin: PinRecord): Promise<PinRecord>;
  /**
   * Removes the pin of one scope; returns false when there was none. Recorded in the pin history, timed
   * as setPin times a pin.
   */
  removePin(
    topic: string,
    scope: string,
    event: { author: string; reason: string; at: number },
  ): Promise<boolean>;
  listPins(topic: string): Promise<PinRecord[]>;
  /** Every pin set and removal of the topic, oldest first. */
  pinHistory(topic: string): Promise<PinEvent[]>;
  /** The latest `limit` pin sets and removals of the topic, newest first (a read of that many rows only). */
  latestPinEvents(topic: string, limit: number): Promise<PinEvent[]>;

  /** Pins and committed publish scopes of one topic, for resolution. Undefined for an unknown topic. */
  loadTopicSnapshot(topic: string): Promise<TopicSnapshotData | undefined>;

  /** Idempotent; pending and later calls fail with ClosedError. */
  close(): Promise<void>;
}

/**
 * When a pin change is recorded: the time asked (the server's clock), but never at or before the topic's
 * previous pin change. Resolution breaks ties between equally specific pins by `setAt` ("most recently
 * set wins") and the pin history reads in time order, so a clock behind another instance's (or stepped
 * back) must not time a later change as an earlier one.
 */
export function pinChangeTime(askedAt: number, previousChangeAt: number | null | undefined): number {
  return previousChangeAt === null || previousChangeAt === undefined
    ? askedAt
    : Math.max(askedAt, previousChangeAt + 1);
}

/** Whether a pin request asks for exactly the pin in place: same version, reason and author. */
export function samePin(inPlace: Omit<PinRecord, 'setAt'>, asked: Omit<PinRecord, 'setAt'>): boolean {
  return (
    inPlace.version === asked.version && inPlace.reason === asked.reason && inPlace.author === asked.author
  );
}
