import { z } from 'zod';
import { contentTypeProblem } from './content-type.js';
import type { ProgressListener } from './progress.js';

/**
 * Shapes of MeshpressAdmin's inputs: types, required fields, unknown keys. The values themselves (scope
 * grammar, metadata keys, topic names) are judged by the server alone, so a client and a newer server
 * never disagree about what is valid; its ValidationError names each bad field either way.
 */

const signalSchema = z.custom<AbortSignal>((v) => v instanceof AbortSignal, 'expected an AbortSignal');

export const topicSpecSchema = z
  .object({
    retention: z
      .object({ maxVersions: z.number().int().optional(), maxAgeDays: z.number().optional() })
      .strict()
      .optional(),
    kind: z.string().optional(),
    description: z.string().optional(),
  })
  .strict();
export type TopicSpec = z.input<typeof topicSpecSchema>;

export const publishOptionsSchema = z
  .object({
    /** Scopes the version is published to (default `*`, the whole fleet). */
    scopes: z.array(z.string()).min(1).optional(),
    metadata: z.record(z.string(), z.string()).optional(),
    /** Overrides the content type derived from the payload (an RFC 7231 media type, printable ASCII). */
    contentType: z
      .string()
      .superRefine((value, ctx) => {
        // Checked here although the server judges values: it goes out as a header fetch may refuse.
        const problem = contentTypeProblem(value);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
    /** Expected sha256 of the payload bytes: the publish fails if they differ. */
    sha256: z.string().optional(),
    /** Called as an upload progresses (S3 copies count once per bucket). */
    onProgress: z.custom<ProgressListener>((v) => typeof v === 'function', 'expected a function').optional(),
    signal: signalSchema.optional(),
  })
  .strict();
export type PublishOptions = z.input<typeof publishOptionsSchema>;

export const s3PointerInputSchema = z
  .object({
    locations: z.array(z.object({ region: z.string(), bucket: z.string(), key: z.string() }).strict()).min(1),
    size: z.number().int().min(0),
    sha256: z.string(),
  })
  .strict();
export type S3PointerInput = z.input<typeof s3PointerInputSchema>;

export const pointerPublishOptionsSchema = publishOptionsSchema.omit({ sha256: true, onProgress: true });
export type PointerPublishOptions = z.input<typeof pointerPublishOptionsSchema>;

export const pinOptionsSchema = z
  .object({ scope: z.string().min(1).optional(), reason: z.string().optional() })
  .strict();
export type PinOptions = z.input<typeof pinOptionsSchema>;

export const topicPageSchema = z
  .object({ after: z.string().optional(), limit: z.number().int().min(1).max(1000).optional() })
  .strict();
export type TopicPageOptions = z.input<typeof topicPageSchema>;

export const versionPageSchema = z
  .object({ before: z.number().int().optional(), limit: z.number().int().min(1).max(1000).optional() })
  .strict();
export type VersionPageOptions = z.input<typeof versionPageSchema>;

export const pinHistorySchema = z.object({ limit: z.number().int().min(1).max(1000).optional() }).strict();
export type PinHistoryOptions = z.input<typeof pinHistorySchema>;

export const identityInputSchema = z
  .object({
    app: z.string().optional(),
    cluster: z.string().optional(),
    region: z.string().optional(),
    node: z.string().optional(),
    env: z.string().optional(),
  })
  .strict();

/** An instant: epoch milliseconds, a Date, or RFC 3339 text. */
export const instantSchema = z.union([
  z.number().int().min(0),
  z.date().transform((d) => d.getTime()),
  z.string().min(1),
]);

export const callOptionsSchema = z.object({ signal: signalSchema.optional() }).strict();
export type CallOptions = z.input<typeof callOptionsSchema>;
