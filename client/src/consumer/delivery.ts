import type { VersionRecord } from '../core/model.js';
import type { RejectReason, ValueSource } from './metrics.js';

/** A version with its bytes already verified against the record: what a subscription is offered. */
export interface Delivery {
  readonly version: number;
  /** True when a pin decided it (then it may be older than the running version: a rollback). */
  readonly pinned: boolean;
  readonly record: VersionRecord;
  /** Verified payload. Shared between subscriptions of the topic: treat it as read-only. */
  readonly data: Uint8Array;
  readonly source: ValueSource;
}

/** Why a subscription does or does not want a version. */
export type Interest = 'wants' | 'has-it' | 'backwards' | 'rejected-before' | 'closed';

/** What a subscription did with a delivery. */
export type Acceptance = 'applied' | Extract<RejectReason, 'decode' | 'listener'> | 'closed';

/** How a subscription started (or `pending` until it has). */
export type StartSource = ValueSource | 'default' | 'pending';
