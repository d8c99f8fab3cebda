import type { PinEvent, PinRecord, ResolutionState, ResolvedTarget, ScopedPublish } from './model.js';
import type { Identity } from './names.js';
import { type Scope, scopeFromCanonical, scopeMatches, specificity } from './scope.js';

/**
 * The resolution rule, shared by the server's consumer cache and the client's fallback path:
 * 1. among pins whose scope matches, the most specific wins; ties go to the most recently set;
 * 2. otherwise the highest version with a publish scope matching the identity;
 * 3. otherwise undefined.
 *
 * Every remaining tie is broken on the values themselves, never on array position: each store (and the
 * fallback cache) returns pins and publishes in its own order, and the server and the client must still
 * give the same answer.
 */
export function resolve(state: ResolutionState, identity: Identity): ResolvedTarget | undefined {
  const pin = winningPin(state.pins, identity);
  if (pin) return { version: pin.version, pinned: true, scope: pin.scope };
  let best: ScopedPublish | undefined;
  let bestScope: Scope | undefined;
  for (const publish of state.publishes) {
    if (best && publish.version < best.version) continue;
    const scope = scopeFromCanonical(publish.scope);
    if (!scopeMatches(scope, identity)) continue;
    // Within the winning version, report the most specific matching scope: it says best why this
    // identity got that version.
    if (!best || !bestScope || publish.version > best.version || moreSpecific(scope, bestScope)) {
      best = publish;
      bestScope = scope;
    }
  }
  return best ? { version: best.version, pinned: false, scope: best.scope } : undefined;
}

/**
 * The pin deciding the identity's answer: most specific, then most recently set; pins set in the same
 * millisecond fall back to the smaller canonical scope text, then the higher version.
 */
export function winningPin(pins: readonly PinRecord[], identity: Identity): PinRecord | undefined {
  let best: PinRecord | undefined;
  let bestScope: Scope | undefined;
  for (const pin of pins) {
    const scope = scopeFromCanonical(pin.scope);
    if (!scopeMatches(scope, identity)) continue;
    if (!best || !bestScope || pinBeats(pin, scope, best, bestScope)) {
      best = pin;
      bestScope = scope;
    }
  }
  return best;
}

function pinBeats(pin: PinRecord, scope: Scope, best: PinRecord, bestScope: Scope): boolean {
  const bySpecificity = specificity(scope) - specificity(bestScope);
  if (bySpecificity !== 0) return bySpecificity > 0;
  if (pin.setAt !== best.setAt) return pin.setAt > best.setAt;
  if (scope.text !== bestScope.text) return scope.text < bestScope.text;
  return pin.version > best.version;
}

/** More constraints first, then the smaller canonical text, so the choice is a total order. */
function moreSpecific(scope: Scope, other: Scope): boolean {
  const bySpecificity = specificity(scope) - specificity(other);
  return bySpecificity !== 0 ? bySpecificity > 0 : scope.text < other.text;
}

/** Versions visible to the identity (ignoring pins), newest first, without duplicates. */
export function visibleVersions(state: ResolutionState, identity: Identity): number[] {
  const versions = new Set<number>();
  for (const publish of state.publishes) {
    if (scopeMatches(scopeFromCanonical(publish.scope), identity)) versions.add(publish.version);
  }
  return [...versions].sort((a, b) => b - a);
}

/** The resolution state as it was at instant `at`: publishes visible by then, pins standing then. */
export function stateAt(
  publishes: readonly ScopedPublish[],
  pinHistory: readonly PinEvent[],
  at: number,
): ResolutionState {
  const pins = new Map<string, PinRecord>();
  const ordered = [...pinHistory].sort((a, b) => a.at - b.at);
  for (const event of ordered) {
    if (event.at > at) break;
    if (event.version === undefined) pins.delete(event.scope);
    else
      pins.set(event.scope, {
        scope: event.scope,
        version: event.version,
        reason: event.reason,
        author: event.author,
        setAt: event.at,
      });
  }
  return { pins: [...pins.values()], publishes: publishes.filter((p) => p.visibleAt <= at) };
}
