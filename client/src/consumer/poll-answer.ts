import type { PublishScope, VersionRecord } from '../core/model.js';
import type { PollUpdate } from '../wire/rest-views.js';

/**
 * Reads a REST poll answer (`{ updates: [...] }`, already JSON-parsed) straight into PollUpdates when it
 * has the everyday shape: inline (`direct`) payloads and well-typed fields. After a publish every
 * subscriber decodes one of these, and zod's copy of the answer followed by a second copy into records
 * was a large share of the client's CPU and garbage per update.
 *
 * Returns undefined for anything else (another pointer kind, a missing or mistyped field, an odd key):
 * the caller then decodes with the zod schema, which stays the one definition of a valid answer and
 * names every bad field. So this accepts only answers zod accepts, and builds the same records.
 */
export function readPollAnswer(value: unknown): PollUpdate[] | undefined {
  if (!isObject(value)) return undefined;
  const list = value.updates;
  if (!Array.isArray(list)) return undefined;
  const updates: PollUpdate[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const item: unknown = list[i];
    if (!isObject(item)) return undefined;
    const { topic, version, pinned } = item;
    if (typeof topic !== 'string' || !isInteger(version) || typeof pinned !== 'boolean') return undefined;
    const record = readRecord(item.record);
    if (!record) return undefined;
    updates[i] = { topic, version, pinned, record };
  }
  return updates;
}

function readRecord(view: unknown): VersionRecord | undefined {
  if (!isObject(view)) return undefined;
  const { topic, version, metadata, pointer, size, sha256, contentType, publisher, createdAt, committedAt } =
    view;
  if (
    typeof topic !== 'string' ||
    !isInteger(version) ||
    !isStringMap(metadata) ||
    !isObject(pointer) ||
    pointer.kind !== 'direct' ||
    !isInteger(size) ||
    typeof sha256 !== 'string' ||
    typeof contentType !== 'string' ||
    typeof publisher !== 'string' ||
    typeof createdAt !== 'string' ||
    (committedAt !== undefined && typeof committedAt !== 'string')
  )
    return undefined;
  const data = pointer.data;
  if (data !== undefined && typeof data !== 'string') return undefined;
  const scopes = readScopes(view.scopes);
  if (!scopes) return undefined;
  return {
    topic,
    version,
    metadata,
    pointer: { kind: 'direct', data: data === undefined ? new Uint8Array(0) : Buffer.from(data, 'base64') },
    size,
    sha256,
    contentType,
    publisher,
    createdAt: Date.parse(createdAt),
    committedAt: committedAt === undefined ? undefined : Date.parse(committedAt),
    scopes,
  };
}

function readScopes(list: unknown): PublishScope[] | undefined {
  if (!Array.isArray(list)) return undefined;
  const scopes: PublishScope[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const item: unknown = list[i];
    if (!isObject(item)) return undefined;
    const { scope, addedAt } = item;
    if (typeof scope !== 'string' || typeof addedAt !== 'string') return undefined;
    scopes[i] = { scope, addedAt: Date.parse(addedAt) };
  }
  return scopes;
}

/** A plain JSON object (what z.object accepts from JSON.parse): not null, not an array. */
function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What z.number().int() accepts. */
function isInteger(value: unknown): value is number {
  return Number.isSafeInteger(value);
}

/**
 * String values only, and no own `__proto__` key (JSON.parse makes one a plain property; zod's record
 * copy drops it), so the parsed object itself can serve as the record's metadata.
 */
function isStringMap(value: unknown): value is Record<string, string> {
  if (!isObject(value) || Object.hasOwn(value, '__proto__')) return false;
  for (const key in value) if (typeof value[key] !== 'string') return false;
  return true;
}
