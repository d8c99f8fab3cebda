import { describe, expect, it } from 'vitest';
import { updateFinder } from '../../../client/src/consumer/update-finder.js';
import { record } from './support.js';

const update = (topic: string, version: number) => ({
  topic,
  version,
  pinned: false,
  record: record(topic, version, 'x'),
});

describe('updateFinder', () => {
  it('finds each topic, the last one when an answer names a topic twice, whatever the answer size', () => {
    for (const extra of [0, 20]) {
      const updates = [
        update('a', 1),
        update('b', 2),
        update('a', 3),
        ...Array.from({ length: extra }, (_, i) => update(`t${i}`, i)),
      ];
      const find = updateFinder(updates);
      expect(find('a')?.version).toBe(3);
      expect(find('b')?.version).toBe(2);
      expect(find('c')).toBeUndefined();
      if (extra) expect(find('t7')?.version).toBe(7);
    }
    expect(updateFinder([])('a')).toBeUndefined();
  });
});
