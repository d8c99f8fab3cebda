import { z } from 'zod';
import { DOCUMENT_KINDS } from '../core/model.js';
import { topicNameSchema } from '../core/names.js';
import { tryParseScope } from '../core/scope.js';
import { SHA256_PATTERN, sha256Hex } from '../core/sha256.js';

/**
 * JSON shape of the fallback cache, format version 1 (docs/fallback-cache.md). Times are epoch
 * milliseconds. Objects are not strict: a writer may add optional fields within version 1 and older
 * readers ignore them; anything a reader must understand to answer correctly bumps `formatVersion`.
 */
export const FALLBACK_FORMAT_VERSION = 1;

const epochMs = z.number().int().min(0);
const versionNumber = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

/** Scope text exactly as the store keeps it; resolve() parses it with scopeFromCanonical. */
const canonicalScope = z.string().superRefine((text, ctx) => {
  const parsed = tryParseScope(text);
  if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
  else if (parsed.text !== text)
    ctx.addIssue({ code: 'custom', message: `not in canonical form (expected '${parsed.text}')` });
});

const pointerSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('direct'), data: z.base64() }),
  z.object({
    kind: z.literal('s3'),
    locations: z
      .array(z.object({ region: z.string().min(1), bucket: z.string().min(1), key: z.string().min(1) }))
      .min(1),
  }),
  z.object({ kind: z.literal('local'), key: z.string().min(1) }),
]);

const versionSchema = z
  .object({
    version: versionNumber,
    metadata: z.record(z.string(), z.string()),
    pointer: pointerSchema,
    size: z.number().int().min(0),
    sha256: z.string().regex(SHA256_PATTERN, 'must be 64 lowercase hex characters'),
    contentType: z.string(),
    publisher: z.string(),
    createdAt: epochMs,
    // Only committed versions are written: a reader must never serve an incomplete publish.
    committedAt: epochMs,
    // May be empty: a pinned version is served to the pin's identities whatever its own scopes.
    scopes: z.array(z.object({ scope: canonicalScope, addedAt: epochMs })),
  })
  .superRefine((version, ctx) => {
    if (version.pointer.kind !== 'direct') return;
    // The same check the server's consistency check makes: inline bytes are the whole, exact payload.
    const data = Buffer.from(version.pointer.data, 'base64');
    if (data.byteLength !== version.size)
      ctx.addIssue({
        code: 'custom',
        path: ['pointer', 'data'],
        message: `holds ${data.byteLength} bytes, size says ${version.size}`,
      });
    else if (sha256Hex(data) !== version.sha256)
      ctx.addIssue({ code: 'custom', path: ['pointer', 'data'], message: 'does not hash to sha256' });
  });

const topicSchema = z
  .object({
    name: topicNameSchema,
    kind: z.enum(DOCUMENT_KINDS as [string, ...string[]]).optional(),
    description: z.string().optional(),
    retention: z.object({
      maxVersions: z.number().int().min(1).optional(),
      maxAgeDays: z.number().positive().optional(),
    }),
    latestVersion: z.number().int().min(0),
    createdAt: epochMs,
    updatedAt: epochMs,
    pins: z.array(
      z.object({
        scope: canonicalScope,
        version: versionNumber,
        reason: z.string(),
        author: z.string(),
        setAt: epochMs,
      }),
    ),
    /** Per distinct publish scope, its newest committed version (the server's resolution state). */
    publishes: z.array(z.object({ scope: canonicalScope, version: versionNumber, visibleAt: epochMs })),
    /** Per scope, the newest version passing the consistency check (the poll contract's first-poll rule). */
    newestServable: z.array(z.object({ scope: canonicalScope, version: versionNumber })),
    versions: z.array(versionSchema),
  })
  .superRefine((topic, ctx) => {
    unique(ctx, topic.pins, (p) => p.scope, 'pins', 'scope');
    unique(ctx, topic.publishes, (p) => p.scope, 'publishes', 'scope');
    unique(ctx, topic.newestServable, (p) => p.scope, 'newestServable', 'scope');
    unique(ctx, topic.versions, (v) => String(v.version), 'versions', 'version');
    const recorded = new Set(topic.versions.map((v) => v.version));
    topic.newestServable.forEach((entry, i) => {
      if (!recorded.has(entry.version))
        ctx.addIssue({
          code: 'custom',
          path: ['newestServable', i, 'version'],
          message: `version ${entry.version} has no record in versions`,
        });
    });
  });

export const fallbackDocumentSchema = z
  .object({
    formatVersion: z.literal(FALLBACK_FORMAT_VERSION),
    generatedAt: epochMs,
    /** Instance that wrote the document (diagnostics only). */
    writer: z.string().min(1),
    topics: z.array(topicSchema),
  })
  .superRefine((doc, ctx) => unique(ctx, doc.topics, (t) => t.name, 'topics', 'name'));

export type FallbackDocumentJson = z.input<typeof fallbackDocumentSchema>;

function unique<T>(
  ctx: z.RefinementCtx,
  items: readonly T[],
  keyOf: (item: T) => string,
  list: string,
  field: string,
): void {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    const key = keyOf(item);
    if (seen.has(key))
      ctx.addIssue({ code: 'custom', path: [list, i, field], message: `duplicate '${key}'` });
    seen.add(key);
  });
}
