import type { PinEvent, PinRecord, ResolutionState, ResolvedTarget, ScopedPublish } from './model.js';
import type { Identity } from './names.js';
import { scopeFromCanonical, scopeMatches, specificity } from './scope.js';

/**
 * The resolution rule, shared by the server's consumer cache and the client's fallback path:
 * 1. among pins whose scope matches, the most specific wins; ties go to the most recently set;
 * 2. otherwise the highest version with a publish scope matching the identity;
 * 3. otherwise undefined.
 */
export function resolve(state: ResolutionState, identity: Identity): ResolvedTarget | undefined {
  const pin = winningPin(state.pins, identity);
  if (pin) return { version: pin.version, pinned: true, scope: pin.scope };
  let best: ScopedPublish | undefined;
  for (const publish of state.publishes) {
    if (best && publish.version <= best.version) continue;
    if (scopeMatches(scopeFromCanonical(publish.scope), identity)) best = publish;
  }
  return best ? { version: best.version, pinned: false, scope: best.scope } : undefined;
}

export function winningPin(pins: readonly PinRecord[], identity: Identity): PinRecord | undefined {
  let best: PinRecord | undefined;
  let bestSpecificity = -1;
  for (const pin of pins) {
    const scope = scopeFromCanonical(pin.scope);
    if (!scopeMatches(scope, identity)) continue;
    const s = specificity(scope);
    if (s > bestSpecificity || (s === bestSpecificity && best && pin.setAt > best.setAt)) {
      best = pin;
      bestSpecificity = s;
    }
  }
  return best;
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
