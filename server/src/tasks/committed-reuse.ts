import type { VersionRecord } from '@meshpress/client';
import type { ConfigStore, TopicSnapshotData } from '../store/config-store.js';

export interface CommittedReuse {
  /** The store to load the topic through: it is what notes which versions are still committed. */
  readonly store: ConfigStore;
  /** Previous records of the topic, limited to versions the snapshot just read lists as committed. */
  readonly known: ReadonlyMap<number, VersionRecord>;
}

/**
 * Prepares one topic's load (loadTopicView) so that a record from the previous build is reused only while
 * its version is still committed. The snapshot lists the publishes of committed versions only; a version
 * missing from it (purged by the janitor while a pin still names it) is read from the store again, found
 * gone and left out, as an instance loading the topic fresh would. Reusing it would keep a purged version
 * in the fallback cache, as a pinned rollback, for as long as the writer runs.
 *
 * The load reads the snapshot before it looks at any known record (it learns the versions from it), so
 * the map is filled by then.
 */
export function reuseWhileCommitted(
  store: ConfigStore,
  previous: ReadonlyMap<number, VersionRecord> | undefined,
): CommittedReuse {
  const known = new Map<number, VersionRecord>();
  if (!previous || previous.size === 0) return { store, known };
  const loadTopicSnapshot = async (topic: string): Promise<TopicSnapshotData | undefined> => {
    const data = await store.loadTopicSnapshot(topic);
    known.clear();
    for (const { version } of data?.publishes ?? []) {
      const record = previous.get(version);
      if (record) known.set(version, record);
    }
    return data;
  };
  const noting = new Proxy(store, {
    get(target, property) {
      if (property === 'loadTopicSnapshot') return loadTopicSnapshot;
      const value: unknown = Reflect.get(target, property, target);
      // Bound: the stores keep their state in private fields, which a call through the proxy cannot reach.
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store: noting, known };
}
