import type { CharRanges, ParsedRegex, RegexNode } from './safe-regex-parse.js';

/**
 * Compiles a parsed header regex into a DFA (Thompson NFA, then subset construction) so that matching
 * is one table lookup per character: linear time whatever the pattern or the header value, and no
 * allocation. JavaScript's backtracking RegExp is not used on the hot path because a header value is
 * attacker-controlled: `/.*foo.*x/` alone takes minutes on a 9 kB value.
 */

export const MAX_NFA_STATES = 4096;
export const MAX_DFA_STATES = 512;
const MAX_DFA_CELLS = 65_536;

const CHAR = 0;
const EPS = 1;
const MATCH = 2;

class Nfa {
  readonly kind: number[] = [];
  readonly ranges: (CharRanges | undefined)[] = [];
  readonly out: number[][] = [];

  add(kind: number, ranges: CharRanges | undefined, out: number[]): number {
    if (this.kind.length >= MAX_NFA_STATES)
      throw new RegexTooComplexError(`pattern expands to more than ${MAX_NFA_STATES} automaton states`);
    this.kind.push(kind);
    this.ranges.push(ranges);
    this.out.push(out);
    return this.kind.length - 1;
  }

  /** Builds `node` so that it continues to state `next`; returns its entry state. */
  build(node: RegexNode, next: number): number {
    switch (node.t) {
      case 'set':
        return this.add(CHAR, node.ranges, [next]);
      case 'seq': {
        let state = next;
        for (let i = node.items.length - 1; i >= 0; i--) state = this.build(node.items[i]!, state);
        return state;
      }
      case 'alt':
        return this.add(
          EPS,
          undefined,
          node.alts.map((alt) => this.build(alt, next)),
        );
      case 'rep': {
        let state: number;
        if (node.max === Number.POSITIVE_INFINITY) {
          const loop = this.add(EPS, undefined, []);
          this.out[loop]!.push(this.build(node.child, loop), next);
          state = loop;
        } else {
          state = next;
          for (let i = node.min; i < node.max; i++)
            state = this.add(EPS, undefined, [this.build(node.child, state), next]);
        }
        for (let i = 0; i < node.min; i++) state = this.build(node.child, state);
        return state;
      }
    }
  }
}

export class RegexTooComplexError extends Error {}

/** A compiled matcher: `test(value)` says whether `value` contains a match (anchors permitting). */
export interface CompiledDfa {
  readonly stateCount: number;
  readonly classCount: number;
  test(value: string): boolean;
}

export function compileDfa(parsed: ParsedRegex): CompiledDfa {
  const nfa = new Nfa();
  const match = nfa.add(MATCH, undefined, []);
  const start = nfa.build(parsed.node, match);

  const alphabet = buildAlphabet(nfa);
  const closureOf = closureFunction(nfa);
  const startClosure = closureOf([start]);

  const keys = new Map<string, number>();
  const sets: number[][] = [];
  const accepting: boolean[] = [];
  const intern = (set: number[]): number => {
    if (set.length === 0) return -1;
    const key = set.join(',');
    let id = keys.get(key);
    if (id === undefined) {
      id = sets.length;
      if (id >= MAX_DFA_STATES || (id + 1) * alphabet.classCount > MAX_DFA_CELLS)
        throw new RegexTooComplexError(
          `pattern needs more than ${Math.min(MAX_DFA_STATES, Math.floor(MAX_DFA_CELLS / alphabet.classCount))} automaton states`,
        );
      keys.set(key, id);
      sets.push(set);
      accepting.push(set.includes(match));
    }
    return id;
  };

  const initial = intern(startClosure);
  const rows: number[][] = [];
  for (let id = 0; id < sets.length; id++) {
    const row: number[] = [];
    // Without $, an accepting state ends the scan, so its transitions are never read.
    if (accepting[id] && !parsed.anchoredEnd) {
      rows.push(new Array<number>(alphabet.classCount).fill(id));
      continue;
    }
    for (let cls = 0; cls < alphabet.classCount; cls++) {
      const targets: number[] = parsed.anchoredStart ? [] : [start];
      for (const state of sets[id]!) {
        if (nfa.kind[state] === CHAR && alphabet.member[state]![cls]) targets.push(nfa.out[state]![0]!);
      }
      row.push(intern(closureOf(targets)));
    }
    rows.push(row);
  }

  const transitions = new Int32Array(sets.length * alphabet.classCount);
  rows.forEach((row, id) => {
    transitions.set(row, id * alphabet.classCount);
  });
  const accept = Uint8Array.from(accepting, (a) => (a ? 1 : 0));
  const { low, highStarts, highClasses, classCount } = alphabet;
  const anchoredEnd = parsed.anchoredEnd;

  const classOf = (code: number): number => {
    if (code < 256) return low[code]!;
    let lo = 0;
    let hi = highStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (highStarts[mid]! <= code) lo = mid;
      else hi = mid - 1;
    }
    return highClasses[lo]!;
  };

  return {
    stateCount: sets.length,
    classCount,
    test(value: string): boolean {
      let state = initial;
      if (state < 0) return false;
      if (!anchoredEnd && accept[state] === 1) return true;
      for (let i = 0; i < value.length; i++) {
        state = transitions[state * classCount + classOf(value.charCodeAt(i))]!;
        if (state < 0) return false;
        if (!anchoredEnd && accept[state] === 1) return true;
      }
      return accept[state] === 1;
    },
  };
}

interface Alphabet {
  readonly classCount: number;
  /** member[nfaState][class]: whether the CHAR state accepts characters of that class. */
  readonly member: (readonly boolean[] | undefined)[];
  readonly low: Uint16Array;
  readonly highStarts: readonly number[];
  readonly highClasses: readonly number[];
}

/** Splits code units into classes that every character set treats alike, so tables stay narrow. */
function buildAlphabet(nfa: Nfa): Alphabet {
  const cuts = new Set<number>([0, 256]);
  for (const ranges of nfa.ranges) {
    if (!ranges) continue;
    for (let i = 0; i < ranges.length; i += 2) {
      cuts.add(ranges[i]!);
      if (ranges[i + 1]! < 0xffff) cuts.add(ranges[i + 1]! + 1);
    }
  }
  const starts = [...cuts].sort((a, b) => a - b);
  const charStates = nfa.kind.flatMap((kind, state) => (kind === CHAR ? [state] : []));
  const classBySignature = new Map<string, number>();
  const intervalClass: number[] = [];
  for (const at of starts) {
    const signature = charStates.map((state) => (inRanges(nfa.ranges[state]!, at) ? '1' : '0')).join('');
    let cls = classBySignature.get(signature);
    if (cls === undefined) {
      cls = classBySignature.size;
      classBySignature.set(signature, cls);
    }
    intervalClass.push(cls);
  }
  const classCount = classBySignature.size;
  const member: (boolean[] | undefined)[] = nfa.kind.map(() => undefined);
  for (const state of charStates) member[state] = new Array<boolean>(classCount).fill(false);
  starts.forEach((at, i) => {
    for (const state of charStates)
      if (inRanges(nfa.ranges[state]!, at)) member[state]![intervalClass[i]!] = true;
  });
  const low = new Uint16Array(256);
  let interval = 0;
  for (let code = 0; code < 256; code++) {
    while (interval + 1 < starts.length && starts[interval + 1]! <= code) interval++;
    low[code] = intervalClass[interval]!;
  }
  const firstHigh = starts.indexOf(256);
  return {
    classCount,
    member,
    low,
    highStarts: starts.slice(firstHigh),
    highClasses: intervalClass.slice(firstHigh),
  };
}

function inRanges(ranges: CharRanges, code: number): boolean {
  for (let i = 0; i < ranges.length; i += 2) if (code >= ranges[i]! && code <= ranges[i + 1]!) return true;
  return false;
}

/** Epsilon closure, keeping only the states a DFA state is made of (CHAR and MATCH), sorted. */
function closureFunction(nfa: Nfa): (from: readonly number[]) => number[] {
  const seen = new Uint32Array(nfa.kind.length);
  let mark = 0;
  return (from) => {
    mark++;
    const result: number[] = [];
    const stack = [...from];
    while (stack.length > 0) {
      const state = stack.pop()!;
      if (seen[state] === mark) continue;
      seen[state] = mark;
      if (nfa.kind[state] === EPS) stack.push(...nfa.out[state]!);
      else result.push(state);
    }
    return result.sort((a, b) => a - b);
  };
}
