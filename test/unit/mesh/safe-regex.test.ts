import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileHeaderRegex, type HeaderRegex } from '../../../client/src/mesh/index.js';

function compiled(source: string): HeaderRegex {
  const result = compileHeaderRegex(source);
  if (typeof result === 'string') throw new Error(`${source} refused: ${result}`);
  return result;
}

const refusal = (source: string): string => {
  const result = compileHeaderRegex(source);
  expect(typeof result).toBe('string');
  return result as string;
};

describe('header regex subset', () => {
  it('agrees with JavaScript RegExp on every pattern it accepts (property)', () => {
    const atom = fc.constantFrom(
      'a',
      'b',
      '1',
      '-',
      '\\.',
      '.',
      '[ab]',
      '[^a]',
      '[a-c1]',
      '\\d',
      '\\w',
      '\\s',
      '\\D',
      ' ',
    );
    const pattern = fc.letrec<{ re: string; seq: string; item: string }>((tie) => ({
      item: fc.oneof(
        { weight: 4, arbitrary: atom },
        { weight: 1, arbitrary: tie('re').map((r) => `(${r})`) },
        { weight: 1, arbitrary: tie('re').map((r) => `(?:${r})`) },
      ),
      seq: fc
        .array(fc.tuple(tie('item'), fc.constantFrom('', '', '*', '+', '?', '{2}', '{1,3}', '{2,}', '*?')), {
          minLength: 1,
          maxLength: 4,
        })
        .map((parts) => parts.map(([i, q]) => i + q).join('')),
      re: fc.array(tie('seq'), { minLength: 1, maxLength: 3 }).map((alts) => alts.join('|')),
    })).re;
    const anchored = fc
      .tuple(fc.boolean(), pattern, fc.boolean())
      .map(([s, p, e]) => (s || e ? `${s ? '^' : ''}(?:${p})${e ? '$' : ''}` : p));
    const input = fc.string({
      unit: fc.constantFrom('a', 'b', 'c', '1', '2', '-', '.', ' ', '\n', 'é', 'ー'),
      maxLength: 12,
    });

    let accepted = 0;
    fc.assert(
      fc.property(anchored, fc.array(input, { minLength: 1, maxLength: 8 }), (source, inputs) => {
        const ours = compileHeaderRegex(source);
        if (typeof ours === 'string') return;
        accepted++;
        const js = new RegExp(source, 'u');
        for (const value of inputs)
          expect(ours.test(value), `${source} on ${JSON.stringify(value)}`).toBe(js.test(value));
      }),
      { seed: 1337, numRuns: 3000 },
    );
    expect(accepted).toBeGreaterThan(500);
  });

  it('handles anchors, classes and escapes', () => {
    const version = compiled('^v[0-9]{1,3}$');
    expect(['v1', 'v123'].map((v) => version.test(v))).toEqual([true, true]);
    expect(['v1234', 'xv1', 'v', ''].map((v) => version.test(v))).toEqual([false, false, false, false]);
    const tracks = compiled('^(canary|beta)$');
    expect(['canary', 'beta', 'canaryx', 'alpha'].map((v) => tracks.test(v))).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect(compiled('\\u00e9\\x41[\\]]').test('xéA]')).toBe(true);
    expect(compiled('').test('anything')).toBe(true);
    expect(compiled('[^\\s]').test('   ')).toBe(false);
  });

  it('refuses nested and ambiguous repetition, the shapes that backtrack catastrophically', () => {
    expect(refusal('(a+)+$')).toContain('nested quantifiers');
    expect(refusal('(x*y?z{1,3})*')).toContain('nested quantifiers');
    expect(refusal('(a|a)*b')).toContain('start with different characters');
    expect(refusal('(\\d|[0-5])+x')).toContain('start with different characters');
    expect(refusal('(a|)+')).toContain('empty alternative');
    // Fixed counts inside a repetition and optional groups are not ambiguous.
    expect(compiled('(\\d{3}-)+x').test('123-456-x')).toBe(true);
    expect(compiled('(ab+)?c').test('abbbc')).toBe(true);
  });

  it('refuses optional parts inside a repetition and long runs of quantifiers over shared characters', () => {
    // Exponential for backtracking engines (Russ Cox's a?^n a^n), though a DFA runs them in linear time.
    expect(refusal('(a?a?)+')).toContain('nested quantifiers');
    expect(refusal('(a?){25}a{25}')).toContain('nested quantifiers');
    expect(refusal('^(x?y)*$')).toContain('nested quantifiers');
    expect(refusal(`${'a?'.repeat(25)}${'a'.repeat(25)}`)).toContain('follow one another');
    expect(refusal('(a|a)'.repeat(20))).toContain('follow one another');
    expect(refusal('a?a?a?a?a?-b?b?b?b?b?-c?c?c?c?c?')).toContain('follow one another');
    // A few quantifiers side by side stay polynomial: accepted.
    for (const source of [
      '.*foo.*x',
      '\\d+\\d+x',
      '.*a.*a.*b',
      '.*(iPhone|iPad).*Mobile.*Safari',
      '^\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}$',
      '^[a-z]+-?[a-z0-9]*$',
      '(ab?)?c',
    ])
      expect(typeof compileHeaderRegex(source), source).toBe('object');
  });

  it('refuses syntax outside the RE2-compatible subset with a reason', () => {
    expect(refusal('(?=a)b')).toContain('lookaround');
    expect(refusal('(?<n>a)')).toContain('named groups');
    expect(refusal('(a)\\1')).toContain('backreferences');
    expect(refusal('\\bword')).toContain('word boundaries');
    expect(refusal('\\p{L}')).toContain('Unicode property');
    expect(refusal('a^b')).toContain("'^'");
    expect(refusal('a$b')).toContain("'$'");
    expect(refusal('^a|b')).toContain('top-level |');
    expect(refusal('a{1000}')).toContain('limited to 100');
    expect(refusal('😀')).toContain('Basic Multilingual Plane');
    expect(refusal('(abc')).toContain('does not compile');
  });

  it('refuses patterns over the length cap or the automaton budget', () => {
    expect(refusal('a'.repeat(257))).toContain('longer than 256');
    // (a|b)*a(a|b){20}: the classic exponential-DFA pattern.
    expect(refusal('[ab]*a[ab]{20}')).toContain('automaton states');
  });

  it('matches hostile input in linear time', () => {
    const cases: [string, string][] = [
      ['.*foo.*x', 'foo'.repeat(30_000)],
      ['\\d+\\d+x', '1'.repeat(100_000)],
      ['.*a.*a.*b', 'a'.repeat(100_000)],
    ];
    for (const [source, value] of cases) {
      const regex = compiled(source);
      const started = performance.now();
      expect(regex.test(value)).toBe(false);
      expect(performance.now() - started).toBeLessThan(200);
    }
  });

  it('freezes compiled matchers', () => {
    expect(Object.isFrozen(compiled('a'))).toBe(true);
  });
});
