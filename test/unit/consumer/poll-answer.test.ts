import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { readPollAnswer } from '../../../client/src/consumer/poll-answer.js';
import { fromPollUpdateView, pollUpdateView, toPollUpdateView } from '../../../client/src/wire/rest-views.js';
import { record } from './support.js';

/** What the transport falls back to, and what defines a valid answer: the zod schema. */
const pollResponse = z.object({ updates: z.array(pollUpdateView) });
const bySchema = (json: unknown) => {
  const parsed = pollResponse.safeParse(json);
  return parsed.success ? parsed.data.updates.map(fromPollUpdateView) : undefined;
};

/** An answer as the server sends it, through JSON. */
const answerJson = (...updates: { pinned?: boolean; rec: ReturnType<typeof record> }[]) =>
  JSON.parse(
    JSON.stringify({
      updates: updates.map(({ rec, pinned = false }) =>
        toPollUpdateView({ topic: rec.topic, version: rec.version, pinned, record: rec }),
      ),
    }),
  ) as { updates: Record<string, unknown>[] };

describe('readPollAnswer', () => {
  it('reads inline answers into the same updates as the schema path', () => {
    const json = answerJson(
      { rec: record('a.routes', 3, '{"routes":[]}', { scopes: ['*', 'region=eu-west-1'] }) },
      { rec: record('b.routes', 7, 'b7', { committed: false }), pinned: true },
    );
    const fast = readPollAnswer(json);
    expect(fast).toBeDefined();
    expect(fast).toEqual(bySchema(json));
    expect(
      Buffer.from(fast![0]!.record.pointer.kind === 'direct' ? fast![0]!.record.pointer.data : []).toString(),
    ).toBe('{"routes":[]}');
    expect(readPollAnswer({ updates: [] })).toEqual([]);
  });

  it('leaves other pointer kinds, odd metadata keys and broken answers to the schema', () => {
    const json = answerJson({ rec: record('a.routes', 3, 'a3') });
    const withPointer = (pointer: unknown) => ({
      updates: [{ ...json.updates[0], record: { ...(json.updates[0]!.record as object), pointer } }],
    });
    const s3 = withPointer({ kind: 's3', locations: [{ region: 'r', bucket: 'b', key: 'k' }] });
    expect(readPollAnswer(s3)).toBeUndefined();
    expect(bySchema(s3)).toBeDefined();
    expect(readPollAnswer(withPointer({ kind: 'local', key: 'k' }))).toBeUndefined();

    const proto = JSON.parse(JSON.stringify(json).replace('"metadata":{}', '"metadata":{"__proto__":"x"}'));
    expect(readPollAnswer(proto)).toBeUndefined();
    expect(bySchema(proto)![0]!.record.metadata).toEqual({});

    for (const broken of [null, [], 'x', { updates: {} }, { updates: [null] }, { updates: [{ topic: 'a' }] }])
      expect(readPollAnswer(broken)).toBeUndefined();
  });

  it('accepts only what the schema accepts, and then reads the same', () => {
    const base = answerJson({ rec: record('a.routes', 3, 'payload', { scopes: ['*'] }) }).updates[0]!;
    const baseRecord = base.record as Record<string, unknown>;
    const anyValue = fc.oneof(
      fc.constant(undefined),
      fc.constant(null),
      fc.boolean(),
      fc.integer(),
      fc.double(),
      fc.string(),
      fc.constant([]),
      fc.constant({}),
    );
    const field = <T>(valid: T) => fc.oneof({ weight: 12, arbitrary: fc.constant(valid) }, anyValue);
    const recordArb = fc.record({
      topic: field(baseRecord.topic),
      version: field(baseRecord.version),
      metadata: fc.oneof(
        { weight: 12, arbitrary: fc.dictionary(fc.string(), fc.string()) },
        fc.dictionary(fc.string(), anyValue),
        anyValue,
      ),
      pointer: fc.oneof(
        { weight: 12, arbitrary: fc.constant(baseRecord.pointer) },
        fc.record({ kind: field('direct'), data: anyValue }),
        anyValue,
      ),
      size: field(baseRecord.size),
      sha256: field(baseRecord.sha256),
      contentType: field(baseRecord.contentType),
      publisher: field(baseRecord.publisher),
      createdAt: field(baseRecord.createdAt),
      committedAt: field(baseRecord.committedAt),
      scopes: fc.oneof(
        {
          weight: 12,
          arbitrary: fc.array(fc.record({ scope: field('*'), addedAt: field('2026-01-01T00:00:00.000Z') })),
        },
        anyValue,
      ),
    });
    const updateArb = fc.record({
      topic: field(base.topic),
      version: field(base.version),
      pinned: field(base.pinned),
      record: fc.oneof({ weight: 12, arbitrary: recordArb }, anyValue),
    });
    let readDirectly = 0;
    fc.assert(
      fc.property(fc.array(updateArb, { minLength: 1, maxLength: 2 }), (updates) => {
        // Through JSON, as answers arrive (undefined fields vanish).
        const json: unknown = JSON.parse(JSON.stringify({ updates }));
        const fast = readPollAnswer(json);
        if (fast === undefined) return;
        readDirectly++;
        expect(fast).toEqual(bySchema(json));
      }),
      { numRuns: 3_000 },
    );
    expect(readDirectly, 'the property reached the direct reader').toBeGreaterThan(100);
  });
});
