/**
 * Decides which instance runs a periodic task. The runner calls `acquire` before every iteration and
 * `release` when it stops, so a lease-based lock maps onto it directly. A Redis implementation:
 * - acquire: `SET meshpress:task:<task> <instanceId> NX PX <leaseMs>`; when the key already holds this
 *   instance's id, extend it (a Lua compare-and-PEXPIRE). True when the key holds our id afterwards.
 * - release: delete the key only if it still holds our id (compare-and-DEL), so a successor's lease
 *   survives a late release.
 * The lease outlives the gap between iterations, so the leader keeps it by running; when the leader dies,
 * the key expires and the next instance to tick takes over within one lease.
 */
export interface Leadership {
  /**
   * Tries to hold (or keep holding) the lease on `task` for `leaseMs` from now. Resolves true when this
   * instance should run the task now. A rejection counts as "not leader" for this iteration.
   */
  acquire(task: string, leaseMs: number): Promise<boolean>;
  /** Gives the lease up early so another instance can take over at once. Idempotent. */
  release(task: string): Promise<void>;
  /** Releases every lease and any connection the implementation owns. Idempotent. */
  close?(): Promise<void>;
  /**
   * Whether this instance surely holds `task` now: false once the lease may have run out, even before a
   * renewal noticed. Absent when a lease cannot be lost (in process).
   */
  holds?(task: string): boolean;
  /**
   * Calls `listener(task)` when a lease this instance held turns out lost (found taken or expired at
   * renewal, or renewals failed until it ran out). Returns the unsubscribe function. Absent when a lease
   * cannot be lost.
   */
  onLost?(listener: (task: string) => void): () => void;
}

/** One process, so always the leader: embedded mode and tests. */
export class InProcessLeadership implements Leadership {
  async acquire(): Promise<boolean> {
    return true;
  }

  async release(): Promise<void> {}
}
