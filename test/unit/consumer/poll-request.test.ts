import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pollRequestJson } from '../../../client/src/consumer/poll-request.js';

const signal = new AbortController().signal;

describe('pollRequestJson', () => {
  it('is the JSON of { identity, topics, waitMs }, byte for byte', () => {
    const request = {
      identity: { app: 'checkout', region: 'eu-west-1', node: 'n1' },
      topics: [{ topic: 'a.routes', currentVersion: 3 }, { topic: 'b.routes' }],
      waitMs: 30_000,
      signal,
    };
    expect(pollRequestJson(request)).toBe(
      '{"identity":{"app":"checkout","region":"eu-west-1","node":"n1"},"topics":[{"topic":"a.routes","currentVersion":3},{"topic":"b.routes"}],"waitMs":30000}',
    );
    expect(pollRequestJson({ identity: {}, topics: [], signal })).toBe('{"identity":{},"topics":[]}');
  });

  it('matches JSON.stringify for any identity, topics and wait', () => {
    const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
    fc.assert(
      fc.property(
        fc.record({
          app: optional(fc.string()),
          cluster: optional(fc.string()),
          region: optional(fc.string()),
          node: optional(fc.string()),
        }),
        fc.array(fc.record({ topic: fc.string(), currentVersion: optional(fc.integer()) })),
        optional(fc.integer({ min: 0 })),
        (identity, topics, waitMs) => {
          const expected = JSON.stringify({
            identity,
            topics: topics.map((t) =>
              t.currentVersion === undefined
                ? { topic: t.topic }
                : { topic: t.topic, currentVersion: t.currentVersion },
            ),
            ...(waitMs === undefined ? {} : { waitMs }),
          });
          expect(pollRequestJson({ identity, topics, waitMs, signal })).toBe(expected);
        },
      ),
    );
  });
});
