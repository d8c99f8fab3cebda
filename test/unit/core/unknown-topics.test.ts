import { sha256Hex } from '@meshpress/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { caller, serviceHarness } from '../../support/service-harness.js';

/**
 * Polls may name up to 1,000 topics each, and nothing stops a client from naming topics that do not exist.
 * Those must cost the store nothing and the server no memory, while a topic created later still reaches
 * the polls waiting for it within one refresh interval.
 */

const REFRESH_MS = 5_000;
type Harness = Awaited<ReturnType<typeof serviceHarness>>;
let h: Harness;
let snapshotLoads: string[];

beforeEach(async () => {
  h = await serviceHarness({ refreshIntervalMs: REFRESH_MS });
  snapshotLoads = [];
  const load = h.store.loadTopicSnapshot.bind(h.store);
  h.store.loadTopicSnapshot = (topic: string) => {
    snapshotLoads.push(topic);
    return load(topic);
  };
});
afterEach(async () => {
  await h.close();
});

/** Lets pending promise chains run (the in-memory store answers within the current macrotask). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A publish written by another instance whose change notification never arrives. */
async function publishBehind(topic: string): Promise<number> {
  await h.store.putTopic({ name: topic, retention: {} }, h.clock.now());
  const version = await h.store.allocateVersion(topic);
  const data = new TextEncoder().encode('routes');
  await h.store.writeVersion({
    topic,
    version,
    metadata: {},
    pointer: { kind: 'direct', data },
    size: data.length,
    sha256: sha256Hex(data),
    contentType: 'text/plain',
    publisher: 'elsewhere',
    createdAt: h.clock.now(),
  });
  await h.store.addScopes(topic, version, ['*'], h.clock.now());
  await h.store.commitVersion(topic, version, h.clock.now());
  return version;
}

describe('polls naming topics that do not exist', () => {
  it('never reach the store, however many distinct names they use', async () => {
    for (let round = 0; round < 5; round++) {
      const topics = Array.from({ length: 1_000 }, (_, i) => ({ topic: `junk-${round}-${i}` }));
      expect(await h.service.poll(caller, { identity: { app: 'x' }, topics })).toEqual([]);
    }
    expect(snapshotLoads).toEqual([]);
  });

  it('wake a long-poll waiting for a topic once the refresh after its creation lists it', async () => {
    const name = 'mesh.prod.created-later.routes';
    let answer: { version: number }[] | undefined;
    const pending = h.service
      .poll(caller, { identity: { app: 'web' }, topics: [{ topic: name }], waitMs: 60_000 })
      .then((updates) => (answer = updates));
    await settle();
    const version = await publishBehind(name);

    await h.clock.advanceAsync(REFRESH_MS - 1);
    await settle();
    expect(answer).toBeUndefined();
    await h.clock.advanceAsync(1);
    await pending;

    expect(answer?.map((u) => u.version)).toEqual([version]);
    expect(snapshotLoads).toEqual([name]);
  });
});
