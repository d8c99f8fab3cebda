import { MAX_HEADER_REGEX_LENGTH } from './defaults.js';
import { compileDfa, RegexTooComplexError } from './safe-regex-dfa.js';
import { parseSafeRegex, RegexSyntaxError } from './safe-regex-parse.js';
import { unsafeShape } from './safe-regex-shape.js';

/** A header regex compiled to a DFA: linear-time, allocation-free `test`. */
export interface HeaderRegex {
  readonly source: string;
  test(value: string): boolean;
}

/**
 * Compiled regexes are immutable, so they are shared across compiles: a new version of a document
 * usually repeats the previous one's patterns, and one document often repeats a pattern across routes.
 * Bounded in entries and in table size, so the cache holds at most a few megabytes.
 */
const cache = new Map<string, HeaderRegex | string>();
const CACHE_LIMIT = 256;
const MAX_CACHED_CELLS = 4096;
const cellsOf = new WeakMap<HeaderRegex, number>();

/**
 * Compiles a header regex or returns why it is refused. Refused: patterns over the length cap, syntax
 * outside the RE2-compatible subset, the shapes `unsafeShape` names (nested repetition such as `(a+)+`
 * or `(a?)+`, repeated alternatives that can start alike, long runs of quantifiers over shared
 * characters), and patterns whose automaton exceeds the state budget. The shape rules
 * keep documents safe for backtracking engines elsewhere (tools, other data planes) even though
 * meshpress itself matches with a DFA.
 */
export function compileHeaderRegex(source: string): HeaderRegex | string {
  const cached = cache.get(source);
  if (cached !== undefined) return cached;
  const result = compileUncached(source);
  const cells = typeof result === 'string' ? 0 : (cellsOf.get(result) ?? 0);
  if (cells <= MAX_CACHED_CELLS) {
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(source, result);
  }
  return result;
}

function compileUncached(source: string): HeaderRegex | string {
  if (source.length > MAX_HEADER_REGEX_LENGTH)
    return `regex is longer than ${MAX_HEADER_REGEX_LENGTH} characters`;
  try {
    new RegExp(source, 'u');
  } catch (error) {
    return `regex does not compile: ${(error as Error).message}`;
  }
  try {
    const parsed = parseSafeRegex(source);
    const shape = unsafeShape(parsed.node);
    if (shape) return shape;
    const dfa = compileDfa(parsed);
    const regex: HeaderRegex = Object.freeze({ source, test: dfa.test });
    cellsOf.set(regex, dfa.stateCount * dfa.classCount);
    return regex;
  } catch (error) {
    if (error instanceof RegexSyntaxError || error instanceof RegexTooComplexError) return error.message;
    throw error;
  }
}
