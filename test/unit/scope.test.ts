import {
  canonicalScope,
  GLOBAL_SCOPE,
  parseOrThrow,
  parseScope,
  scopeFromCanonical,
  scopeMatches,
  scopeSchema,
  specificity,
  toFieldIssues,
  tryParseScope,
  ValidationError,
} from '@meshpress/client';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';

describe('scope canonical form', () => {
  it('sorts constraints by key so equal scopes have one spelling', () => {
    expect(canonicalScope('region=eu-west-1,app=payments')).toBe('app=payments,region=eu-west-1');
    expect(canonicalScope('node=n1,env=prod,cluster=c1,app=a,region=r')).toBe(
      'app=a,cluster=c1,env=prod,node=n1,region=r',
    );
    expect(parseScope('region=eu,app=x').constraints).toEqual([
      ['app', 'x'],
      ['region', 'eu'],
    ]);
  });

  it('trims whitespace around keys, values and the whole text', () => {
    expect(canonicalScope(' region = eu , app=x ')).toBe('app=x,region=eu');
    expect(canonicalScope('  app=payments\t')).toBe('app=payments');
  });

  it('keeps canonical text unchanged (idempotent)', () => {
    for (const text of ['*', 'app=a', 'app=a,region=eu-west-1', 'cluster=c:1/x,node=ip-10.0.0.1']) {
      expect(canonicalScope(text)).toBe(text);
      expect(canonicalScope(canonicalScope(text))).toBe(text);
    }
  });

  it('treats * as the global scope with no constraints', () => {
    expect(GLOBAL_SCOPE).toBe('*');
    const scope = parseScope('*');
    expect(scope.text).toBe('*');
    expect(scope.constraints).toEqual([]);
    expect(canonicalScope(' * ')).toBe('*');
  });

  it('returns frozen values so a cached scope cannot be altered by a caller', () => {
    const scope = parseScope('app=a,region=r');
    expect(Object.isFrozen(scope)).toBe(true);
    expect(Object.isFrozen(scope.constraints)).toBe(true);
    expect(Object.isFrozen(scope.constraints[0])).toBe(true);
  });
});

describe('scope rejection', () => {
  const rejects = (text: string, fragment: RegExp) => {
    const result = tryParseScope(text);
    expect(typeof result).toBe('string');
    expect(result).toMatch(fragment);
    expect(() => parseScope(text)).toThrow(ValidationError);
  };

  it('rejects the empty scope and points to *', () => {
    rejects('', /empty.*\*/);
    rejects('   ', /empty/);
  });

  it('rejects an unknown key', () => {
    rejects('zone=a', /'zone' is not a scope key/);
    rejects('app=a,Region=eu', /'Region' is not a scope key/);
  });

  it('rejects a duplicate key, even with the same value', () => {
    rejects('app=a,app=b', /'app' appears more than once/);
    rejects('app=a, app=a', /'app' appears more than once/);
  });

  it('rejects values with characters outside the identity alphabet', () => {
    rejects('app=pay ments', /not a valid value for app/);
    rejects('app=a=b', /not a valid value for app/);
    rejects('app=', /not a valid value for app/);
    rejects('app=-leading', /not a valid value for app/);
    rejects('app=x;y', /not a valid value for app/);
    rejects('app=é', /not a valid value for app/);
  });

  it('rejects a part without =', () => {
    rejects('app', /'app' is not key=value/);
    rejects('app=a,', /is not key=value/);
    rejects('app=a,,region=b', /is not key=value/);
    rejects('=a', /is not key=value/);
    rejects('*,app=a', /is not key=value/);
  });

  it('rejects over-long scopes', () => {
    const longValue = 'v'.repeat(128);
    const ok = `app=${longValue},cluster=${longValue},node=${'n'.repeat(100)}`;
    expect(ok.length).toBeLessThanOrEqual(512);
    expect(canonicalScope(ok)).toBe(ok);
    rejects(`app=${longValue},cluster=${longValue},env=${longValue},node=${longValue}`, /longer than 512/);
    rejects(`app=${'v'.repeat(129)}`, /not a valid value/);
  });

  it('names the scope field in the ValidationError issues', () => {
    try {
      parseScope('bogus=1');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      const v = error as ValidationError;
      expect(v.code).toBe('VALIDATION_FAILED');
      expect(v.issues).toEqual([{ path: 'scope', message: expect.stringMatching(/'bogus'/) }]);
    }
  });
});

describe('scopeSchema', () => {
  it('outputs canonical text', () => {
    expect(scopeSchema.parse('region=eu , app=a')).toBe('app=a,region=eu');
    expect(scopeSchema.parse('*')).toBe('*');
  });

  it('reports a zod issue at the path of each bad scope', () => {
    const body = z.object({ scopes: z.array(scopeSchema) });
    const result = body.safeParse({ scopes: ['app=a', 'zone=x', '*', ''] });
    expect(result.success).toBe(false);
    const issues = toFieldIssues(result.error!, 'body');
    expect(issues).toEqual([
      { path: 'body.scopes.1', message: expect.stringMatching(/'zone' is not a scope key/) },
      { path: 'body.scopes.3', message: expect.stringMatching(/empty/) },
    ]);
  });

  it('rejects non-strings', () => {
    expect(scopeSchema.safeParse(42).success).toBe(false);
    expect(scopeSchema.safeParse(undefined).success).toBe(false);
  });

  it('works with parseOrThrow, which summarises the first bad field', () => {
    expect(parseOrThrow(scopeSchema, 'region=eu,app=a', 'scope')).toBe('app=a,region=eu');
    expect(() => parseOrThrow(z.object({ scope: scopeSchema }), { scope: 'app' }, 'pin')).toThrow(
      /invalid pin \(scope: 'app' is not key=value\)/,
    );
    try {
      parseOrThrow(scopeSchema, 'nope', 'scope');
      expect.unreachable();
    } catch (error) {
      expect((error as ValidationError).issues).toEqual([
        { path: '(root)', message: expect.stringMatching(/not key=value/) },
      ]);
    }
  });
});

describe('scopeMatches and specificity', () => {
  const identity = { app: 'payments', cluster: 'payments-v2', region: 'eu-west-1', node: 'i-123' };

  it('the global scope matches every identity, including an empty one', () => {
    expect(scopeMatches(parseScope('*'), identity)).toBe(true);
    expect(scopeMatches(parseScope('*'), {})).toBe(true);
  });

  it('matches only when every constraint holds', () => {
    expect(scopeMatches(parseScope('app=payments'), identity)).toBe(true);
    expect(scopeMatches(parseScope('region=eu-west-1,app=payments'), identity)).toBe(true);
    expect(scopeMatches(parseScope('app=payments,region=us-east-1'), identity)).toBe(false);
    expect(scopeMatches(parseScope('app=orders'), identity)).toBe(false);
  });

  it('compares values exactly (case-sensitive, no prefix match)', () => {
    expect(scopeMatches(parseScope('app=Payments'), identity)).toBe(false);
    expect(scopeMatches(parseScope('app=pay'), identity)).toBe(false);
  });

  it('a constraint on a key the identity lacks never holds', () => {
    expect(scopeMatches(parseScope('env=prod'), identity)).toBe(false);
    expect(scopeMatches(parseScope('app=payments,env=prod'), identity)).toBe(false);
    expect(scopeMatches(parseScope('env=prod'), { ...identity, env: undefined })).toBe(false);
  });

  it('specificity is the number of constraints, 0 for *', () => {
    expect(specificity(parseScope('*'))).toBe(0);
    expect(specificity(parseScope('app=a'))).toBe(1);
    expect(specificity(parseScope('region=r,app=a'))).toBe(2);
    expect(specificity(parseScope('app=a,cluster=c,env=e,node=n,region=r'))).toBe(5);
  });

  it('scopeFromCanonical returns the same parsed scope on repeated calls', () => {
    const a = scopeFromCanonical('app=a,region=r');
    expect(a.text).toBe('app=a,region=r');
    expect(scopeFromCanonical('app=a,region=r')).toBe(a);
    expect(() => scopeFromCanonical('not a scope')).toThrow(ValidationError);
  });
});
