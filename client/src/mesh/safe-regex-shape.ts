import type { CharRanges, RegexNode } from './safe-regex-parse.js';

/**
 * How many times, over the whole pattern, a quantifier (or an alternation whose alternatives start alike)
 * may directly follow another one over characters both can match. Each such pair can double the ways a
 * backtracking engine splits the same text: Russ Cox's `a?a?…a?aa…a` takes 2^n steps with n optionals.
 * Eight keeps that factor at a few hundred while accepting every pattern of a realistic shape
 * (`.*a.*b.*c` has two pairs).
 */
export const MAX_ADJACENT_CHOICES = 8;

/**
 * Why a parsed pattern is refused for its shape, or undefined. meshpress matches with a DFA, which none of
 * these shapes slows down; they are refused so that a document stays safe for the backtracking engines
 * other tools and data planes run it with:
 * - a variable count (`*`, `+`, `?`, `{m,n}`) inside a repetition: the repetition and the inner count
 *   can split the same text in exponentially many ways (`(a+)+`, `(a?a?)+`, `(a?){25}a{25}`);
 * - alternatives inside a repetition that can start alike or be empty (`(a|ab)*`, `(a|)+`);
 * - more than MAX_ADJACENT_CHOICES quantifiers following one another over shared characters.
 */
export function unsafeShape(node: RegexNode): string | undefined {
  const nested = nestedShape(node, false);
  if (nested) return nested;
  const choices = adjacentChoices(node);
  if (choices > MAX_ADJACENT_CHOICES)
    return `quantifiers that can match the same characters follow one another ${choices} times (at most ${MAX_ADJACENT_CHOICES}; e.g. a?a?a?…aaa)`;
  return undefined;
}

/** A repetition that can run more than once: whatever it contains must match one way only. */
const repeats = (node: RegexNode): boolean => node.t === 'rep' && node.max > 1;

function nestedShape(node: RegexNode, insideRepeat: boolean): string | undefined {
  switch (node.t) {
    case 'set':
      return undefined;
    case 'seq':
      for (const item of node.items) {
        const found = nestedShape(item, insideRepeat);
        if (found) return found;
      }
      return undefined;
    case 'alt':
      if (insideRepeat) {
        const overlap = overlappingAlternatives(node.alts);
        if (overlap) return overlap;
      }
      for (const alt of node.alts) {
        const found = nestedShape(alt, insideRepeat);
        if (found) return found;
      }
      return undefined;
    case 'rep':
      // `x{3}` inside a repetition is a fixed-length sequence; `x?` is as ambiguous as `x*` there.
      if (insideRepeat && node.min !== node.max)
        return 'nested quantifiers (a repeated group containing a variable count, e.g. (a+)+ or (a?)+) are not allowed';
      return nestedShape(node.child, insideRepeat || repeats(node));
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

/**
 * Pairs of choice points that follow one another over shared characters, summed over the pattern (the
 * ways to split a text multiply along a sequence; alternatives are tried one after another, so the worst
 * one counts). A choice point is an element whose length varies, or an alternation whose alternatives
 * start alike; a run ends at an element sharing no character with the one before it (`\d+-\d+` is two
 * runs of one).
 */
function adjacentChoices(node: RegexNode): number {
  switch (node.t) {
    case 'set':
      return 0;
    case 'rep':
      return adjacentChoices(node.child);
    case 'alt': {
      let worst = 0;
      for (const alt of node.alts) worst = Math.max(worst, adjacentChoices(alt));
      return worst;
    }
    case 'seq': {
      let pairs = 0;
      let run = 0;
      let previous: CharRanges | undefined;
      for (const item of flatten(node.items)) {
        const chars = allChars(item);
        if (previous !== undefined && !rangesOverlap(previous, chars)) run = 0;
        previous = chars;
        if (isChoice(item)) {
          if (run > 0) pairs++;
          run++;
        }
        pairs += adjacentChoices(item);
      }
      return pairs;
    }
  }
}

/** A group without a quantifier is part of the sequence around it. */
function flatten(items: readonly RegexNode[], out: RegexNode[] = []): RegexNode[] {
  for (const item of items) {
    if (item.t === 'seq') flatten(item.items, out);
    else out.push(item);
  }
  return out;
}

function isChoice(node: RegexNode): boolean {
  const [min, max] = lengths(node);
  if (min !== max) return true;
  return node.t === 'alt' && ambiguousAlternatives(node.alts);
}

function ambiguousAlternatives(alts: readonly RegexNode[]): boolean {
  const firsts = alts.map(firstChars);
  for (let i = 0; i < alts.length; i++)
    for (let j = i + 1; j < alts.length; j++) if (rangesOverlap(firsts[i]!, firsts[j]!)) return true;
  return false;
}

/** Shortest and longest match, in characters. */
function lengths(node: RegexNode): [number, number] {
  switch (node.t) {
    case 'set':
      return [1, 1];
    case 'seq': {
      let min = 0;
      let max = 0;
      for (const item of node.items) {
        const [a, b] = lengths(item);
        min += a;
        max += b;
      }
      return [min, max];
    }
    case 'alt': {
      let min = Number.POSITIVE_INFINITY;
      let max = 0;
      for (const alt of node.alts) {
        const [a, b] = lengths(alt);
        min = Math.min(min, a);
        max = Math.max(max, b);
      }
      return [min, max];
    }
    case 'rep': {
      const [a, b] = lengths(node.child);
      // 0 × ∞ is NaN: an empty child repeated without bound is still empty.
      return [a * node.min, b === 0 || node.max === 0 ? 0 : b * node.max];
    }
  }
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

/** Every character a match of `node` can contain, as unmerged ranges. */
function allChars(node: RegexNode): number[] {
  switch (node.t) {
    case 'set':
      return [...node.ranges];
    case 'seq':
      return node.items.flatMap(allChars);
    case 'alt':
      return node.alts.flatMap(allChars);
    case 'rep':
      return node.max === 0 ? [] : allChars(node.child);
  }
}

function rangesOverlap(a: CharRanges, b: CharRanges): boolean {
  for (let i = 0; i < a.length; i += 2)
    for (let j = 0; j < b.length; j += 2) if (a[i]! <= b[j + 1]! && b[j]! <= a[i + 1]!) return true;
  return false;
}
