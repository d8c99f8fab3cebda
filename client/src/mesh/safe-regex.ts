import { MAX_HEADER_REGEX_LENGTH } from './defaults.js';
import { compileDfa, RegexTooComplexError } from './safe-regex-dfa.js';
import { type CharRanges, parseSafeRegex, type RegexNode, RegexSyntaxError } from './safe-regex-parse.js';

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
 * outside the RE2-compatible subset, nested repetition (`(a+)+`), repeated alternatives that can
 * start alike (`(a|ab)*`), and patterns whose automaton exceeds the state budget. The shape rules
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

const repeats = (node: RegexNode): boolean => node.t === 'rep' && node.max > 1;
/** `x{3}` inside a repetition is just a fixed-length sequence; only a variable count is ambiguous. */
const repeatsVariably = (node: RegexNode): boolean =>
  repeats(node) && node.t === 'rep' && node.min !== node.max;

function unsafeShape(node: RegexNode, insideRepeat = false): string | undefined {
  switch (node.t) {
    case 'set':
      return undefined;
    case 'seq':
      for (const item of node.items) {
        const found = unsafeShape(item, insideRepeat);
        if (found) return found;
      }
      return undefined;
    case 'alt':
      if (insideRepeat) {
        const overlap = overlappingAlternatives(node.alts);
        if (overlap) return overlap;
      }
      for (const alt of node.alts) {
        const found = unsafeShape(alt, insideRepeat);
        if (found) return found;
      }
      return undefined;
    case 'rep':
      if (insideRepeat && repeatsVariably(node))
        return 'nested quantifiers (a repeated group containing a repetition, e.g. (a+)+) are not allowed';
      return unsafeShape(node.child, insideRepeat || repeats(node));
  }
}

function overlappingAlternatives(alts: readonly RegexNode[]): string | undefined {
  const firsts = alts.map(firstChars);
  for (let i = 0; i < alts.length; i++) {
    if (nullable(alts[i]!)) return 'a repeated alternation may not have an empty alternative';
    for (let j = i + 1; j < alts.length; j++) {
      if (rangesOverlap(firsts[i]!, firsts[j]!))
        return 'alternatives inside a repetition must start with different characters (e.g. not (a|ab)*)';
    }
  }
  return undefined;
}

function nullable(node: RegexNode): boolean {
  switch (node.t) {
    case 'set':
      return false;
    case 'seq':
      return node.items.every(nullable);
    case 'alt':
      return node.alts.some(nullable);
    case 'rep':
      return node.min === 0 || nullable(node.child);
  }
}

/** The characters a match of `node` can start with, as unmerged ranges. */
function firstChars(node: RegexNode): number[] {
  switch (node.t) {
    case 'set':
      return [...node.ranges];
    case 'seq': {
      const out: number[] = [];
      for (const item of node.items) {
        out.push(...firstChars(item));
        if (!nullable(item)) break;
      }
      return out;
    }
    case 'alt':
      return node.alts.flatMap(firstChars);
    case 'rep':
      return firstChars(node.child);
  }
}

function rangesOverlap(a: CharRanges, b: CharRanges): boolean {
  for (let i = 0; i < a.length; i += 2)
    for (let j = 0; j < b.length; j += 2) if (a[i]! <= b[j + 1]! && b[j]! <= a[i + 1]!) return true;
  return false;
}
