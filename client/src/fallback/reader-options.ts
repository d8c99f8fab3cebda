import { z } from 'zod';
import type { Clock } from '../core/clock.js';
import { DEFAULT_MAX_FALLBACK_DOCUMENT_BYTES } from './format.js';

/**
 * How long a read document is used before the source is asked again. The server rewrites the cache every
 * couple of minutes, so reading more often than once a minute buys nothing.
 */
export const DEFAULT_FALLBACK_CACHE_TTL_MS = 60_000;

export const clockSchema = z.custom<Clock>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Partial<Clock>).now === 'function' &&
    typeof (value as Partial<Clock>).setTimeout === 'function',
  { message: 'expected a Clock' },
);

/** Options every fallback cache reader takes. */
export const commonReaderOptions = {
  /** Re-read the source at most this often (see DEFAULT_FALLBACK_CACHE_TTL_MS). */
  cacheTtlMs: z.number().int().min(0).default(DEFAULT_FALLBACK_CACHE_TTL_MS),
  /** Refuse documents that decompress to more than this. */
  maxDocumentBytes: z.number().int().positive().default(DEFAULT_MAX_FALLBACK_DOCUMENT_BYTES),
  /** Defaults to the system clock. */
  clock: clockSchema.optional(),
  /**
   * Called with each failed read, including those a previously read document hides from lookups (for
   * logs and metrics).
   */
  onError: z.custom<(error: unknown) => void>((value) => typeof value === 'function').optional(),
};
