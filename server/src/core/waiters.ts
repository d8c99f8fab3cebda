/**
 * Held long-polls, indexed by topic so that a change wakes only the polls that asked about it.
 * A waiter is woken once and removed from every topic it was registered under.
 */
export class WaiterRegistry {
  readonly #byTopic = new Map<string, Set<Waiter>>();
  #count = 0;

  get size(): number {
    return this.#count;
  }

  /** Registers `wake` under each topic; returns the function that unregisters it. */
  add(topics: readonly string[], wake: () => void): () => void {
    const waiter: Waiter = { topics, wake, done: false };
    for (const topic of topics) {
      let set = this.#byTopic.get(topic);
      if (!set) this.#byTopic.set(topic, (set = new Set()));
      set.add(waiter);
    }
    this.#count++;
    return () => this.#remove(waiter);
  }

  /** Wakes every waiter registered under `topic`. */
  wake(topic: string): void {
    const set = this.#byTopic.get(topic);
    if (!set) return;
    for (const waiter of [...set]) {
      this.#remove(waiter);
      waiter.wake();
    }
  }

  /** Wakes every waiter (shutdown). */
  wakeAll(): void {
    for (const topic of [...this.#byTopic.keys()]) this.wake(topic);
  }

  #remove(waiter: Waiter): void {
    if (waiter.done) return;
    waiter.done = true;
    this.#count--;
    for (const topic of waiter.topics) {
      const set = this.#byTopic.get(topic);
      if (!set) continue;
      set.delete(waiter);
      if (set.size === 0) this.#byTopic.delete(topic);
    }
  }
}

interface Waiter {
  readonly topics: readonly string[];
  readonly wake: () => void;
  done: boolean;
}
