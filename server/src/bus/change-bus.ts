/** What changed: a topic's versions, scopes, pins or settings. */
export interface ChangeEvent {
  readonly topic: string;
  /** The instance that made the change, so it can skip reloading what it already knows. */
  readonly origin: string;
  readonly at: number;
}

export type ChangeListener = (event: ChangeEvent) => void;

/**
 * Tells every instance that a topic changed so it refreshes its cache and wakes its long-polls.
 * Delivery is best effort: instances also refresh periodically, so a lost notification only delays.
 * Implementations: in-process (embedded) and Redis pub/sub (distributed).
 */
export interface ChangeBus {
  publish(event: ChangeEvent): Promise<void>;
  /** Returns an unsubscribe function. */
  subscribe(listener: ChangeListener): () => void;
  /** Idempotent. */
  close(): Promise<void>;
}
