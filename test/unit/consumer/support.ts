import { type Identity, sha256Hex, UnavailableError, type VersionRecord } from '@meshpress/client';
import type { PollRequest, PollTransport, PollUpdate } from '../../../client/src/consumer/transport.js';

/** A committed version with an inline payload whose sha256 and size are right. */
export function record(
  topic: string,
  version: number,
  text: string,
  options: { scopes?: string[]; sha256?: string; committed?: boolean } = {},
): VersionRecord {
  const data = new TextEncoder().encode(text);
  return {
    topic,
    version,
    metadata: {},
    pointer: { kind: 'direct', data },
    size: data.byteLength,
    sha256: options.sha256 ?? sha256Hex(data),
    contentType: 'text/plain',
    publisher: 'test',
    createdAt: 1_000 * version,
    committedAt: options.committed === false ? undefined : 1_000 * version,
    scopes: (options.scopes ?? ['*']).map((scope) => ({ scope, addedAt: 1_000 * version })),
  };
}

export const text = (data: Uint8Array) => new TextDecoder().decode(data);

interface Target {
  readonly version: number;
  readonly pinned: boolean;
  readonly record: VersionRecord;
}

/**
 * A transport for faults a real server cannot produce on demand (an answer that never comes, an outage
 * at an exact instant, a stale or corrupt answer). It follows the poll contract for the targets it is
 * given unless `raw` answers are set.
 */
export class FakeTransport implements PollTransport {
  readonly requests: PollRequest[] = [];
  readonly targets = new Map<string, Target>();
  readonly history_ = new Map<string, VersionRecord[]>();
  /** `up` answers; `down` fails at once; `hang` never answers (until aborted). */
  mode: 'up' | 'down' | 'hang' = 'up';
  /** When set, the next poll answers exactly this (bypassing the contract). */
  raw: PollUpdate[] | undefined;
  closed = 0;
  readonly aborted: PollRequest[] = [];

  setTarget(rec: VersionRecord, pinned = false): void {
    this.targets.set(rec.topic, { version: rec.version, pinned, record: rec });
    const list = this.history_.get(rec.topic) ?? [];
    if (!list.some((r) => r.version === rec.version)) list.push(rec);
    this.history_.set(rec.topic, list);
    this.#wake();
  }

  addHistory(rec: VersionRecord): void {
    const list = this.history_.get(rec.topic) ?? [];
    list.push(rec);
    this.history_.set(rec.topic, list);
  }

  poll(request: PollRequest): Promise<PollUpdate[]> {
    this.requests.push(request);
    if (this.mode === 'down') return Promise.reject(new UnavailableError('connection refused'));
    if (this.mode === 'hang')
      return new Promise((_, reject) => {
        const abort = () => {
          this.aborted.push(request);
          reject(request.signal.reason);
        };
        if (request.signal.aborted) abort();
        else request.signal.addEventListener('abort', abort, { once: true });
      });
    if (this.raw) {
      const answer = this.raw;
      this.raw = undefined;
      return Promise.resolve(answer);
    }
    const updates = this.#evaluate(request);
    if (updates.length === 0 && (request.waitMs ?? 0) > 0)
      // Hold like the server: until a target changes for this request, the wait ends, or it is aborted.
      return new Promise((resolve, reject) => {
        const held = { request, resolve };
        this.#held.add(held);
        request.signal.addEventListener(
          'abort',
          () => {
            this.#held.delete(held);
            this.aborted.push(request);
            reject(request.signal.reason);
          },
          { once: true },
        );
      });
    return Promise.resolve(updates);
  }

  #evaluate(request: PollRequest): PollUpdate[] {
    const updates: PollUpdate[] = [];
    for (const { topic, currentVersion } of request.topics) {
      const target = this.targets.get(topic);
      if (!target) continue;
      const newer = currentVersion === undefined || target.version > currentVersion;
      const rollback = target.pinned && target.version !== currentVersion;
      if (newer || rollback) updates.push({ topic, ...target });
    }
    return updates;
  }

  readonly #held = new Set<{ request: PollRequest; resolve: (updates: PollUpdate[]) => void }>();

  /** Number of long-polls being held. */
  get heldCount(): number {
    return this.#held.size;
  }

  /** Ends every held long-poll with an empty answer (as the server does when its wait ends). */
  releaseHeld(): void {
    for (const held of [...this.#held]) {
      this.#held.delete(held);
      held.resolve([]);
    }
  }

  /** Answers held long-polls that now have an update (as the server does on a change). */
  #wake(): void {
    for (const held of [...this.#held]) {
      const updates = this.#evaluate(held.request);
      if (updates.length === 0) continue;
      this.#held.delete(held);
      held.resolve(updates);
    }
  }

  async fetchData(topic: string, version: number, _signal: AbortSignal): Promise<Uint8Array> {
    if (this.mode !== 'up') throw new UnavailableError('connection refused');
    const found = this.history_.get(topic)?.find((r) => r.version === version);
    if (found?.pointer.kind !== 'direct') throw new UnavailableError('no such data');
    return found.pointer.data;
  }

  async history(
    topic: string,
    before: number | undefined,
    limit: number,
    _signal: AbortSignal,
  ): Promise<VersionRecord[]> {
    if (this.mode !== 'up') throw new UnavailableError('connection refused');
    return (this.history_.get(topic) ?? [])
      .filter((r) => before === undefined || r.version < before)
      .sort((a, b) => b.version - a.version)
      .slice(0, limit);
  }

  async close(): Promise<void> {
    this.closed += 1;
  }
}

/** Lets promise chains and I/O callbacks settle (one macrotask turn per round). Not a sleep: no timer. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A deterministic random source cycling through `values`. */
export function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

export const IDENTITY: Identity = { app: 'checkout', cluster: 'c1', region: 'eu-west-1', node: 'n1' };
