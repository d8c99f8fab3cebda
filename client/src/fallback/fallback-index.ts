import type { ResolutionState, VersionRecord } from '../core/model.js';
import type { Identity } from '../core/names.js';
import { resolve } from '../core/resolve.js';
import { scopeFromCanonical, scopeMatches } from '../core/scope.js';
import type { FallbackDocument, FallbackTopic } from './format.js';
import type { FallbackHit } from './types.js';

interface TopicEntry {
  readonly state: ResolutionState;
  readonly records: ReadonlyMap<number, VersionRecord>;
  readonly newestServable: readonly { readonly scope: string; readonly version: number }[];
}

/**
 * A decoded fallback cache arranged for lookups. Answers as the service answers a first poll (no current
 * version): the resolve() target when its record passed the consistency check, else the newest version
 * visible to the identity that did. The client's never-go-backwards rule applies on top, as for any poll.
 */
export class FallbackIndex {
  readonly generatedAt: number;
  readonly #topics: ReadonlyMap<string, TopicEntry>;

  constructor(doc: FallbackDocument) {
    this.generatedAt = doc.generatedAt;
    this.#topics = new Map(doc.topics.map((t) => [t.topic.name, entryOf(t)]));
  }

  get topicCount(): number {
    return this.#topics.size;
  }

  lookup(topic: string, identity: Identity): FallbackHit | undefined {
    const entry = this.#topics.get(topic);
    if (!entry) return undefined;
    const target = resolve(entry.state, identity);
    if (!target) return undefined;
    const record = entry.records.get(target.version);
    if (record) return { version: target.version, pinned: target.pinned, record };
    let best: VersionRecord | undefined;
    for (const { scope, version } of entry.newestServable) {
      if (best && version <= best.version) continue;
      if (scopeMatches(scopeFromCanonical(scope), identity)) best = entry.records.get(version);
    }
    return best ? { version: best.version, pinned: false, record: best } : undefined;
  }
}

function entryOf(topic: FallbackTopic): TopicEntry {
  return {
    state: { pins: topic.pins, publishes: topic.publishes },
    records: new Map(topic.versions.map((v) => [v.version, v])),
    newestServable: topic.newestServable,
  };
}
