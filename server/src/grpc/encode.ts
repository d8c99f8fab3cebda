import type { DataPointer, PinEvent, PinRecord, TopicRecord, VersionRecord } from '@meshpress/client';
import type { PollUpdate } from '../core/poll-rule.js';
import type { ResolveResult } from '../core/service.js';
import type {
  DataPointerMessage,
  PinEventMessage,
  PinMessage,
  PollUpdateMessage,
  ResolvedTargetMessage,
  TopicMessage,
  VersionMessage,
} from './messages.js';

/** Domain records as proto messages. Mirrors rest/wire.ts: same fields, instants as epoch ms. */

export function toTopicMessage(topic: TopicRecord): TopicMessage {
  return {
    name: topic.name,
    ...(topic.kind ? { kind: topic.kind } : {}),
    ...(topic.description ? { description: topic.description } : {}),
    retention: {
      ...(topic.retention.maxVersions === undefined ? {} : { maxVersions: topic.retention.maxVersions }),
      ...(topic.retention.maxAgeDays === undefined ? {} : { maxAgeDays: topic.retention.maxAgeDays }),
    },
    latestVersion: topic.latestVersion,
    createdAtMs: topic.createdAt,
    updatedAtMs: topic.updatedAt,
  };
}

/** `inlineData: false` leaves direct payloads out (listings), as REST does. */
export function toVersionMessage(record: VersionRecord, options: { inlineData: boolean }): VersionMessage {
  return {
    topic: record.topic,
    version: record.version,
    metadata: { ...record.metadata },
    pointer: toPointerMessage(record.pointer, options.inlineData),
    size: record.size,
    sha256: record.sha256,
    contentType: record.contentType,
    publisher: record.publisher,
    createdAtMs: record.createdAt,
    ...(record.committedAt === undefined ? {} : { committedAtMs: record.committedAt }),
    scopes: record.scopes.map((s) => ({ scope: s.scope, addedAtMs: s.addedAt })),
  };
}

function toPointerMessage(pointer: DataPointer, inlineData: boolean): DataPointerMessage {
  switch (pointer.kind) {
    case 'direct':
      return { direct: inlineData ? { data: pointer.data } : {} };
    case 's3':
      return {
        s3: { locations: pointer.locations.map((l) => ({ region: l.region, bucket: l.bucket, key: l.key })) },
      };
    case 'local':
      return { local: { key: pointer.key } };
  }
}

export function toPinMessage(pin: PinRecord): PinMessage {
  return {
    scope: pin.scope,
    version: pin.version,
    reason: pin.reason,
    author: pin.author,
    setAtMs: pin.setAt,
  };
}

export function toPinEventMessage(event: PinEvent): PinEventMessage {
  return {
    scope: event.scope,
    ...(event.version === undefined ? {} : { version: event.version }),
    reason: event.reason,
    author: event.author,
    atMs: event.at,
  };
}

export function toPollUpdateMessage(update: PollUpdate): PollUpdateMessage {
  return {
    topic: update.topic,
    version: update.version,
    pinned: update.pinned,
    record: toVersionMessage(update.record, { inlineData: true }),
  };
}

export function toResolvedTargetMessage(target: NonNullable<ResolveResult['target']>): ResolvedTargetMessage {
  return {
    version: target.version,
    pinned: target.pinned,
    scope: target.scope,
    ...(target.record ? { record: toVersionMessage(target.record, { inlineData: false }) } : {}),
  };
}
