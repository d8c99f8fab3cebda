import type { PinRecord, TopicRecord, VersionRecord } from '@meshpress/client';
import { z } from 'zod';
import type { PollUpdate } from '../core/poll-rule.js';

/** JSON shapes of the REST API: the single source for response encoding and the OpenAPI document. */

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

export function toPollUpdateView(update: PollUpdate): z.infer<typeof pollUpdateView> {
  return {
    topic: update.topic,
    version: update.version,
    pinned: update.pinned,
    record: toVersionView(update.record, { inlineData: true }),
  };
}
