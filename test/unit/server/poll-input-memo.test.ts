import { ValidationError } from '@meshpress/client';
import { describe, expect, it } from 'vitest';
import { parsePollInput } from '../../../server/src/core/poll-input.js';
import {
  POLL_INPUT_MEMO_ENTRIES,
  POLL_INPUT_MEMO_MAX_TEXT,
  PollInputMemo,
} from '../../../server/src/core/poll-input-memo.js';

const body = (node: string, currentVersion = 3, waitMs?: number) =>
  JSON.stringify({
    identity: { app: 'payments', region: 'eu-west-1', node },
    topics: [{ topic: 'mesh.payments.routes', currentVersion }, { topic: 'mesh.payments.policy' }],
    waitMs,
  });

/** A JSON parser that counts its calls: the memo's whole point is not calling it again. */
function countingParser() {
  const parser = (text: string): unknown => {
    parser.calls++;
    return JSON.parse(text);
  };
  parser.calls = 0;
  return parser;
}

describe('PollInputMemo', () => {
  it('parses and validates a body once; the same text again gets the same input without parsing', () => {
    const memo = new PollInputMemo();
    const parse = countingParser();
    const first = memo.parse(body('n-1'), parse);
    const again = memo.parse(body('n-1'), parse);
    expect(again).toBe(first);
    expect(parse.calls).toBe(1);
    expect(first).toEqual({
      identity: { app: 'payments', region: 'eu-west-1', node: 'n-1' },
      topics: [{ topic: 'mesh.payments.routes', currentVersion: 3 }, { topic: 'mesh.payments.policy' }],
      waitMs: 0,
      // Marked as coming back: the service keeps its evaluation while nothing changes.
      repeats: true,
    });
    // A different node or version is different text: parsed on its own.
    expect(memo.parse(body('n-1', 4), parse).topics[0]?.currentVersion).toBe(4);
    expect(memo.parse(body('n-2'), parse).identity.node).toBe('n-2');
    expect(parse.calls).toBe(3);
  });

  it('keeps no long-poll: its body is parsed and validated each time, and flushes nothing', () => {
    const memo = new PollInputMemo();
    const parse = countingParser();
    memo.parse(body('n-1'), parse);
    const held = memo.parse(body('n-2', 3, 30_000), parse);
    expect(held.waitMs).toBe(30_000);
    expect(held.repeats ?? false).toBe(false);
    expect(memo.parse(body('n-2', 3, 30_000), parse)).not.toBe(held);
    expect(parse.calls).toBe(3);
    expect(memo.size).toBe(1);
    expect(() => memo.parse(body('n-3', 3, -1), parse)).toThrow(ValidationError);
  });

  it('hands out inputs nobody can change: every poll with that text shares them', () => {
    const memo = new PollInputMemo();
    const input = memo.parse(body('n-1'), JSON.parse);
    expect(Object.isFrozen(input)).toBe(true);
    expect(Object.isFrozen(input.identity)).toBe(true);
    expect(Object.isFrozen(input.topics)).toBe(true);
    expect(input.topics.every((t) => Object.isFrozen(t))).toBe(true);
    // What the service receives is taken as validated, not checked (or copied) again.
    expect(parsePollInput(input)).toBe(input);
  });

  it('keeps no failure: an invalid body throws the validation error every time it is sent', () => {
    const memo = new PollInputMemo();
    const parse = countingParser();
    const bad = JSON.stringify({ identity: { app: 'Bad App' }, topics: [{ topic: 'mesh.routes' }] });
    for (let i = 0; i < 2; i++) {
      const failure = (() => {
        try {
          memo.parse(bad, parse);
        } catch (err) {
          return err;
        }
      })();
      expect(failure).toBeInstanceOf(ValidationError);
      expect((failure as ValidationError).issues.map((i) => i.path)).toEqual(['identity.app']);
    }
    expect(parse.calls).toBe(2);
    expect(memo.size).toBe(0);
  });

  it('keeps no body that the JSON parser refuses', () => {
    const memo = new PollInputMemo();
    const refuse = () => {
      throw new SyntaxError('refused');
    };
    expect(() => memo.parse('{"identity":', refuse)).toThrow('refused');
    expect(memo.size).toBe(0);
  });

  it('stays bounded: long bodies are not kept, and a full memo starts over', () => {
    const memo = new PollInputMemo();
    const long = JSON.stringify({
      identity: { app: 'payments' },
      topics: Array.from({ length: 200 }, (_, i) => ({ topic: `mesh.payments.topic-${i}` })),
    });
    expect(long.length).toBeGreaterThan(POLL_INPUT_MEMO_MAX_TEXT);
    expect(memo.parse(long, JSON.parse).topics).toHaveLength(200);
    expect(memo.size).toBe(0);

    for (let i = 0; i < POLL_INPUT_MEMO_ENTRIES; i++) memo.parse(body(`n-${i}`), JSON.parse);
    expect(memo.size).toBe(POLL_INPUT_MEMO_ENTRIES);
    const parse = countingParser();
    expect(memo.parse(body('one-more'), parse).identity.node).toBe('one-more');
    expect(memo.size).toBe(1);
    expect(memo.parse(body('n-0'), parse).identity.node).toBe('n-0');
    expect(parse.calls).toBe(2);
  });
});
