import {
  type CompiledResolution,
  compileResolution,
  type PinRecord,
  type ResolutionState,
  type ScopedPublish,
  type TopicRecord,
  type VersionRecord,
} from '@meshpress/client';
import type { ConfigStore } from '../store/config-store.js';
import { isServable } from './consistency.js';

/**
 * Everything a poll needs about one topic, held in memory and replaced whole on refresh.
 * `state.publishes` keeps only the newest version of each distinct publish scope: that set contains
 * every identity's target, so resolution stays proportional to the number of scopes, not versions.
 */
export interface TopicView {
  readonly topic: TopicRecord;
  readonly state: ResolutionState;
  /** `state` compiled for the poll path: the same answers as `resolve(state, identity)`. */
  readonly resolution: CompiledResolution;
  /** Records of candidate versions (scope heads, pinned versions) that pass the consistency check. */
  readonly servable: ReadonlyMap<number, VersionRecord>;
  /** Per scope, the newest version that passes the consistency check (first-poll fallback). */
  readonly newestServableByScope: ReadonlyMap<string, number>;
  readonly loadedAt: number;
  /**
   * The store's change marker of the topic as it was before this view was read: the consumer cache
   * reloads the topic once the store lists a different one.
   */
  readonly changeMarker: string;
  /** Changes exactly when what a poll could answer changes (pins, scope heads, servable versions). */
  readonly revision: string;
}

/** How far down one scope's history a load looks for a servable version before giving up. */
export const MAX_FALLBACK_DEPTH = 16;

/**
 * Builds a TopicView from the store. Version records are immutable once committed, except for their
 * scopes, which can only grow (addScopes): a record already known (from the previous view) is reused
 * instead of read again unless the snapshot lists a scope of it that the record lacks, so the records
 * polls serve carry the scopes their snapshot shows. A version the snapshot does not show committed (no
 * committed publish of it) is always read again: it may have been purged since it was known, and only the
 * store can say (a pin still naming it makes the load ask for it).
 */
export async function loadTopicView(
  store: ConfigStore,
  name: string,
  now: number,
  known: ReadonlyMap<number, VersionRecord> = new Map(),
): Promise<TopicView | undefined> {
  const data = await store.loadTopicSnapshot(name);
  if (!data) return undefined;

  const byScope = new Map<string, ScopedPublish[]>();
  const scopesOf = new Map<number, Set<string>>();
  for (const publish of data.publishes) {
    let list = byScope.get(publish.scope);
    if (!list) byScope.set(publish.scope, (list = []));
    list.push(publish);
    let scopes = scopesOf.get(publish.version);
    if (!scopes) scopesOf.set(publish.version, (scopes = new Set()));
    scopes.add(publish.scope);
  }
  const scopeCount = (version: number) => scopesOf.get(version)?.size ?? 0;

  const records = new Map<number, VersionRecord | undefined>();
  const fetch = async (version: number): Promise<VersionRecord | undefined> => {
    if (records.has(version)) return records.get(version);
    const reusable = known.get(version);
    const record =
      reusable && isReusable(reusable, scopesOf.get(version))
        ? reusable
        : await store.getVersion(name, version);
    records.set(version, record);
    return record;
  };
  const servable = new Map<number, VersionRecord>();
  const check = async (version: number): Promise<boolean> => {
    const record = await fetch(version);
    const ok = isServable(record, scopeCount(version));
    if (ok) servable.set(version, record);
    return ok;
  };

  const heads: ScopedPublish[] = [];
  const newestServableByScope = new Map<string, number>();
  for (const [scope, list] of byScope) {
    list.sort((a, b) => b.version - a.version);
    heads.push(list[0]!);
    for (const publish of list.slice(0, MAX_FALLBACK_DEPTH)) {
      if (await check(publish.version)) {
        newestServableByScope.set(scope, publish.version);
        break;
      }
    }
  }
  for (const pin of data.pins) {
    // A pinned version is served to matching identities whatever its scopes, so it needs only to exist.
    const record = await fetch(pin.version);
    if (isServable(record, Math.max(1, scopeCount(pin.version)))) servable.set(pin.version, record);
  }

  const revision = [
    data.pins.map((p) => `${p.scope}=${p.version}@${p.setAt}`).join(';'),
    heads.map((h) => `${h.scope}=${h.version}`).join(';'),
    [...newestServableByScope.values(), ...servable.keys()].join(','),
  ].join('|');
  const state: ResolutionState = { pins: data.pins as PinRecord[], publishes: heads };
  return {
    topic: data.topic,
    changeMarker: data.changeMarker,
    revision,
    state,
    resolution: compileResolution(state),
    servable,
    newestServableByScope,
    loadedAt: now,
  };
}

/** Whether a known record can stand for the version: the snapshot shows it committed, with no new scope. */
function isReusable(record: VersionRecord, scopes: ReadonlySet<string> | undefined): boolean {
  if (!scopes) return false;
  const held = new Set(record.scopes.map((s) => s.scope));
  for (const scope of scopes) if (!held.has(scope)) return false;
  return true;
}
