import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import type { z } from 'zod';
import { MalformedRequestError } from '../core/errors.js';
import type { DocumentKind, PinRecord, ScopedPublish, TopicRecord, VersionRecord } from '../core/model.js';
import { parseOrThrow } from '../core/validation.js';
import { FallbackCacheTooLargeError, UnsupportedFallbackFormatError } from './errors.js';
import {
  FALLBACK_FORMAT_VERSION,
  type FallbackDocumentJson,
  fallbackDocumentSchema,
} from './format-schema.js';

export { FALLBACK_FORMAT_VERSION, fallbackDocumentSchema } from './format-schema.js';

/** Where the server writes the cache inside its blob store (after the S3 store's prefix, if any). */
export const DEFAULT_FALLBACK_CACHE_KEY = 'fallback/v1/cache.json.gz';
/** A decoded document larger than this is refused rather than exhausting the client's memory. */
export const DEFAULT_MAX_FALLBACK_DOCUMENT_BYTES = 256 * 1024 * 1024;

/** One topic as the fallback cache holds it: enough for resolve() and for fetching the payloads. */
export interface FallbackTopic {
  readonly topic: TopicRecord;
  readonly pins: readonly PinRecord[];
  /** Per distinct publish scope, its newest committed version: the state the server resolves against. */
  readonly publishes: readonly ScopedPublish[];
  /** Per scope, the newest version passing the consistency check (when a head fails it, an older one). */
  readonly newestServable: readonly { readonly scope: string; readonly version: number }[];
  /** Records of the versions above that pass the consistency check; direct payloads included. */
  readonly versions: readonly VersionRecord[];
}

export interface FallbackDocument {
  readonly formatVersion: typeof FALLBACK_FORMAT_VERSION;
  readonly generatedAt: number;
  readonly writer: string;
  readonly topics: readonly FallbackTopic[];
}

/**
 * gzip'd JSON bytes of the document. The document is validated with the same schema readers use, and
 * held to the same size cap (`maxDocumentBytes`, the readers' DEFAULT_MAX_FALLBACK_DOCUMENT_BYTES unless
 * given), so a writer can never publish a cache that every client would then refuse: it throws
 * ValidationError or FallbackCacheTooLargeError instead.
 */
export async function encodeFallbackCache(
  doc: FallbackDocument,
  options: { maxDocumentBytes?: number } = {},
): Promise<Uint8Array> {
  const limit = options.maxDocumentBytes ?? DEFAULT_MAX_FALLBACK_DOCUMENT_BYTES;
  const json = toJson(doc);
  parseOrThrow(fallbackDocumentSchema, json, 'fallback cache document');
  const text = Buffer.from(JSON.stringify(json), 'utf8');
  if (text.byteLength > limit) throw new FallbackCacheTooLargeError(text.byteLength, limit);
  const gzipped = await promisify(gzip)(text);
  return new Uint8Array(gzipped.buffer, gzipped.byteOffset, gzipped.byteLength);
}

/**
 * Parses and validates gzip'd JSON bytes. Throws MalformedRequestError for bytes that are not gzip'd JSON,
 * UnsupportedFallbackFormatError for another format version, ValidationError (naming each bad field)
 * for a version 1 document that breaks the format.
 */
export async function decodeFallbackCache(
  bytes: Uint8Array,
  options: { maxDocumentBytes?: number } = {},
): Promise<FallbackDocument> {
  const maxOutputLength = options.maxDocumentBytes ?? DEFAULT_MAX_FALLBACK_DOCUMENT_BYTES;
  let text: string;
  try {
    text = (await promisify(gunzip)(bytes, { maxOutputLength })).toString('utf8');
  } catch (error) {
    const tooLarge = (error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
    throw new MalformedRequestError(
      tooLarge
        ? `fallback cache expands to more than ${maxOutputLength} bytes`
        : `fallback cache is not gzip data: ${(error as Error).message}`,
      { cause: error },
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new MalformedRequestError(`fallback cache is not JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  // Checked first and on its own: a future format may differ everywhere else, and the version is the
  // one thing worth telling the operator about.
  const formatVersion = (raw as { formatVersion?: unknown } | null)?.formatVersion;
  if (formatVersion !== undefined && formatVersion !== FALLBACK_FORMAT_VERSION)
    throw new UnsupportedFallbackFormatError(formatVersion);
  return fromJson(parseOrThrow(fallbackDocumentSchema, raw, 'fallback cache document'));
}

type ParsedJson = z.output<typeof fallbackDocumentSchema>;
type TopicJson = FallbackDocumentJson['topics'][number];
type VersionJson = TopicJson['versions'][number];

function toJson(doc: FallbackDocument): FallbackDocumentJson {
  return {
    formatVersion: doc.formatVersion,
    generatedAt: doc.generatedAt,
    writer: doc.writer,
    topics: doc.topics.map(
      (t): TopicJson => ({
        name: t.topic.name,
        ...(t.topic.kind === undefined ? {} : { kind: t.topic.kind }),
        ...(t.topic.description === undefined ? {} : { description: t.topic.description }),
        retention: {
          ...(t.topic.retention.maxVersions === undefined
            ? {}
            : { maxVersions: t.topic.retention.maxVersions }),
          ...(t.topic.retention.maxAgeDays === undefined ? {} : { maxAgeDays: t.topic.retention.maxAgeDays }),
        },
        latestVersion: t.topic.latestVersion,
        createdAt: t.topic.createdAt,
        updatedAt: t.topic.updatedAt,
        pins: t.pins.map((p) => ({
          scope: p.scope,
          version: p.version,
          reason: p.reason,
          author: p.author,
          setAt: p.setAt,
        })),
        publishes: t.publishes.map((p) => ({ scope: p.scope, version: p.version, visibleAt: p.visibleAt })),
        newestServable: t.newestServable.map((n) => ({ scope: n.scope, version: n.version })),
        versions: t.versions.map(versionToJson),
      }),
    ),
  };
}

function versionToJson(v: VersionRecord): VersionJson {
  const p = v.pointer;
  return {
    version: v.version,
    metadata: { ...v.metadata },
    pointer:
      p.kind === 'direct'
        ? {
            kind: 'direct',
            data: Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength).toString('base64'),
          }
        : p.kind === 's3'
          ? {
              kind: 's3',
              locations: p.locations.map((l) => ({ region: l.region, bucket: l.bucket, key: l.key })),
            }
          : { kind: 'local', key: p.key },
    size: v.size,
    sha256: v.sha256,
    contentType: v.contentType,
    publisher: v.publisher,
    createdAt: v.createdAt,
    // An uncommitted record fails the schema below instead of slipping in as committed at 0.
    committedAt: v.committedAt as number,
    scopes: v.scopes.map((s) => ({ scope: s.scope, addedAt: s.addedAt })),
  };
}

function fromJson(json: ParsedJson): FallbackDocument {
  return {
    formatVersion: json.formatVersion,
    generatedAt: json.generatedAt,
    writer: json.writer,
    topics: json.topics.map((t) => ({
      topic: {
        name: t.name,
        kind: t.kind as DocumentKind | undefined,
        description: t.description,
        retention: { maxVersions: t.retention.maxVersions, maxAgeDays: t.retention.maxAgeDays },
        latestVersion: t.latestVersion,
        createdAt: t.createdAt,
        updatedAt: t.updatedAt,
      },
      pins: t.pins,
      publishes: t.publishes,
      newestServable: t.newestServable,
      versions: t.versions.map(
        (v): VersionRecord => ({
          topic: t.name,
          version: v.version,
          metadata: v.metadata,
          pointer:
            v.pointer.kind === 'direct'
              ? { kind: 'direct', data: new Uint8Array(Buffer.from(v.pointer.data, 'base64')) }
              : v.pointer,
          size: v.size,
          sha256: v.sha256,
          contentType: v.contentType,
          publisher: v.publisher,
          createdAt: v.createdAt,
          committedAt: v.committedAt,
          scopes: v.scopes,
        }),
      ),
    })),
  };
}
