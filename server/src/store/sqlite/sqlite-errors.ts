import { InternalError, MeshpressError, UnavailableError } from '@meshpress/client';
import Database from 'better-sqlite3';

/**
 * Turns what better-sqlite3 throws into meshpress errors. A lock held too long by another process is
 * transient (callers may retry: UNAVAILABLE); anything else SQLite reports is a fault of ours (INTERNAL).
 */
export function toMeshpressError(error: unknown): MeshpressError {
  if (error instanceof MeshpressError) return error;
  if (error instanceof Database.SqliteError && /^SQLITE_(BUSY|LOCKED)/.test(error.code))
    return new UnavailableError(`SQLite database is locked: ${error.message}`, { cause: error });
  const message = error instanceof Error ? error.message : String(error);
  return new InternalError(`SQLite config store failed: ${message}`, { cause: error });
}
