import type { VersionRecord } from '../core/model.js';
import type { Acceptance, Delivery } from './delivery.js';
import type { ClientLogger } from './logger.js';
import type { ValueSource } from './metrics.js';
import { SubscriptionCore } from './subscription-core.js';
import { isThenable } from './thenable.js';

/** Turns verified bytes into the value callers use. Throwing (or rejecting) refuses the version. */
export type Decoder<T> = (data: Uint8Array, record: VersionRecord) => T | Promise<T>;

export interface AtomicOptions<T> {
  readonly decode: Decoder<T>;
  /** What `current()` returns until a real version is applied. */
  readonly defaultValue: T;
}

/**
 * One immutable snapshot of an atomic subscription. Read `state` once and use its fields together:
 * they always belong to the same version.
 */
export interface AtomicState<T> {
  readonly value: T;
  /** Undefined while on the default value. */
  readonly version: number | undefined;
  readonly pinned: boolean;
  readonly record: VersionRecord | undefined;
  /** `default` until a version is applied. */
  readonly source: ValueSource | 'default';
  /** True once the subscription (or its client) is closed: the value stays the last one applied. */
  readonly closed: boolean;
}

export type ChangeListener<T> = (state: AtomicState<T>, previous: AtomicState<T>) => void;

/**
 * High-level subscription: a decoded value swapped in atomically. A new version replaces the current
 * value only after download, sha256 check and decode have all succeeded, and the swap is a single
 * assignment of an immutable state object, so `current()` never blocks, never returns undefined, and
 * never shows a half-applied version.
 */
export class AtomicSubscription<T> extends SubscriptionCore {
  #state: AtomicState<T>;
  readonly #decode: Decoder<T>;
  /** Replaced, never changed in place: a swap calls the listeners registered when it began. */
  #listeners: readonly ChangeListener<T>[] = [];
  readonly #logger: ClientLogger;

  /** @internal Created by MeshpressClient.subscribeAtomic. */
  constructor(topic: string, options: AtomicOptions<T>, logger: ClientLogger) {
    super(topic);
    this.#decode = options.decode;
    this.#logger = logger;
    // The placeholder for "nothing applied yet": callers never null-check.
    this.#state = Object.freeze({
      value: options.defaultValue,
      version: undefined,
      pinned: false,
      record: undefined,
      source: 'default',
      closed: false,
    });
  }

  /** The value in force now: the default until a version is applied. Never blocks. */
  current(): T {
    return this.#state.value;
  }

  /** Value, version and record of one consistent moment. */
  get state(): AtomicState<T> {
    return this.#state;
  }

  override get version(): number | undefined {
    return this.#state.version;
  }

  override get pinned(): boolean {
    return this.#state.pinned;
  }

  override get record(): VersionRecord | undefined {
    return this.#state.record;
  }

  /** Called after each swap (and once on close). Returns a function that removes the listener. */
  onChange(listener: ChangeListener<T>): () => void {
    if (!this.#listeners.includes(listener)) this.#listeners = [...this.#listeners, listener];
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  protected accept(delivery: Delivery): Acceptance | Promise<Acceptance> {
    let decoded: T | Promise<T>;
    try {
      decoded = this.#decode(delivery.data, delivery.record);
    } catch (err) {
      return this.#refuse(err, delivery);
    }
    if (!isThenable(decoded)) return this.#apply(decoded as T, delivery);
    return Promise.resolve(decoded).then(
      (value) => this.#apply(value, delivery),
      (err: unknown) => this.#refuse(err, delivery),
    );
  }

  #refuse(err: unknown, delivery: Delivery): Acceptance {
    this.#logger.warn({ err, topic: this.topic, version: delivery.version }, 'decode rejected a version');
    return 'decode';
  }

  #apply(value: T, delivery: Delivery): Acceptance {
    if (this.closed) return 'closed';
    this.#swap({
      value,
      version: delivery.version,
      pinned: delivery.pinned,
      record: delivery.record,
      source: delivery.source,
      closed: false,
    });
    return 'applied';
  }

  protected override onClosed(): void {
    this.#swap({ ...this.#state, closed: true });
  }

  #swap(next: AtomicState<T>): void {
    const previous = this.#state;
    this.#state = Object.freeze(next);
    for (const listener of this.#listeners) {
      try {
        listener(this.#state, previous);
      } catch (err) {
        this.#logger.error({ err, topic: this.topic }, 'change listener threw; the new value stays applied');
      }
    }
  }
}
