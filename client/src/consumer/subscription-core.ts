import type { VersionRecord } from '../core/model.js';
import type { Acceptance, Delivery, Interest, StartSource } from './delivery.js';

/**
 * Version bookkeeping shared by both kinds of subscription: which version runs, what was rejected, the
 * never-go-backwards rule, and the "settled" promise startup waits on.
 */
export abstract class SubscriptionCore {
  readonly topic: string;
  #version: number | undefined;
  #pinned = false;
  #record: VersionRecord | undefined;
  #lastRejected: number | undefined;
  #startedFrom: StartSource = 'pending';
  #settle!: () => void;
  readonly #settled: Promise<void>;
  #closed = false;
  #onClose: (() => void) | undefined;

  protected constructor(topic: string) {
    this.topic = topic;
    this.#settled = new Promise<void>((resolve) => {
      this.#settle = resolve;
    });
  }

  /** The running version; undefined while on the default value. */
  get version(): number | undefined {
    return this.#version;
  }

  /** Whether a pin decided the running version. */
  get pinned(): boolean {
    return this.#pinned;
  }

  /** The running version's record; undefined while on the default value. */
  get record(): VersionRecord | undefined {
    return this.#record;
  }

  /** Where the first value came from: `pending` until startup decided, then a source or `default`. */
  get startedFrom(): StartSource {
    return this.#startedFrom;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Resolves once the subscription has its first value, or it is known there is none to get right now. */
  ready(): Promise<void> {
    return this.#settled;
  }

  /**
   * Never go backwards: a version is wanted when there is none yet, or it is newer, or a pin asks for a
   * different one (a rollback). A version this subscription rejected is not retried until the target
   * moves to another one (a newer version or a pin is applied; an older one applied meanwhile is not a
   * move).
   */
  interest(version: number, pinned: boolean): Interest {
    if (this.#closed) return 'closed';
    if (version === this.#version) return 'has-it';
    if (version === this.#lastRejected) return 'rejected-before';
    if (this.#version !== undefined && version < this.#version && !pinned) return 'backwards';
    return 'wants';
  }

  /**
   * Offers verified bytes; only the channel calls this, one delivery at a time. The channel then marks
   * the subscription started, once its own bookkeeping (metrics) is done.
   */
  deliver(delivery: Delivery): Acceptance | Promise<Acceptance> {
    if (this.#closed) return 'closed';
    // Synchronous unless accept is (a decoder or listener that returned a promise).
    const outcome = this.accept(delivery);
    return typeof outcome === 'string'
      ? this.#noteOutcome(delivery, outcome)
      : outcome.then((settled) => this.#noteOutcome(delivery, settled));
  }

  #noteOutcome(delivery: Delivery, outcome: Acceptance): Acceptance {
    if (outcome === 'applied') {
      this.#version = delivery.version;
      this.#pinned = delivery.pinned;
      this.#record = delivery.record;
      // Only the target moving on lifts a refusal: past it, or to a pin. An older version applied after it
      // (a history, fallback or disk cache start) leaves the refused one the service's target, offered
      // on every poll since the node reports the older one.
      const rejected = this.#lastRejected;
      if (rejected !== undefined && (delivery.pinned || delivery.version > rejected))
        this.#lastRejected = undefined;
    } else if (outcome !== 'closed') {
      this.#lastRejected = delivery.version;
    }
    return outcome;
  }

  /** Records how the subscription started, once, and releases whoever waits for it. */
  markStarted(source: Exclude<StartSource, 'pending'>): void {
    if (this.#startedFrom === 'pending') this.#startedFrom = source;
    this.#settle();
  }

  /** Stops deliveries and detaches from the client. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#settle();
    this.onClosed();
    this.#onClose?.();
  }

  /** @internal The client's hook to drop a closed subscription from its topic. */
  bindClose(onClose: () => void): void {
    this.#onClose = onClose;
  }

  /**
   * Decode/notify; 'applied' only once the new value is in place. A promise only when the work is
   * asynchronous (it rejects never: failures are outcomes).
   */
  protected abstract accept(delivery: Delivery): Acceptance | Promise<Acceptance>;

  protected onClosed(): void {}
}
