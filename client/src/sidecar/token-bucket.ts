import type { Clock } from '../core/clock.js';

/**
 * The rate limit of a virtual service: `burst` tokens, refilled continuously at `requestsPerSecond`;
 * each request takes one or is refused. Time comes from the injected clock; refill is computed from
 * the elapsed time at each call, so there are no timers.
 */
export class TokenBucket {
  #tokens: number;
  #refilledAt: number;

  constructor(
    readonly requestsPerSecond: number,
    readonly burst: number,
    readonly clock: Clock,
    initialTokens: number = burst,
  ) {
    if (!(requestsPerSecond > 0)) throw new RangeError('requestsPerSecond must be > 0');
    if (!(burst >= 1)) throw new RangeError('burst must be >= 1');
    this.#tokens = Math.min(burst, Math.max(0, initialTokens));
    this.#refilledAt = clock.now();
  }

  /** Takes one token if there is one. */
  tryTake(): boolean {
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Tokens available now (fractional while refilling). */
  get tokens(): number {
    this.#refill();
    return this.#tokens;
  }

  /** Milliseconds until the next whole token; 0 when one is available. */
  msUntilToken(): number {
    this.#refill();
    return this.#tokens >= 1 ? 0 : Math.ceil(((1 - this.#tokens) * 1000) / this.requestsPerSecond);
  }

  /**
   * The bucket for a new snapshot's limit: this one when the limit is unchanged, else a new bucket that
   * keeps the tokens left (up to the new burst), so republishing a document never refills the bucket.
   */
  reconfigured(requestsPerSecond: number, burst: number): TokenBucket {
    if (requestsPerSecond === this.requestsPerSecond && burst === this.burst) return this;
    return new TokenBucket(requestsPerSecond, burst, this.clock, this.tokens);
  }

  #refill(): void {
    const now = this.clock.now();
    // A wall clock stepped backwards must not drain the bucket.
    const elapsed = now - this.#refilledAt;
    if (elapsed <= 0) {
      if (elapsed < 0) this.#refilledAt = now;
      return;
    }
    this.#tokens = Math.min(this.burst, this.#tokens + (elapsed * this.requestsPerSecond) / 1000);
    this.#refilledAt = now;
  }
}
