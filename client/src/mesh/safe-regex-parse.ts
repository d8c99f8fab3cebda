/**
 * Parser for the header-regex subset meshpress accepts: the part of JavaScript (`u` flag) syntax that RE2
 * (Envoy's engine) also understands and that a DFA can run: literals, escapes, `.`, classes, groups,
 * alternation, bounded and unbounded repetition, and `^` / `$` at the ends of the whole pattern.
 * Backreferences, lookaround, word boundaries and Unicode property escapes are refused.
 */

/** A character set as sorted, merged, inclusive UTF-16 code unit ranges: [lo0, hi0, lo1, hi1, ...]. */
export type CharRanges = readonly number[];

export type RegexNode =
  | { readonly t: 'set'; readonly ranges: CharRanges }
  | { readonly t: 'seq'; readonly items: readonly RegexNode[] }
  | { readonly t: 'alt'; readonly alts: readonly RegexNode[] }
  | { readonly t: 'rep'; readonly child: RegexNode; readonly min: number; readonly max: number };

export interface ParsedRegex {
  readonly node: RegexNode;
  readonly anchoredStart: boolean;
  readonly anchoredEnd: boolean;
}

export const MAX_REGEX_REPEAT = 100;
const MAX_UNIT = 0xffff;

export class RegexSyntaxError extends Error {}

export function normalizeRanges(ranges: readonly number[]): number[] {
  const pairs: [number, number][] = [];
  for (let i = 0; i < ranges.length; i += 2) pairs.push([ranges[i]!, ranges[i + 1]!]);
  pairs.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [lo, hi] of pairs) {
    const last = out.length - 1;
    if (last > 0 && lo <= out[last]! + 1) out[last] = Math.max(out[last]!, hi);
    else out.push(lo, hi);
  }
  return out;
}

export function negateRanges(ranges: CharRanges): number[] {
  const out: number[] = [];
  let next = 0;
  for (let i = 0; i < ranges.length; i += 2) {
    if (ranges[i]! > next) out.push(next, ranges[i]! - 1);
    next = ranges[i + 1]! + 1;
  }
  if (next <= MAX_UNIT) out.push(next, MAX_UNIT);
  return out;
}

const DIGIT: CharRanges = [0x30, 0x39];
const WORD: CharRanges = normalizeRanges([0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a]);
const SPACE: CharRanges = normalizeRanges([
  0x09, 0x0d, 0x20, 0x20, 0xa0, 0xa0, 0x1680, 0x1680, 0x2000, 0x200a, 0x2028, 0x2029, 0x202f, 0x202f, 0x205f,
  0x205f, 0x3000, 0x3000, 0xfeff, 0xfeff,
]);
const LINE_TERMINATORS: CharRanges = [0x0a, 0x0a, 0x0d, 0x0d, 0x2028, 0x2029];
const DOT: CharRanges = negateRanges(LINE_TERMINATORS);
const SYNTAX_CHARS = '^$\\.*+?()[]{}|/';

const CLASS_ESCAPES: Record<string, CharRanges> = {
  d: DIGIT,
  D: negateRanges(DIGIT),
  w: WORD,
  W: negateRanges(WORD),
  s: SPACE,
  S: negateRanges(SPACE),
};
const CONTROL_ESCAPES: Record<string, number> = { t: 0x09, n: 0x0a, v: 0x0b, f: 0x0c, r: 0x0d };

const single = (c: number): RegexNode => ({ t: 'set', ranges: [c, c] });

class Parser {
  #pos = 0;
  #anchoredEnd = false;
  #topLevelAlternation = false;

  constructor(readonly src: string) {}

  parse(): ParsedRegex {
    const anchoredStart = this.src.startsWith('^');
    if (anchoredStart) this.#pos = 1;
    const node = this.#alternation(0);
    if (this.#pos < this.src.length) this.#fail(`unmatched ')' at ${this.#pos}`);
    if (this.#topLevelAlternation && (anchoredStart || this.#anchoredEnd))
      this.#fail('^ and $ with a top-level | are ambiguous: group the alternatives, e.g. ^(a|b)$');
    return { node, anchoredStart, anchoredEnd: this.#anchoredEnd };
  }

  #fail(message: string): never {
    throw new RegexSyntaxError(message);
  }

  #peek(): string | undefined {
    return this.src[this.#pos];
  }

  #alternation(depth: number): RegexNode {
    const alts = [this.#sequence(depth)];
    while (this.#peek() === '|') {
      this.#pos++;
      alts.push(this.#sequence(depth));
    }
    if (depth === 0 && alts.length > 1) this.#topLevelAlternation = true;
    return alts.length === 1 ? alts[0]! : { t: 'alt', alts };
  }

  #sequence(depth: number): RegexNode {
    const items: RegexNode[] = [];
    for (;;) {
      const c = this.#peek();
      if (c === undefined || c === '|' || c === ')') break;
      if (c === '$') {
        if (depth === 0 && this.#pos === this.src.length - 1) {
          this.#anchoredEnd = true;
          this.#pos++;
          break;
        }
        this.#fail("'$' is only supported at the very end of the pattern");
      }
      let atom = this.#atom(depth);
      const q = this.#quantifier();
      if (q) atom = { t: 'rep', child: atom, min: q[0], max: q[1] };
      items.push(atom);
    }
    return items.length === 1 ? items[0]! : { t: 'seq', items };
  }

  #quantifier(): [number, number] | undefined {
    const c = this.#peek();
    let q: [number, number] | undefined;
    if (c === '*') q = [0, Number.POSITIVE_INFINITY];
    else if (c === '+') q = [1, Number.POSITIVE_INFINITY];
    else if (c === '?') q = [0, 1];
    else if (c === '{') {
      const m = /^\{(\d{1,4})(,(\d{0,4}))?\}/.exec(this.src.slice(this.#pos));
      if (!m) this.#fail(`malformed repetition at ${this.#pos}`);
      const min = Number(m[1]);
      const max = m[2] === undefined ? min : m[3] === '' ? Number.POSITIVE_INFINITY : Number(m[3]);
      if (max < min) this.#fail(`repetition {${min},${max}} has max below min`);
      if (min > MAX_REGEX_REPEAT || (max !== Number.POSITIVE_INFINITY && max > MAX_REGEX_REPEAT))
        this.#fail(`repetition counts are limited to ${MAX_REGEX_REPEAT}`);
      this.#pos += m[0].length - 1;
      q = [min, max];
    }
    if (!q) return undefined;
    this.#pos++;
    // A lazy quantifier accepts the same strings as a greedy one; test() only asks whether a match exists.
    if (this.#peek() === '?') this.#pos++;
    const after = this.#peek();
    if (after === '*' || after === '+' || after === '?' || after === '{') this.#fail('nothing to repeat');
    return q;
  }

  #atom(depth: number): RegexNode {
    const c = this.src.charAt(this.#pos);
    this.#pos++;
    switch (c) {
      case '(': {
        if (this.#peek() === '?') {
          if (this.src[this.#pos + 1] !== ':')
            this.#fail('lookaround and named groups are not supported (only (?:...) groups)');
          this.#pos += 2;
        }
        const inner = this.#alternation(depth + 1);
        if (this.#peek() !== ')') this.#fail("missing ')'");
        this.#pos++;
        return inner;
      }
      case '[':
        return this.#charClass();
      case '.':
        return { t: 'set', ranges: DOT };
      case '\\':
        return this.#escape(false);
      case '^':
        return this.#fail("'^' is only supported at the very start of the pattern");
      case '*':
      case '+':
      case '?':
      case '{':
        return this.#fail('nothing to repeat');
      case '}':
      case ']':
        return this.#fail(`lone '${c}'`);
      default:
        return single(this.#literal(c));
    }
  }

  #literal(c: string): number {
    const code = c.charCodeAt(0);
    if (code >= 0xd800 && code <= 0xdfff)
      this.#fail('characters outside the Basic Multilingual Plane are not supported');
    return code;
  }

  /** Reads an escape after the backslash: a set node, or (inClass) a single code as a set of one. */
  #escape(inClass: boolean): RegexNode {
    const c = this.src.charAt(this.#pos);
    this.#pos++;
    const set = CLASS_ESCAPES[c];
    if (set) return { t: 'set', ranges: set };
    const control = CONTROL_ESCAPES[c];
    if (control !== undefined) return single(control);
    if (c === '0') {
      if (/[0-9]/.test(this.#peek() ?? '')) this.#fail('octal escapes are not supported');
      return single(0);
    }
    if (c === 'x') return single(this.#hex(/^[0-9A-Fa-f]{2}/));
    if (c === 'u') {
      if (this.#peek() === '{') {
        const m = /^\{([0-9A-Fa-f]{1,6})\}/.exec(this.src.slice(this.#pos));
        if (!m) this.#fail('malformed \\u{...} escape');
        const code = Number.parseInt(m[1]!, 16);
        if (code > MAX_UNIT || (code >= 0xd800 && code <= 0xdfff))
          this.#fail('characters outside the Basic Multilingual Plane are not supported');
        this.#pos += m[0].length;
        return single(code);
      }
      const code = this.#hex(/^[0-9A-Fa-f]{4}/);
      if (code >= 0xd800 && code <= 0xdfff)
        this.#fail('characters outside the Basic Multilingual Plane are not supported');
      return single(code);
    }
    if (inClass && c === 'b') return single(0x08);
    if (inClass && c === '-') return single(0x2d);
    if (c === 'b' || c === 'B') this.#fail('word boundaries (\\b, \\B) are not supported');
    if (/[1-9]/.test(c) || c === 'k') this.#fail('backreferences are not supported');
    if (c === 'p' || c === 'P') this.#fail('Unicode property escapes are not supported');
    if (c !== '' && SYNTAX_CHARS.includes(c)) return single(c.charCodeAt(0));
    return this.#fail(c === '' ? 'pattern ends with a backslash' : `unsupported escape \\${c}`);
  }

  #hex(pattern: RegExp): number {
    const m = pattern.exec(this.src.slice(this.#pos));
    if (!m) this.#fail('malformed hexadecimal escape');
    this.#pos += m[0].length;
    return Number.parseInt(m[0], 16);
  }

  #classAtom(): RegexNode {
    const c = this.src.charAt(this.#pos);
    if (c === '') this.#fail("missing ']'");
    this.#pos++;
    if (c === '\\') return this.#escape(true);
    return single(this.#literal(c));
  }

  #charClass(): RegexNode {
    let negate = false;
    if (this.#peek() === '^') {
      negate = true;
      this.#pos++;
    }
    const ranges: number[] = [];
    while (this.#peek() !== ']') {
      const from = this.#classAtom();
      if (from.t !== 'set') this.#fail('unexpected class content');
      if (this.#peek() === '-' && this.src[this.#pos + 1] !== ']' && this.src[this.#pos + 1] !== undefined) {
        this.#pos++;
        const to = this.#classAtom();
        if (to.t !== 'set') this.#fail('unexpected class content');
        if (!isSingle(from.ranges) || !isSingle(to.ranges))
          this.#fail('a class range cannot start or end with a class escape');
        const lo = from.ranges[0]!;
        const hi = to.ranges[0]!;
        if (lo > hi) this.#fail('class range out of order');
        ranges.push(lo, hi);
      } else ranges.push(...from.ranges);
    }
    this.#pos++;
    const merged = normalizeRanges(ranges);
    return { t: 'set', ranges: negate ? negateRanges(merged) : merged };
  }
}

function isSingle(ranges: CharRanges): boolean {
  return ranges.length === 2 && ranges[0] === ranges[1];
}

/** Parses a header regex, throwing RegexSyntaxError with a reason when it is outside the subset. */
export function parseSafeRegex(source: string): ParsedRegex {
  return new Parser(source).parse();
}
