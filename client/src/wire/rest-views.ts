import { z } from 'zod';
import type { DocumentKind, PinEvent, PinRecord, TopicRecord, VersionRecord } from '../core/model.js';

/** A poll answer for one topic. */
export interface PollUpdate {
  readonly topic: string;
  readonly version: number;
  readonly pinned: boolean;
  readonly record: VersionRecord;
}

/**
 * JSON shapes of the REST API: the single source for the server's response encoding, its OpenAPI document,
 * and the client's decoding (which validates every response before trusting it).
 */

const isoTime = z.string().describe('RFC 3339 timestamp');

export const s3LocationView = z.object({ region: z.string(), bucket: z.string(), key: z.string() });

export const pointerView = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('direct'),
    data: z.string().optional().describe('payload, base64 (omitted in history listings)'),
  }),
  z.object({ kind: z.literal('s3'), locations: z.array(s3LocationView) }),
  z.object({
    kind: z.literal('local'),
    key: z.string().describe('fetch through GET …/versions/:version/data'),
  }),
]);

export const versionView = z.object({
  topic: z.string(),
  version: z.number().int(),
  metadata: z.record(z.string(), z.string()),
  pointer: pointerView,
  size: z.number().int(),
  sha256: z.string(),
  contentType: z.string(),
  publisher: z.string(),
  createdAt: isoTime,
  committedAt: isoTime.optional(),
  scopes: z.array(z.object({ scope: z.string(), addedAt: isoTime })),
});
export type VersionView = z.infer<typeof versionView>;

export const topicView = z.object({
  name: z.string(),
  kind: z.string().optional(),
  description: z.string().optional(),
  retention: z.object({ maxVersions: z.number().int().optional(), maxAgeDays: z.number().optional() }),
  latestVersion: z.number().int(),
  createdAt: isoTime,
  updatedAt: isoTime,
});

export const pinView = z.object({
  scope: z.string(),
  version: z.number().int(),
  reason: z.string(),
  author: z.string(),
  setAt: isoTime,
});

/** One entry of a topic's pin history: a pin set (`version` present) or removed (no `version`). */
export const pinEventView = z.object({
  scope: z.string(),
  version: z.number().int().optional().describe('the version pinned to; absent when the pin was removed'),
  reason: z.string(),
  author: z.string(),
  at: isoTime,
});

export const pollUpdateView = z.object({
  topic: z.string(),
  version: z.number().int(),
  pinned: z.boolean(),
  record: versionView,
});

export const errorView = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

const iso = (ms: number) => new Date(ms).toISOString();

export function toVersionView(record: VersionRecord, options: { inlineData: boolean }): VersionView {
  const p = record.pointer;
  const pointer: VersionView['pointer'] =
    p.kind === 'direct'
      ? options.inlineData
        ? {
            kind: 'direct',
            data: Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength).toString('base64'),
          }
        : { kind: 'direct' }
      : p.kind === 's3'
        ? { kind: 's3', locations: p.locations.map((l) => ({ ...l })) }
        : { kind: 'local', key: p.key };
  return {
    topic: record.topic,
    version: record.version,
    metadata: { ...record.metadata },
    pointer,
    size: record.size,
    sha256: record.sha256,
    contentType: record.contentType,
    publisher: record.publisher,
    createdAt: iso(record.createdAt),
    ...(record.committedAt === undefined ? {} : { committedAt: iso(record.committedAt) }),
    scopes: record.scopes.map((s) => ({ scope: s.scope, addedAt: iso(s.addedAt) })),
  };
}

export function toTopicView(topic: TopicRecord): z.infer<typeof topicView> {
  return {
    name: topic.name,
    ...(topic.kind ? { kind: topic.kind } : {}),
    ...(topic.description ? { description: topic.description } : {}),
    retention: {
      ...(topic.retention.maxVersions === undefined ? {} : { maxVersions: topic.retention.maxVersions }),
      ...(topic.retention.maxAgeDays === undefined ? {} : { maxAgeDays: topic.retention.maxAgeDays }),
    },
    latestVersion: topic.latestVersion,
    createdAt: iso(topic.createdAt),
    updatedAt: iso(topic.updatedAt),
  };
}

export function toPinView(pin: PinRecord): z.infer<typeof pinView> {
  return {
    scope: pin.scope,
    version: pin.version,
    reason: pin.reason,
    author: pin.author,
    setAt: iso(pin.setAt),
  };
}

export function toPinEventView(event: PinEvent): z.infer<typeof pinEventView> {
  return {
    scope: event.scope,
    ...(event.version === undefined ? {} : { version: event.version }),
    reason: event.reason,
    author: event.author,
    at: iso(event.at),
  };
}

export function toPollUpdateView(update: PollUpdate): z.infer<typeof pollUpdateView> {
  return {
    topic: update.topic,
    version: update.version,
    pinned: update.pinned,
    record: toVersionView(update.record, { inlineData: true }),
  };
}

const ms = (iso: string) => Date.parse(iso);

export function fromVersionView(view: VersionView): VersionRecord {
  const p = view.pointer;
  return {
    topic: view.topic,
    version: view.version,
    metadata: view.metadata,
    pointer:
      p.kind === 'direct'
        ? { kind: 'direct', data: p.data === undefined ? new Uint8Array(0) : Buffer.from(p.data, 'base64') }
        : p.kind === 's3'
          ? { kind: 's3', locations: p.locations }
          : { kind: 'local', key: p.key },
    size: view.size,
    sha256: view.sha256,
    contentType: view.contentType,
    publisher: view.publisher,
    createdAt: ms(view.createdAt),
    committedAt: view.committedAt === undefined ? undefined : ms(view.committedAt),
    scopes: view.scopes.map((s) => ({ scope: s.scope, addedAt: ms(s.addedAt) })),
  };
}

export function fromTopicView(view: z.infer<typeof topicView>): TopicRecord {
  return {
    name: view.name,
    kind: view.kind as DocumentKind | undefined,
    description: view.description,
    retention: { maxVersions: view.retention.maxVersions, maxAgeDays: view.retention.maxAgeDays },
    latestVersion: view.latestVersion,
    createdAt: ms(view.createdAt),
    updatedAt: ms(view.updatedAt),
  };
}

export function fromPinView(view: z.infer<typeof pinView>): PinRecord {
  return {
    scope: view.scope,
    version: view.version,
    reason: view.reason,
    author: view.author,
    setAt: ms(view.setAt),
  };
}

export function fromPinEventView(view: z.infer<typeof pinEventView>): PinEvent {
  return {
    scope: view.scope,
    ...(view.version === undefined ? {} : { version: view.version }),
    reason: view.reason,
    author: view.author,
    at: ms(view.at),
  };
}

export function fromPollUpdateView(view: z.infer<typeof pollUpdateView>): PollUpdate {
  return {
    topic: view.topic,
    version: view.version,
    pinned: view.pinned,
    record: fromVersionView(view.record),
  };
}
