import { Pool } from 'undici';
import type { MeshEndpoint } from '../mesh/index.js';
import type { Cancellation } from './cancellation.js';
import { endpointOrigin } from './outlier-detector.js';
import type { Upstream, UpstreamRequest, UpstreamResponse } from './upstream.js';
import { UpstreamExchange } from './upstream-exchange.js';

export interface UndiciUpstreamOptions {
  /** How long an idle upstream connection is kept for reuse. */
  readonly keepAliveTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

interface PoolEntry {
  readonly key: string;
  readonly maxConnections: number;
  readonly pool: Pool;
  inFlight: number;
  closing: boolean;
  /** Ends one request's use of the pool (made once per pool, not per request). */
  readonly release: () => void;
}

/**
 * Upstream calls over undici: one Pool per endpoint (and connection limit), keep-alive, HTTP/1.1
 * without pipelining, so a pool's `connections` bounds the sockets it opens. Requests go through
 * `dispatch` with an UpstreamExchange as handler (no Readable per response). Timeouts are the
 * proxy's (route and per-try timers abort through the signal), so undici's own header and body
 * timeouts are off.
 *
 * Pools are created on first use and closed when no longer wanted by the current snapshot and idle.
 * A request decided on an older snapshot that needs a closed pool gets a new one: a swap never makes
 * a request fail.
 */
export class UndiciUpstream implements Upstream {
  readonly #pools = new Map<string, PoolEntry>();
  readonly #byEndpoint = new WeakMap<MeshEndpoint, PoolEntry>();
  #wanted = new Set<string>();
  #closed = false;

  constructor(readonly options: UndiciUpstreamOptions) {}

  get poolCount(): number {
    return this.#pools.size;
  }

  send(
    endpoint: MeshEndpoint,
    maxConnections: number,
    request: UpstreamRequest,
    signal: Cancellation,
  ): Promise<UpstreamResponse> {
    const entry = this.#acquire(endpoint, maxConnections);
    const exchange = new UpstreamExchange(signal, entry.release);
    // dispatch reports every failure, synchronous ones included, through the handler.
    entry.pool.dispatch(
      {
        method: request.method as 'GET',
        path: request.path,
        headers: request.headers as string[],
        body: request.body ?? null,
      },
      exchange,
    );
    return exchange.response;
  }

  retain(endpoints: Iterable<{ endpoint: MeshEndpoint; maxConnections: number }>): void {
    const wanted = new Set<string>();
    for (const { endpoint, maxConnections } of endpoints) wanted.add(poolKey(endpoint, maxConnections));
    this.#wanted = wanted;
    for (const entry of [...this.#pools.values()]) this.#retireIfUnused(entry);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const entries = [...this.#pools.values()];
    this.#pools.clear();
    // close() lets requests in flight finish.
    await Promise.all(entries.map((entry) => closePool(entry)));
  }

  #acquire(endpoint: MeshEndpoint, maxConnections: number): PoolEntry {
    // Endpoints are frozen snapshot objects: remember their pool rather than build its key per request.
    let entry = this.#byEndpoint.get(endpoint);
    if (entry !== undefined && !entry.closing && entry.maxConnections === maxConnections) {
      entry.inFlight++;
      return entry;
    }
    const key = poolKey(endpoint, maxConnections);
    entry = this.#pools.get(key);
    if (!entry) {
      const created: PoolEntry = {
        key,
        maxConnections,
        inFlight: 0,
        closing: false,
        pool: new Pool(endpointOrigin(endpoint), {
          connections: maxConnections,
          pipelining: 1,
          keepAliveTimeout: this.options.keepAliveTimeoutMs,
          connectTimeout: this.options.connectTimeoutMs,
          headersTimeout: 0,
          bodyTimeout: 0,
        }),
        release: () => this.#release(created),
      };
      entry = created;
      // After close() a late request still works; its pool is closed when it finishes.
      if (!this.#closed) this.#pools.set(key, entry);
    }
    if (!this.#closed) this.#byEndpoint.set(endpoint, entry);
    entry.inFlight++;
    return entry;
  }

  #release(entry: PoolEntry): void {
    entry.inFlight--;
    this.#retireIfUnused(entry);
  }

  #retireIfUnused(entry: PoolEntry): void {
    if (entry.inFlight > 0) return;
    if (this.#pools.get(entry.key) === entry) {
      if (!this.#closed && this.#wanted.has(entry.key)) return;
      this.#pools.delete(entry.key);
    }
    void closePool(entry);
  }
}

function closePool(entry: PoolEntry): Promise<void> {
  if (entry.closing) return Promise.resolve();
  entry.closing = true;
  return entry.pool.close().catch(() => entry.pool.destroy());
}

function poolKey(endpoint: MeshEndpoint, maxConnections: number): string {
  return `${endpointOrigin(endpoint)}#${maxConnections}`;
}
