import { type PinRecord, UnavailableError } from '@meshpress/client';
import type { types } from 'cassandra-driver';
import { pinChangeTime, samePin } from '../config-store.js';
import type { CqlSession } from './session.js';
import type { Cql } from './statements.js';

/** Rounds one pin change may take while other changes to the same topic's pins keep landing in between. */
const MAX_ATTEMPTS = 16;

export type PinChange =
  | { readonly kind: 'set'; readonly pin: Omit<PinRecord, 'setAt'> }
  | { readonly kind: 'remove'; readonly scope: string };

/**
 * Applies one pin change of a topic; returns when it was timed (for a pin the same as the one in place,
 * which changes nothing, that pin's time and `changed: false`), or undefined for a removal that found no
 * pin.
 *
 * A topic's pins are one partition, and while the topic has pins its static column `pin_clock` holds the
 * time of its last pin change. Each change is one lightweight-transaction batch: move `pin_clock` from the
 * value just read to the change's time, and write (or delete) the scope's row, applied only if `pin_clock`
 * still holds what was read. Paxos orders the transactions on a partition, so:
 * - a change acknowledged later wins over one acknowledged earlier, whichever instances sent them (each
 *   commits with its ballot's time as its write time; a plain write stamped by a clock running behind
 *   would lose to an earlier one, and a pin or unpin acknowledged to the operator would silently not
 *   happen);
 * - a change's time is never at or before the previous change's (pinChangeTime), so `setAt`, which breaks
 *   ties between equally specific pins of different scopes, and the pin history follow that same order
 *   even when the instances' clocks disagree.
 *
 * Removing a topic's last pin clears the clock too, so a topic without pins has no row at all (a server
 * of an earlier version, still running during an upgrade, cannot read a partition holding only the
 * clock). A change finding no clock (that, or a topic untouched since migration 4) starts it from the
 * latest of its pins' `set_at` and its last history entry.
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
): Promise<{ at: number; changed: boolean } | undefined> {
  const scope = change.kind === 'set' ? change.pin.scope : change.scope;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const rows = await session.all(cql.pinClockAndScopes, [topic], { serial: true });
    const clock = dateOf(rows[0], 'pin_clock');
    const pins = rows.filter((row) => row.get('scope') !== null);
    const inPlace = pins.find((row) => row.get('scope') === scope);
    if (change.kind === 'remove' && !inPlace) return undefined;
    if (change.kind === 'set' && inPlace && samePin(pinOfRow(inPlace), change.pin)) {
      const setAt = dateOf(inPlace, 'set_at');
      if (setAt) return { at: setAt.getTime(), changed: false };
    }
    const at = pinChangeTime(askedAt, clock?.getTime() ?? (await lastKnownChange(session, cql, topic, pins)));
    const result = await session.conditionalBatch(
      statementsFor(cql, topic, scope, change, at, clock, pins.length === 1),
    );
    if (result.wasApplied()) return { at, changed: true };
  }
  throw new UnavailableError(
    `the pins of topic '${topic}' kept changing under ${MAX_ATTEMPTS} attempts to change scope '${scope}'; try again`,
  );
}

function statementsFor(
  cql: Cql,
  topic: string,
  scope: string,
  change: PinChange,
  at: number,
  clock: Date | undefined,
  onlyPin: boolean,
): { query: string; params: unknown[] }[] {
  if (change.kind === 'remove' && onlyPin)
    return clock === undefined
      ? // A topic pinned only by servers of an earlier version: the row alone, by its own transaction.
        [{ query: cql.pinDeleteIfExists, params: [topic, scope] }]
      : [
          { query: cql.pinClockAdvance, params: [null, topic, clock] },
          { query: cql.pinDelete, params: [topic, scope] },
        ];
  // Cassandra 2.1 never applies `IF pin_clock = null`, so a missing clock is inserted, if still missing.
  const advance =
    clock === undefined
      ? { query: cql.pinClockStart, params: [topic, new Date(at)] }
      : { query: cql.pinClockAdvance, params: [new Date(at), topic, clock] };
  const row =
    change.kind === 'set'
      ? {
          query: cql.pinUpsert,
          params: [change.pin.version, change.pin.reason, change.pin.author, new Date(at), topic, scope],
        }
      : { query: cql.pinDelete, params: [topic, scope] };
  return [advance, row];
}

/**
 * The latest pin change a topic without a clock is known to have had: its pins' `set_at` and its last
 * history entry (written just after each change, so a change made a moment ago by another instance may
 * not be there yet).
 */
async function lastKnownChange(
  session: CqlSession,
  cql: Cql,
  topic: string,
  pins: readonly types.Row[],
): Promise<number | undefined> {
  const last = (await session.execute(cql.pinLastEventAt, [topic], { idempotent: true })).first();
  const times = pins.map((row) => dateOf(row, 'set_at'));
  times.push(dateOf(last, 'event_at'));
  const known = times.filter((t) => t !== undefined).map((t) => t.getTime());
  return known.length === 0 ? undefined : Math.max(...known);
}

function pinOfRow(row: types.Row): Omit<PinRecord, 'setAt'> {
  return {
    scope: row.get('scope') as string,
    version: row.get('version') as number,
    reason: (row.get('reason') as string | null) ?? '',
    author: (row.get('author') as string | null) ?? '',
  };
}

function dateOf(row: types.Row | null | undefined, column: string): Date | undefined {
  const value = row?.get(column);
  return value instanceof Date ? value : undefined;
}
