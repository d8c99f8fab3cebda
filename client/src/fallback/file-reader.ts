import { readFile, stat } from 'node:fs/promises';
import { z } from 'zod';
import { systemClock } from '../core/clock.js';
import { UnavailableError } from '../core/errors.js';
import { type Identity, identitySchema } from '../core/names.js';
import { parseOrThrow } from '../core/validation.js';
import { FallbackCacheMissingError } from './errors.js';
import { FallbackIndex } from './fallback-index.js';
import { decodeFallbackCache } from './format.js';
import { commonReaderOptions } from './reader-options.js';
import { RefreshingIndex } from './refreshing-index.js';
import type { FallbackCacheReader, FallbackHit } from './types.js';

export const fileFallbackCacheReaderOptionsSchema = z
  .object({
    /**
     * The cache file. With the embedded server: `<dataDir>/blobs/fallback/v1/cache.json.gz` (its blob
     * directory plus DEFAULT_FALLBACK_CACHE_KEY).
     */
    path: z.string().min(1),
    ...commonReaderOptions,
  })
  .strict();

export type FileFallbackCacheReaderOptions = z.input<typeof fileFallbackCacheReaderOptionsSchema>;

/** Reads the fallback cache from a local file: a copy shipped with the proxy, a shared volume, tests. */
export class FileFallbackCacheReader implements FallbackCacheReader {
  readonly #path: string;
  readonly #maxDocumentBytes: number;
  readonly #index: RefreshingIndex;
  /** mtime and size of the file behind the current index: unchanged means no need to decode again. */
  #seen: string | undefined;

  constructor(options: FileFallbackCacheReaderOptions) {
    const parsed = parseOrThrow(
      fileFallbackCacheReaderOptionsSchema,
      options,
      'FileFallbackCacheReader options',
    );
    this.#path = parsed.path;
    this.#maxDocumentBytes = parsed.maxDocumentBytes;
    this.#index = new RefreshingIndex({
      clock: parsed.clock ?? systemClock,
      ttlMs: parsed.cacheTtlMs,
      what: 'FileFallbackCacheReader',
      onError: parsed.onError,
      load: () => this.#load(),
    });
  }

  async lookup(topic: string, identity: Identity): Promise<FallbackHit | undefined> {
    const who = parseOrThrow(identitySchema, identity, 'identity', 'identity');
    return (await this.#index.get()).lookup(topic, who);
  }

  /**
   * Resolves once a read in progress has finished: a lookup past the TTL answers from the document at
   * hand and re-reads in the background (tests, orderly shutdown).
   */
  idle(): Promise<void> {
    return this.#index.idle();
  }

  async close(): Promise<void> {
    this.#index.close();
  }

  async #load(): Promise<FallbackIndex | undefined> {
    let bytes: Uint8Array;
    let seen: string;
    try {
      const info = await stat(this.#path);
      // The server replaces the file by rename, so a rewrite changes the inode even within one mtime tick.
      seen = `${info.mtimeMs}/${info.size}/${info.ino}`;
      if (seen === this.#seen) return undefined;
      bytes = await readFile(this.#path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new FallbackCacheMissingError(this.#path);
      throw new UnavailableError(`cannot read fallback cache ${this.#path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const index = new FallbackIndex(
      await decodeFallbackCache(bytes, { maxDocumentBytes: this.#maxDocumentBytes }),
    );
    this.#seen = seen;
    return index;
  }
}
