import { type PinRecord, UnavailableError } from '@meshpress/client';
import type { CqlSession } from './session.js';
import type { Cql } from './statements.js';

/** Rounds one pin write may take while other writes to the same scope's pin keep landing in between. */
const MAX_ATTEMPTS = 16;

/**
 * Every write to `pins` is a lightweight transaction: this one, and removePin's `DELETE … IF EXISTS`.
 * Paxos orders the transactions on a partition (a topic's pins are one partition) by their ballots, and
 * each commits with its ballot's time as its write time, so a write acknowledged later always wins over
 * one acknowledged earlier, whichever instances sent them. A plain write is stamped by the sending
 * instance's clock: behind another instance's, it loses to that instance's earlier write (last write
 * wins), and a pin or unpin acknowledged to the operator silently does not happen. A plain write mixed in
 * would bring that back, so there is none.
 *
 * CQL has no unconditional lightweight upsert: insert if absent, else replace if `set_at` is still what the
 * failed attempt returned, until one applies. Not marked idempotent: the loop resends by itself, reading
 * each answer for what the comparison returned.
 */
export async function writePinRow(
  session: CqlSession,
  cql: Cql,
  topic: string,
  pin: PinRecord,
): Promise<void> {
  const values = [pin.version, pin.reason, pin.author, new Date(pin.setAt)];
  // `undefined`: the row is believed absent; otherwise the set_at it holds (null in a row written without).
  let seen: Date | null | undefined;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (seen === undefined) {
      const inserted = await session.execute(cql.pinInsertIfAbsent, [topic, pin.scope, ...values], {
        idempotent: false,
      });
      if (inserted.wasApplied()) return;
      // The transaction that did not apply returns the row as it stands.
      seen = setAtOf(inserted.first()) ?? null;
      continue;
    }
    const replaced = await session.execute(cql.pinReplaceIf, [...values, topic, pin.scope, seen], {
      idempotent: false,
    });
    if (replaced.wasApplied()) return;
    // Changed meanwhile (its new set_at comes back), or removed (nothing comes back): try again from there.
    seen = setAtOf(replaced.first());
  }
  throw new UnavailableError(
    `the pin of scope '${pin.scope}' on topic '${topic}' kept changing under ${MAX_ATTEMPTS} attempts; try again`,
  );
}

/** Removes the pin row of one scope by lightweight transaction; false when there was none. */
export async function deletePinRow(
  session: CqlSession,
  cql: Cql,
  topic: string,
  scope: string,
): Promise<boolean> {
  const deleted = await session.execute(cql.pinDeleteIfExists, [topic, scope], { idempotent: false });
  return deleted.wasApplied();
}

function setAtOf(row: { get(column: string): unknown } | null | undefined): Date | undefined {
  const value = row?.get('set_at');
  return value instanceof Date ? value : undefined;
}
