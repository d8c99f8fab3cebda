import type { DataPointer } from '@meshpress/client';
import type { CqlSession } from './session.js';

/** Pointers whose bytes live in the blob store, and so get a `payload_refs` row. */
export function hasBlobReference(pointer: DataPointer | { readonly kind: string }): boolean {
  return pointer.kind !== 'direct';
}

/**
 * Writes the `payload_refs` row of every existing non-direct version record (migration 2). A full scan of
 * `versions`, page by page, run once under the migration lock; rewriting a row that exists is harmless,
 * so a re-run after a crash simply does it again.
 */
export async function backfillPayloadRefs(session: CqlSession, ks: string): Promise<void> {
  const insert = `INSERT INTO ${ks}.payload_refs (sha256, topic, version) VALUES (?, ?, ?)`;
  await session.eachPage(
    `SELECT topic, version, sha256, pointer_kind FROM ${ks}.versions`,
    [],
    async (rows) => {
      const refs = rows.filter(
        (row) =>
          typeof row.get('sha256') === 'string' &&
          hasBlobReference({ kind: row.get('pointer_kind') as string }),
      );
      await Promise.all(
        refs.map((row) =>
          session.execute(insert, [row.get('sha256'), row.get('topic'), row.get('version')], {
            idempotent: true,
          }),
        ),
      );
    },
  );
}
