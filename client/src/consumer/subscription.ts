import type { VersionRecord } from '../core/model.js';
import type { Acceptance, Delivery } from './delivery.js';
import type { ClientLogger } from './logger.js';
import { SubscriptionCore } from './subscription-core.js';
import { isThenable } from './thenable.js';

/**
 * Receives each version to apply, with its verified bytes. Throwing (or rejecting) refuses the version:
 * it is counted as rejected, the subscription keeps its previous version, and the same version is not
 * offered again until the target moves. The bytes are shared: do not modify them.
 */
export type VersionListener = (
  version: number,
  data: Uint8Array,
  record: VersionRecord,
) => void | Promise<void>;

/** A listener given as an object, e.g. a class instance with an `onVersion` method. */
export interface VersionHandler {
  onVersion: VersionListener;
}

/** Low-level subscription: one listener called with every version that passes integrity checks. */
export class Subscription extends SubscriptionCore {
  readonly #listener: VersionListener;
  readonly #logger: ClientLogger;

  /** @internal Created by MeshpressClient.subscribe. */
  constructor(topic: string, listener: VersionListener | VersionHandler, logger: ClientLogger) {
    super(topic);
    this.#listener = typeof listener === 'function' ? listener : (v, d, r) => listener.onVersion(v, d, r);
    this.#logger = logger;
  }

  protected accept(delivery: Delivery): Acceptance | Promise<Acceptance> {
    let result: void | Promise<void>;
    try {
      result = this.#listener(delivery.version, delivery.data, delivery.record);
    } catch (err) {
      return this.#refuse(err, delivery);
    }
    if (!isThenable(result)) return 'applied';
    return Promise.resolve(result).then(
      (): Acceptance => 'applied',
      (err: unknown) => this.#refuse(err, delivery),
    );
  }

  #refuse(err: unknown, delivery: Delivery): Acceptance {
    this.#logger.warn({ err, topic: this.topic, version: delivery.version }, 'listener rejected a version');
    return 'listener';
  }
}
