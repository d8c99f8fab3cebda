import { type Clock, parseOrThrow, systemClock } from '@meshpress/client';
import { z } from 'zod';

/** How long a write waits for another process holding the file's write lock before failing. */
export const DEFAULT_SQLITE_BUSY_TIMEOUT_MS = 5_000;

const clockSchema = z.custom<Clock>(
  (value) =>
    typeof value === 'object' && value !== null && typeof (value as { now?: unknown }).now === 'function',
  { message: 'expected a Clock' },
);

export const sqliteConfigStoreOptionsSchema = z
  .object({
    /** Database file, or `:memory:` for a private in-memory database (tests). */
    path: z.string().min(1, 'path is empty (use :memory: for an in-memory database)'),
    /** See DEFAULT_SQLITE_BUSY_TIMEOUT_MS. */
    busyTimeoutMs: z.number().int().min(0).max(600_000).default(DEFAULT_SQLITE_BUSY_TIMEOUT_MS),
    /** Stamps `schema_migrations.applied_at`; defaults to the system clock. */
    clock: clockSchema.optional(),
  })
  .strict();

export type SqliteConfigStoreOptions = z.input<typeof sqliteConfigStoreOptionsSchema>;

export interface ParsedSqliteConfigStoreOptions {
  readonly path: string;
  readonly busyTimeoutMs: number;
  readonly clock: Clock;
}

export function parseSqliteConfigStoreOptions(options: unknown): ParsedSqliteConfigStoreOptions {
  const parsed = parseOrThrow(sqliteConfigStoreOptionsSchema, options, 'SQLite config store options');
  return { path: parsed.path, busyTimeoutMs: parsed.busyTimeoutMs, clock: parsed.clock ?? systemClock };
}
