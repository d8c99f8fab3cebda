import {
  IDENTITY_KEYS,
  IDENTITY_VALUE_PATTERN,
  type Identity,
  parseOrThrow,
  TOPIC_NAME_PATTERN,
} from '@meshpress/client';
import { MAX_POLL_TOPICS, MAX_WAIT_MS, pollInputSchema } from './inputs.js';

export interface ParsedPollInput {
  readonly identity: Identity;
  readonly topics: readonly { readonly topic: string; readonly currentVersion?: number }[];
  readonly waitMs: number;
  /**
   * True on inputs that later polls hand in again, the very same object (`PollInputMemo`): what the
   * service derives from one is then worth keeping for the next.
   */
  readonly repeats?: boolean;
}

const IDENTITY_KEY_SET: ReadonlySet<string> = new Set(IDENTITY_KEYS);
/** Above this many topics a Set finds duplicates faster than comparing pairs. */
const PAIRWISE_DUPLICATE_CHECK_MAX = 16;

/**
 * Validates a poll request. `pollInputSchema` (zod) is the definition and produces every error, with
 * the path of each bad field; polls are the hot path, though, and a zod parse of a typical 7-topic body
 * cost more than the rest of the poll together. So a well-formed body is first checked by hand against
 * the same rules and the same patterns, and only a body that fails that check (or is shaped unusually:
 * explicit `undefined`s, non-plain objects) goes through zod. A property test holds the two to the same
 * answers (test/unit/server/poll-input.property.test.ts).
 */
export function parsePollInput(raw: unknown): ParsedPollInput {
  if (raw instanceof ValidatedPoll) return raw;
  const { identity, topics, waitMs } =
    wellFormedPoll(raw) ?? parseOrThrow(pollInputSchema, raw, 'poll request');
  return new ValidatedPoll(identity, topics, waitMs);
}

/**
 * A poll request that passed `parsePollInput`, which alone makes these: handed back to it (say, from
 * `PollInputMemo`), it is not checked again. Raw JSON cannot produce one.
 */
class ValidatedPoll implements ParsedPollInput {
  constructor(
    readonly identity: Identity,
    readonly topics: ParsedPollInput['topics'],
    readonly waitMs: number,
    readonly repeats = false,
  ) {}
}

/** A validated input to hand out again and again: deep-frozen, since every holder shares it. */
export function repeatingPollInput(input: ParsedPollInput): ParsedPollInput {
  Object.freeze(input.identity);
  for (const topic of input.topics) Object.freeze(topic);
  return Object.freeze(new ValidatedPoll(input.identity, Object.freeze(input.topics), input.waitMs, true));
}

/** Whether a (not yet validated) poll body asks to be held: its duration then says nothing about load. */
export function asksToWait(body: unknown): boolean {
  const waitMs = (body as { waitMs?: unknown } | null | undefined)?.waitMs;
  return typeof waitMs === 'number' && waitMs > 0;
}

/** The parsed poll when `raw` is certainly valid, else undefined (which proves nothing either way). */
export function wellFormedPoll(raw: unknown): ParsedPollInput | undefined {
  if (!isPlainObject(raw)) return undefined;
  let identity: Identity | undefined;
  let topics: ParsedPollInput['topics'] | undefined;
  let waitMs = 0;
  for (const key in raw) {
    const value = raw[key];
    if (key === 'identity') identity = wellFormedIdentity(value);
    else if (key === 'topics') topics = wellFormedTopics(value);
    else if (key === 'waitMs') {
      if (!Number.isSafeInteger(value) || (value as number) < 0 || (value as number) > MAX_WAIT_MS)
        return undefined;
      waitMs = value as number;
    } else return undefined;
  }
  if (!identity || !topics) return undefined;
  return { identity, topics, waitMs };
}

function wellFormedIdentity(raw: unknown): Identity | undefined {
  if (!isPlainObject(raw)) return undefined;
  const identity: Record<string, string> = {};
  for (const key in raw) {
    const value = raw[key];
    if (!IDENTITY_KEY_SET.has(key) || typeof value !== 'string' || !IDENTITY_VALUE_PATTERN.test(value))
      return undefined;
    identity[key] = value;
  }
  return identity;
}

function wellFormedTopics(raw: unknown): ParsedPollInput['topics'] | undefined {
  if (!Array.isArray(raw) || raw.length > MAX_POLL_TOPICS) return undefined;
  const topics: { topic: string; currentVersion?: number }[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const entry: unknown = raw[i];
    if (!isPlainObject(entry)) return undefined;
    let topic: string | undefined;
    let currentVersion: number | undefined;
    for (const key in entry) {
      const value = entry[key];
      if (key === 'topic') {
        if (typeof value !== 'string' || !TOPIC_NAME_PATTERN.test(value)) return undefined;
        topic = value;
      } else if (key === 'currentVersion') {
        if (!Number.isSafeInteger(value) || (value as number) < 1) return undefined;
        currentVersion = value as number;
      } else return undefined;
    }
    if (topic === undefined) return undefined;
    topics[i] = currentVersion === undefined ? { topic } : { topic, currentVersion };
  }
  return hasDuplicateTopic(topics) ? undefined : topics;
}

function hasDuplicateTopic(topics: readonly { topic: string }[]): boolean {
  if (topics.length > PAIRWISE_DUPLICATE_CHECK_MAX)
    return new Set(topics.map((t) => t.topic)).size !== topics.length;
  for (let i = 1; i < topics.length; i++)
    for (let j = 0; j < i; j++) if (topics[i]!.topic === topics[j]!.topic) return true;
  return false;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}
