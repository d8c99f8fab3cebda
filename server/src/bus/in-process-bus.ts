import type { ChangeBus, ChangeEvent, ChangeListener } from './change-bus.js';

/** The embedded default: delivers change events to listeners in the same process, asynchronously. */
export class InProcessChangeBus implements ChangeBus {
  readonly #listeners = new Set<ChangeListener>();
  #closed = false;

  async publish(event: ChangeEvent): Promise<void> {
    if (this.#closed) return;
    for (const listener of [...this.#listeners]) queueMicrotask(() => listener(event));
  }

  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
  }
}
