import { type PinRecord, UnavailableError } from '@meshpress/client';
import { pinChangeTime } from '../config-store.js';
import type { CqlSession } from './session.js';
import type { Cql } from './statements.js';

/** Rounds one pin change may take while other changes to the same topic's pins keep landing in between. */
const MAX_ATTEMPTS = 16;

export type PinChange =
  | { readonly kind: 'set'; readonly pin: Omit<PinRecord, 'setAt'> }
  | { readonly kind: 'remove'; readonly scope: string };

/**
 * Applies one pin change of a topic; returns when it was timed, or undefined for a removal that found no
 * pin.
 *
 * A topic's pins are one partition, and its static column `pin_clock` holds the time of the topic's last
 * pin change. Each change is one lightweight-transaction batch: move `pin_clock` from the value just read
 * to the change's time, and write (or delete) the scope's row, applied only if `pin_clock` still holds what
 * was read. Paxos orders the transactions on a partition, so:
 * - a change acknowledged later wins over one acknowledged earlier, whichever instances sent them (each
 *   commits with its ballot's time as its write time; a plain write stamped by a clock running behind
 *   would lose to an earlier one, and a pin or unpin acknowledged to the operator would silently not
 *   happen);
 * - a change's time is never at or before the previous change's (pinChangeTime), so `setAt`, which breaks
 *   ties between equally specific pins of different scopes, and the pin history follow that same order
 *   even when the instances' clocks disagree.
 *
 * The read is at the serial consistency, so it sees every transaction accepted so far; a change landing
 * between it and the batch moves the clock, the batch does not apply, and the round starts again. Not
 * marked idempotent: the loop resends by itself.
 */
export async function changePin(
  session: CqlSession,
  cql: Cql,
  topic: string,
  askedAt: number,
  change: PinChange,
): Promise<number | undefined> {
  const scope = change.kind === 'set' ? change.pin.scope : change.scope;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const rows = await session.serialRead(cql.pinClockAndScopes, [topic]);
    const clock = (rows[0]?.get('pin_clock') as Date | null | undefined) ?? null;
    if (change.kind === 'remove' && !rows.some((row) => row.get('scope') === scope)) return undefined;
    const at = pinChangeTime(askedAt, clock?.getTime());
    const row =
      change.kind === 'set'
        ? {
            query: cql.pinUpsert,
            params: [change.pin.version, change.pin.reason, change.pin.author, new Date(at), topic, scope],
          }
        : { query: cql.pinDelete, params: [topic, scope] };
    // Cassandra 2.1 never applies `IF pin_clock = null` (a partition without the clock has no static row
    // to compare), so the topic's first clock is an insert of the static row alone, if it is not there.
    const advance =
      clock === null
        ? { query: cql.pinClockStart, params: [topic, new Date(at)] }
        : { query: cql.pinClockAdvance, params: [new Date(at), topic, clock] };
    const result = await session.conditionalBatch([advance, row]);
    if (result.wasApplied()) return at;
  }
  throw new UnavailableError(
    `the pins of topic '${topic}' kept changing under ${MAX_ATTEMPTS} attempts to change scope '${scope}'; try again`,
  );
}
