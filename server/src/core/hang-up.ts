/** Told when a held poll's caller went away. */
export interface AbortListener {
  handleEvent(): void;
}

/**
 * What a held poll needs of an `AbortSignal`: whether it fired, and one listener told when it does.
 * An `AbortSignal` is one; `HangUp` is the light one the REST adapter gives every held poll.
 */
export interface AbortLike {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: AbortListener, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: AbortListener): void;
}

/**
 * Fired when the caller of a held REST poll hangs up. It stands in for an `AbortController`: thousands of
 * polls are held at once, and a controller, its signal, the signal's event map and the listener's node
 * cost each of them about a kilobyte and several microseconds to create and wire, all for the single
 * listener a held poll ever has (its `TopicWatch`, one wait at a time).
 */
export class HangUp implements AbortLike {
  #aborted = false;
  #listener: AbortListener | undefined;

  get aborted(): boolean {
    return this.#aborted;
  }

  /** Keeps one listener: a second one at the same time is a programming error, refused loudly. */
  addEventListener(_type: 'abort', listener: AbortListener): void {
    if (this.#listener !== undefined && this.#listener !== listener)
      throw new Error('a HangUp takes one listener at a time');
    if (this.#aborted) return;
    this.#listener = listener;
  }

  removeEventListener(_type: 'abort', listener: AbortListener): void {
    if (this.#listener === listener) this.#listener = undefined;
  }

  /** Fires once: tells the listener (and forgets it); later calls do nothing. */
  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    const listener = this.#listener;
    this.#listener = undefined;
    listener?.handleEvent();
  }
}
