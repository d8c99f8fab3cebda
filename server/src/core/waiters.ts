/** What the registry holds: the topics a held poll waits on, and how to wake it. */
export interface Waiter {
  readonly topics: readonly string[];
  /** Called once, after the waiter has been removed from every topic. */
  wake(): void;
  /** Kept by the registry: whether the waiter is registered. */
  registered: boolean;
}

/**
 * Held long-polls, indexed by topic so that a change wakes only the polls that asked about it.
 * A waiter is woken once and removed from every topic it was registered under.
 */
export class WaiterRegistry {
  readonly #byTopic = new Map<string, Set<Waiter>>();
  /**
   * Waiters on no topic (a long-poll may name none): no change wakes them, but shutdown must (wakeAll).
   * Kept apart so that ordinary waiters cost no extra entry.
   */
  readonly #withoutTopics = new Set<Waiter>();
  #count = 0;

  get size(): number {
    return this.#count;
  }

  /** Registers `waiter` under each of its topics. */
  add(waiter: Waiter): void {
    if (waiter.registered) return;
    waiter.registered = true;
    this.#count++;
    if (waiter.topics.length === 0) this.#withoutTopics.add(waiter);
    for (const topic of waiter.topics) {
      let set = this.#byTopic.get(topic);
      if (!set) this.#byTopic.set(topic, (set = new Set()));
      set.add(waiter);
    }
  }

  /** Unregisters `waiter` without waking it (idempotent). */
  remove(waiter: Waiter): void {
    if (!waiter.registered) return;
    waiter.registered = false;
    this.#count--;
    if (waiter.topics.length === 0) this.#withoutTopics.delete(waiter);
    for (const topic of waiter.topics) {
      const set = this.#byTopic.get(topic);
      if (!set) continue;
      set.delete(waiter);
      if (set.size === 0) this.#byTopic.delete(topic);
    }
  }

  /** Wakes every waiter registered under `topic`. */
  wake(topic: string): void {
    const set = this.#byTopic.get(topic);
    if (!set) return;
    for (const waiter of [...set]) {
      this.remove(waiter);
      waiter.wake();
    }
  }

  /** Wakes every waiter (shutdown), whatever topics it names. */
  wakeAll(): void {
    for (const topic of [...this.#byTopic.keys()]) this.wake(topic);
    for (const waiter of [...this.#withoutTopics]) {
      this.remove(waiter);
      waiter.wake();
    }
  }
}
