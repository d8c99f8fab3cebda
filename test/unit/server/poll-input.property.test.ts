import { ValidationError } from '@meshpress/client';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_POLL_TOPICS, pollInputSchema } from '../../../server/src/core/inputs.js';
import { parsePollInput, wellFormedPoll } from '../../../server/src/core/poll-input.js';

/*
 * The poll's hand-written check must never accept what zod (the definition) rejects, and must give zod's
 * result when it accepts. Inputs are built near the boundary: valid pieces mixed with the invalid values
 * and shapes a confused or hostile client sends.
 */

/** Mostly `valid`, sometimes `invalid`: each part of a poll is usually right, so whole polls often are. */
const mostly = <T>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<unknown>) =>
  fc.oneof({ arbitrary: valid as fc.Arbitrary<unknown>, weight: 20 }, { arbitrary: invalid, weight: 1 });

const oddValueArb = fc.constantFrom<unknown>(
  undefined,
  null,
  0,
  -1,
  1.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.MAX_SAFE_INTEGER + 1,
  '3',
  true,
  [],
  {},
  Object.create(null),
);
const topicNameArb = mostly(
  fc.oneof(
    fc.constantFrom('mesh.routes', 'x'.repeat(200), '0_a-b.c'),
    fc.stringMatching(/^[a-z0-9][a-z0-9._-]{3,30}$/),
  ),
  fc.oneof(
    fc.constantFrom('', 'Upper', '-lead', 'x'.repeat(201), 'sp ace', 'ünï', '.dot', 'a\n'),
    fc.string({ maxLength: 12 }),
    oddValueArb,
  ),
);
const identityValueArb = mostly(
  fc.constantFrom('eu-west-1', 'svc-001', 'node-7', 'A:b/c.d_e', 'x'.repeat(128)),
  fc.oneof(
    fc.constantFrom('', '-x', 'x'.repeat(129), 'a b', 'ä', 'a\u0000'),
    fc.string({ maxLength: 8 }),
    oddValueArb,
  ),
);
const versionArb = mostly(
  fc.oneof(fc.integer({ min: 1, max: 1_000 }), fc.constant(Number.MAX_SAFE_INTEGER)),
  fc.oneof(fc.integer({ min: -2, max: 0 }), oddValueArb),
);
const waitArb = mostly(
  fc.oneof(fc.integer({ min: 0, max: 120_000 }), fc.constantFrom(0, 120_000)),
  fc.oneof(fc.constantFrom(-1, 120_001), oddValueArb),
);
const identityKeyArb = mostly(
  fc.constantFrom('app', 'cluster', 'region', 'node', 'env'),
  fc.constantFrom('zone', '__proto__', 'constructor', ''),
);
const identityArb = mostly(
  fc.dictionary(identityKeyArb as fc.Arbitrary<string>, identityValueArb, {
    maxKeys: 5,
    noNullPrototype: true,
  }),
  oddValueArb,
);
/** Optional keys, and now and then a key no schema knows. */
const withOptional = <T extends Record<string, fc.Arbitrary<unknown>>>(
  model: T,
  requiredKeys: (keyof T & string)[] = [],
) =>
  fc
    .tuple(fc.record(model, { requiredKeys, noNullPrototype: true }), fc.integer({ min: 0, max: 9 }))
    .map(([o, n]) => (n === 0 ? { ...o, unknownKey: 'x' } : o));
const topicEntryArb = mostly(
  withOptional({ topic: topicNameArb, currentVersion: versionArb }, ['topic']),
  fc.oneof(withOptional({ currentVersion: versionArb }), oddValueArb),
);
const topicsArb = mostly(
  fc.oneof(
    fc.array(topicEntryArb, { maxLength: 5 }),
    // Duplicates of one well-formed topic.
    fc.array(fc.constant({ topic: 'dup', currentVersion: 1 }), { minLength: 2, maxLength: 3 }),
  ),
  oddValueArb,
);
const pollModel = { identity: identityArb, topics: topicsArb, waitMs: waitArb };
const pollArb = mostly(
  withOptional(pollModel, ['identity', 'topics']),
  fc.oneof(withOptional(pollModel), oddValueArb),
);

const validPollArb = fc.record(
  {
    identity: fc.record(
      {
        app: fc.constantFrom('svc-1', 'a'),
        region: fc.constantFrom('eu-west-1', 'us'),
        node: fc.constantFrom('n-1', 'n:2'),
      },
      { requiredKeys: [] },
    ),
    topics: fc.uniqueArray(
      fc.record(
        { topic: fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,20}$/), currentVersion: fc.integer({ min: 1 }) },
        { requiredKeys: ['topic'] },
      ),
      { selector: (t) => t.topic, maxLength: 40 },
    ),
    waitMs: fc.integer({ min: 0, max: 120_000 }),
  },
  { requiredKeys: ['identity', 'topics'] },
);

describe('poll input: hand-written check vs the zod schema', () => {
  it('accepts only what zod accepts, with the same result', () => {
    let accepted = 0;
    fc.assert(
      fc.property(pollArb, (raw) => {
        const fast = wellFormedPoll(raw);
        if (fast === undefined) return;
        accepted++;
        const zod = pollInputSchema.safeParse(raw);
        expect(zod.success).toBe(true);
        expect(fast).toStrictEqual(zod.data);
      }),
      { numRuns: 5_000 },
    );
    // The generator reaches the accepting side often enough for the comparison to mean something.
    expect(accepted).toBeGreaterThan(500);
  });

  it('takes the fast path for every valid JSON poll (so polls do not pay for zod)', () => {
    fc.assert(
      fc.property(validPollArb, (body) => {
        const raw = JSON.parse(JSON.stringify(body));
        expect(pollInputSchema.safeParse(raw).success).toBe(true);
        expect(wellFormedPoll(raw)).toStrictEqual(pollInputSchema.parse(raw));
      }),
      { numRuns: 1_000 },
    );
  });

  it('rejects what zod rejects with zod’s field paths', () => {
    const bad = {
      identity: { app: 'bad app' },
      topics: [{ topic: 'ok' }, { topic: 'ok', currentVersion: 0 }],
      waitMs: 5,
    };
    try {
      parsePollInput(bad);
      expect.unreachable('a bad poll was accepted');
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      const paths = (err as ValidationError).issues.map((i) => i.path);
      expect(paths).toEqual(expect.arrayContaining(['identity.app', 'topics.1.currentVersion']));
    }
  });

  it('rejects a duplicate among more topics than the pairwise check covers', () => {
    const topics = Array.from({ length: 40 }, (_, i) => ({ topic: `t${i}` }));
    topics.push({ topic: 't7' });
    expect(wellFormedPoll({ identity: {}, topics })).toBeUndefined();
    expect(() => parsePollInput({ identity: {}, topics })).toThrow(ValidationError);
  });

  it('rejects more than MAX_POLL_TOPICS topics', () => {
    const topics = Array.from({ length: MAX_POLL_TOPICS + 1 }, (_, i) => ({ topic: `t${i}` }));
    expect(wellFormedPoll({ identity: {}, topics })).toBeUndefined();
    expect(() => parsePollInput({ identity: {}, topics })).toThrow(ValidationError);
  });
});
