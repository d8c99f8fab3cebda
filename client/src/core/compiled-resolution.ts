import type { ResolutionState, ResolvedTarget } from './model.js';
import type { Identity, IdentityKey } from './names.js';
import { type Scope, scopeFromCanonical, specificity } from './scope.js';

/**
 * A topic's resolution state compiled once per change, for a server that resolves it on every poll.
 *
 * `resolve` (resolve.ts) walks every pin and publish and compares each match with the best so far.
 * Here the candidates are sorted once into the order `resolve` prefers them (pins: most specific, most
 * recently set, smaller canonical text, higher version; publishes: higher version, most specific,
 * smaller canonical text), so the first candidate that matches is the answer: no comparisons, no scope
 * lookups, and the answer object is built once, not per call. A property test holds it to `resolve`
 * (test/unit/compiled-resolution.property.test.ts).
 */
export interface CompiledResolution {
  resolve(identity: Identity): ResolvedTarget | undefined;
}

/**
 * One pin or publish: its constraint on each identity key as a field (undefined: unconstrained) and its
 * answer. Typed over IdentityKey, so a new key cannot be left out of the match.
 */
type Candidate = { readonly [K in IdentityKey]: string | undefined } & { readonly target: ResolvedTarget };

export function compileResolution(state: ResolutionState): CompiledResolution {
  const pins = state.pins.map((pin) => ({
    scope: scopeFromCanonical(pin.scope),
    setAt: pin.setAt,
    target: { version: pin.version, pinned: true, scope: pin.scope },
  }));
  pins.sort(
    (a, b) =>
      specificity(b.scope) - specificity(a.scope) ||
      b.setAt - a.setAt ||
      compareText(a.scope.text, b.scope.text) ||
      b.target.version - a.target.version,
  );
  const publishes = state.publishes.map((publish) => ({
    scope: scopeFromCanonical(publish.scope),
    target: { version: publish.version, pinned: false, scope: publish.scope },
  }));
  publishes.sort(
    (a, b) =>
      b.target.version - a.target.version ||
      specificity(b.scope) - specificity(a.scope) ||
      compareText(a.scope.text, b.scope.text),
  );
  return new FirstMatch([...pins, ...publishes].map(({ scope, target }) => candidate(scope, target)));
}

class FirstMatch implements CompiledResolution {
  readonly #candidates: readonly Candidate[];

  constructor(candidates: readonly Candidate[]) {
    this.#candidates = candidates;
  }

  resolve(identity: Identity): ResolvedTarget | undefined {
    const candidates = this.#candidates;
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[i]!;
      // Named loads on a handful of identity shapes stay monomorphic, where `identity[key]` does not.
      if (
        (c.app === undefined || c.app === identity.app) &&
        (c.cluster === undefined || c.cluster === identity.cluster) &&
        (c.env === undefined || c.env === identity.env) &&
        (c.node === undefined || c.node === identity.node) &&
        (c.region === undefined || c.region === identity.region)
      )
        return c.target;
    }
    return undefined;
  }
}

function candidate(scope: Scope, target: ResolvedTarget): Candidate {
  const fields: Partial<Record<IdentityKey, string>> = {};
  for (const [key, value] of scope.constraints) fields[key] = value;
  const compiled: Candidate = {
    app: fields.app,
    cluster: fields.cluster,
    env: fields.env,
    node: fields.node,
    region: fields.region,
    target: Object.freeze(target),
  };
  return Object.freeze(compiled);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
