import { z } from 'zod';
import type { DataPointer, VersionRecord } from '../core/model.js';
import type { PollUpdate } from './transport.js';

/**
 * The proto messages a consumer receives, as @grpc/proto-loader decodes them (MESHPRESS_PROTO_OPTIONS),
 * validated before anything is trusted, then turned into the same domain records REST gives.
 */

const bytes = z.instanceof(Uint8Array);
const int = z.number().int();
const s3Location = z.object({ region: z.string(), bucket: z.string(), key: z.string() });

const pointerMessage = z.object({
  kind: z.enum(['direct', 's3', 'local']),
  direct: z.object({ data: bytes.nullish() }).nullish(),
  s3: z.object({ locations: z.array(s3Location) }).nullish(),
  local: z.object({ key: z.string() }).nullish(),
});

export const versionMessage = z.object({
  topic: z.string(),
  version: int,
  metadata: z.record(z.string(), z.string()),
  pointer: pointerMessage,
  size: int,
  sha256: z.string(),
  contentType: z.string(),
  publisher: z.string(),
  createdAtMs: int,
  committedAtMs: int.nullish(),
  scopes: z.array(z.object({ scope: z.string(), addedAtMs: int })),
});

export const pollResponseMessage = z.object({
  updates: z.array(
    z.object({ topic: z.string(), version: int, pinned: z.boolean(), record: versionMessage }),
  ),
});

export const listVersionsResponseMessage = z.object({
  versions: z.array(versionMessage),
  nextBefore: int.nullish(),
});

export const versionDataChunkMessage = z.object({ data: bytes, offset: int });

export function fromVersionMessage(message: z.output<typeof versionMessage>): VersionRecord {
  return {
    topic: message.topic,
    version: message.version,
    metadata: message.metadata,
    pointer: fromPointer(message.pointer),
    size: message.size,
    sha256: message.sha256,
    contentType: message.contentType,
    publisher: message.publisher,
    createdAt: message.createdAtMs,
    committedAt: message.committedAtMs ?? undefined,
    scopes: message.scopes.map((s) => ({ scope: s.scope, addedAt: s.addedAtMs })),
  };
}

export function fromPollResponse(message: z.output<typeof pollResponseMessage>): PollUpdate[] {
  return message.updates.map((u) => ({
    topic: u.topic,
    version: u.version,
    pinned: u.pinned,
    record: fromVersionMessage(u.record),
  }));
}

function fromPointer(pointer: z.output<typeof pointerMessage>): DataPointer {
  switch (pointer.kind) {
    case 'direct':
      return { kind: 'direct', data: new Uint8Array(pointer.direct?.data ?? new Uint8Array(0)) };
    case 's3':
      return { kind: 's3', locations: pointer.s3?.locations ?? [] };
    case 'local':
      return { kind: 'local', key: pointer.local?.key ?? '' };
  }
}
