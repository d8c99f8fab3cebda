import { ValidationError } from '../core/errors.js';
import type { MeshHeaderMatch } from './routes-schema.js';
import { compileHeaderRegex, type HeaderRegex } from './safe-regex.js';

/**
 * Reads one request header by lowercase name; undefined when absent. Repeated headers are the caller's
 * to join (Node joins them with ', ').
 */
export type HeaderLookup = (lowercaseName: string) => string | undefined;

/** A HeaderLookup for requests without headers. */
export const NO_HEADERS: HeaderLookup = () => undefined;

const EXACT = 0;
const PREFIX = 1;
const REGEX = 2;
const PRESENT = 3;

const NEVER: HeaderRegex = Object.freeze({ source: '', test: () => false });

/** One header condition, precompiled. Every instance has the same shape so the matcher stays monomorphic. */
export class CompiledHeaderMatcher {
  constructor(
    readonly name: string,
    readonly kind: number,
    readonly value: string,
    readonly regex: HeaderRegex,
    readonly present: boolean,
    readonly invert: boolean,
  ) {
    Object.freeze(this);
  }

  /**
   * `present: true` holds when the header exists, `present: false` when it does not. An absent header
   * fails exact, prefix and regex conditions even when inverted (as in Envoy): `invert` negates the
   * comparison with a value that exists.
   */
  matches(headers: HeaderLookup): boolean {
    const value = headers(this.name);
    if (this.kind === PRESENT) return ((value !== undefined) === this.present) !== this.invert;
    if (value === undefined) return false;
    let result: boolean;
    if (this.kind === EXACT) result = value === this.value;
    else if (this.kind === PREFIX) result = value.startsWith(this.value);
    else result = this.regex.test(value);
    return result !== this.invert;
  }
}

export function compileHeaderMatcher(spec: MeshHeaderMatch, path: string): CompiledHeaderMatcher {
  const name = spec.name.toLowerCase();
  const invert = spec.invert ?? false;
  if (spec.exact !== undefined)
    return new CompiledHeaderMatcher(name, EXACT, spec.exact, NEVER, false, invert);
  if (spec.prefix !== undefined)
    return new CompiledHeaderMatcher(name, PREFIX, spec.prefix, NEVER, false, invert);
  if (spec.regex !== undefined) {
    const regex = compileHeaderRegex(spec.regex);
    if (typeof regex === 'string')
      throw new ValidationError(`unsafe header regex (${regex})`, [
        { path: `${path}.regex`, message: regex },
      ]);
    return new CompiledHeaderMatcher(name, REGEX, spec.regex, regex, false, invert);
  }
  return new CompiledHeaderMatcher(name, PRESENT, '', NEVER, spec.present ?? true, invert);
}
