/**
 * The slot one admitted request holds. Call exactly one method when the request ends; later calls are
 * ignored, so a transport may report both "finished" and "closed" without counting twice.
 */
export interface Listener {
  /**
   * The request completed. Its round-trip time is a latency sample, unless `held`: a long-poll that was
   * held on purpose frees its slot and counts as a completion, but its duration says nothing about load.
   */
  onSuccess(options?: { readonly held?: boolean }): void;
  /** The request failed in a way that signals overload (a 5xx, a timeout): the app's limit backs off. */
  onDropped(): void;
  /** The slot is freed and nothing is learnt: the caller went away, or the request never ran. */
  onIgnore(): void;
}

export type Outcome = 'success' | 'held' | 'dropped' | 'ignored';

/** Forwards the first outcome only. */
export class OnceListener implements Listener {
  #release: ((outcome: Outcome) => void) | undefined;

  constructor(release: (outcome: Outcome) => void) {
    this.#release = release;
  }

  onSuccess(options?: { readonly held?: boolean }): void {
    this.#end(options?.held ? 'held' : 'success');
  }

  onDropped(): void {
    this.#end('dropped');
  }

  onIgnore(): void {
    this.#end('ignored');
  }

  #end(outcome: Outcome): void {
    const release = this.#release;
    this.#release = undefined;
    release?.(outcome);
  }
}
