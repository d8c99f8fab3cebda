import { randomBytes } from 'node:crypto';
import { types } from 'cassandra-driver';

/**
 * Ids of pin history entries (the clustering key of `pin_events`). A timeuuid made from the event's own
 * time, so the history reads in event order whichever instance wrote it; the tick counter keeps this
 * instance's events of one millisecond in the order they were recorded, and the random node and clock
 * parts keep two instances from ever minting the same id.
 */
export class PinEventIds {
  readonly #node = randomBytes(6);
  readonly #clock = randomBytes(2);
  #ticks = 0;

  next(at: Date): types.TimeUuid {
    // 10,000 ticks of 100 ns fill one millisecond: the id never moves into the next one.
    this.#ticks = (this.#ticks + 1) % 10_000;
    return types.TimeUuid.fromDate(at, this.#ticks, this.#node, this.#clock);
  }
}
