import type { MeshConnectionPool } from '../mesh/index.js';
import type { Cancellation } from './cancellation.js';
import type { OverflowLimit } from './errors.js';

/** The answer to "may this attempt go upstream now?". */
export type Admission =
  | { readonly kind: 'granted' }
  | { readonly kind: 'queued'; readonly waiter: Waiter }
  | { readonly kind: 'overflow'; readonly limit: OverflowLimit };

const GRANTED: Admission = Object.freeze({ kind: 'granted' });
const OVER_REQUESTS: Admission = Object.freeze({ kind: 'overflow', limit: 'max-requests' });
const OVER_PENDING: Admission = Object.freeze({ kind: 'overflow', limit: 'max-pending-requests' });

/** A queued attempt. `granted` resolves true when it gets a connection, false when cancelled. */
export class Waiter {
  readonly granted: Promise<boolean>;
  #resolve!: (value: boolean) => void;
  #settled = false;

  constructor(
    readonly maxConnections: number,
    readonly owner: NodeCircuit,
  ) {
    this.granted = new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }

  /** Leaves the queue (timeout, caller gone). Does nothing once granted. */
  cancel(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.owner.forget(this);
    this.#resolve(false);
  }

  /** @internal */
  grant(): void {
    this.#settled = true;
    this.#resolve(true);
  }

  /** Waits until granted, or cancels itself when `signal` aborts first. */
  wait(signal: Cancellation): Promise<boolean> {
    if (signal.aborted) this.cancel();
    if (this.#settled) return this.granted;
    const remove = signal.onAbort(() => this.cancel());
    return this.granted.finally(remove);
  }
}

/**
 * Circuit breaking for one virtual node, with Envoy's three thresholds:
 * - `maxConnections`: attempts in flight upstream. Upstream calls are HTTP/1.1 without pipelining, so
 *   each one holds a connection of its own; an attempt beyond this waits in the pending queue;
 * - `maxPendingRequests`: attempts waiting for a connection; beyond it, overflow;
 * - `maxRequests`: attempts in flight plus waiting; beyond it, overflow.
 * Limits come from the snapshot each request started with; the counts are shared by every snapshot
 * naming the node, so a swap neither resets nor doubles them.
 */
export class NodeCircuit {
  #active = 0;
  // A Set keeps FIFO order and removes a cancelled waiter in O(1).
  readonly #queue = new Set<Waiter>();

  get active(): number {
    return this.#active;
  }

  get pending(): number {
    return this.#queue.size;
  }

  acquire(limits: MeshConnectionPool): Admission {
    if (this.#active + this.#queue.size >= limits.maxRequests) return OVER_REQUESTS;
    if (this.#active < limits.maxConnections && this.#queue.size === 0) {
      this.#active++;
      return GRANTED;
    }
    if (this.#queue.size >= limits.maxPendingRequests) return OVER_PENDING;
    const waiter = new Waiter(limits.maxConnections, this);
    this.#queue.add(waiter);
    return { kind: 'queued', waiter };
  }

  /** `release`, bound once: handed to each response body's `onClose` without a closure per request. */
  readonly releaser = (): void => this.release();

  /** Ends a granted attempt and hands its connection to the oldest waiter its limit allows. */
  release(): void {
    if (this.#active > 0) this.#active--;
    this.#drain();
  }

  /** @internal A cancelled waiter leaves the queue. */
  forget(waiter: Waiter): void {
    if (this.#queue.delete(waiter)) this.#drain();
  }

  #drain(): void {
    for (const waiter of this.#queue) {
      // Strict FIFO: a waiter whose (older snapshot's) limit is lower blocks those behind it.
      if (this.#active >= waiter.maxConnections) return;
      this.#queue.delete(waiter);
      this.#active++;
      waiter.grant();
    }
  }
}
