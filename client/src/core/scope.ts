import { z } from 'zod';
import { ValidationError } from './errors.js';
import { IDENTITY_KEYS, IDENTITY_VALUE_PATTERN, type Identity, type IdentityKey } from './names.js';

/** The scope every identity matches. */
export const GLOBAL_SCOPE = '*';

/** A parsed scope: the constraints in canonical (key-sorted) order. Empty means global. */
export interface Scope {
  /** Canonical text: `app=payments,region=eu-west-1`, or `*`. */
  readonly text: string;
  readonly constraints: readonly (readonly [IdentityKey, string])[];
}

const KEY_SET: ReadonlySet<string> = new Set(IDENTITY_KEYS);

/** Parses scope text into canonical form, or returns an error message. */
export function tryParseScope(raw: string): Scope | string {
  // Whitespace around each key and value is already ignored; trimming the whole text too means ` * ` and
  // `   ` are read as the global and the empty scope, not as malformed key=value parts.
  const text = raw.trim();
  if (text === GLOBAL_SCOPE) return GLOBAL_SCOPE_VALUE;
  if (text.length === 0) return 'scope is empty (use * for the global scope)';
  if (text.length > 512) return 'scope is longer than 512 characters';
  const seen = new Map<IdentityKey, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return `'${part}' is not key=value`;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (!KEY_SET.has(key)) return `'${key}' is not a scope key (one of ${IDENTITY_KEYS.join(', ')})`;
    if (!IDENTITY_VALUE_PATTERN.test(value)) return `'${value}' is not a valid value for ${key}`;
    if (seen.has(key as IdentityKey)) return `'${key}' appears more than once`;
    seen.set(key as IdentityKey, value);
  }
  const constraints = [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.freeze({
    text: constraints.map(([k, v]) => `${k}=${v}`).join(','),
    constraints: Object.freeze(constraints.map((c) => Object.freeze(c))),
  });
}

const GLOBAL_SCOPE_VALUE: Scope = Object.freeze({ text: GLOBAL_SCOPE, constraints: Object.freeze([]) });

export function parseScope(text: string): Scope {
  const parsed = tryParseScope(text);
  if (typeof parsed === 'string')
    throw new ValidationError(`invalid scope: ${parsed}`, [{ path: 'scope', message: parsed }]);
  return parsed;
}

/** Canonicalises scope text (`region=x,app=y` becomes `app=y,region=x`). */
export function canonicalScope(text: string): string {
  return parseScope(text).text;
}

/** zod schema accepting scope text and producing its canonical form. */
export const scopeSchema = z.string().transform((text, ctx) => {
  const parsed = tryParseScope(text);
  if (typeof parsed === 'string') {
    ctx.addIssue({ code: 'custom', message: parsed });
    return z.NEVER;
  }
  return parsed.text;
});

export function scopeMatches(scope: Scope, identity: Identity): boolean {
  for (const [key, value] of scope.constraints) {
    if (identity[key] !== value) return false;
  }
  return true;
}

export function specificity(scope: Scope): number {
  return scope.constraints.length;
}

const parsedCache = new Map<string, Scope>();
const PARSED_CACHE_LIMIT = 10_000;

/**
 * Parses canonical scope text that is already known to be valid (it came from the store), caching the
 * result: resolution runs on every poll and should not re-split strings each time.
 */
export function scopeFromCanonical(text: string): Scope {
  let scope = parsedCache.get(text);
  if (!scope) {
    scope = parseScope(text);
    if (parsedCache.size >= PARSED_CACHE_LIMIT) parsedCache.clear();
    parsedCache.set(text, scope);
  }
  return scope;
}
