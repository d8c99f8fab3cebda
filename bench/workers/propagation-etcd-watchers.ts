import { type ClientRequest, request } from 'node:http';
import { z } from 'zod';
import { eachLimited } from '../harness/rest.js';
import { ApplyLog, type Fleet, serveFleet, wallNow } from './propagation-fleet.js';

/**
 * A fleet of etcd watchers in one process: each is one `POST /v3/watch` on etcd's JSON gRPC gateway
 * (etcd 3.4 serves it on the client URL), one HTTP connection streaming newline-delimited JSON. A
 * watcher has "applied" a put when it has decoded the event's value (base64, then the JSON document):
 * the closest counterpart of a meshpress subscription's decode. No npm etcd client is installed, and a
 * gateway stream is what a non-Go client without gRPC would use.
 */
export const watchersConfigSchema = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65_535),
  /** The watched key, base64 (as the gateway's JSON mapping of bytes expects). */
  keyBase64: z.string().min(1),
  localAddress: z.string().min(1),
  capacity: z.number().int().min(1).max(20_000),
  startConcurrency: z.number().int().min(1).max(1_000),
});
export type WatchersConfig = z.infer<typeof watchersConfigSchema>;

interface WatchMessage {
  readonly result?: {
    readonly created?: boolean;
    readonly canceled?: boolean;
    readonly events?: readonly { readonly kv?: { readonly value?: string } }[];
  };
  readonly error?: unknown;
}

class WatcherFleet implements Fleet {
  readonly #requests: ClientRequest[] = [];
  readonly #created: boolean[] = [];
  readonly #counts: Record<string, number> = {};
  readonly problems: string[] = [];
  #closed = false;

  constructor(
    private readonly config: WatchersConfig,
    private readonly log: ApplyLog,
  ) {}

  get size(): number {
    return this.#requests.length;
  }

  counters(): Record<string, number> {
    return { ...this.#counts };
  }

  #count(key: string, problem?: string): void {
    this.#counts[key] = (this.#counts[key] ?? 0) + 1;
    if (problem && this.problems.length < 5) this.problems.push(problem);
  }

  /** A watcher only sees puts after it was created, so "on the revision" means created. */
  onRevision(): number {
    let n = 0;
    for (const created of this.#created) if (created) n++;
    return n;
  }

  async grow(total: number, _revision: number, deadline: number): Promise<{ problems: string[] }> {
    const first = this.#requests.length;
    const target = Math.min(total, this.config.capacity);
    const indexes = Array.from({ length: Math.max(0, target - first) }, (_, i) => first + i);
    await eachLimited(indexes, this.config.startConcurrency, async (index) => {
      if (wallNow() > deadline) return;
      await this.#open(index, deadline);
    });
    return {
      problems:
        this.#requests.length < target
          ? [`only ${this.#requests.length} of ${target} watchers opened before the deadline`]
          : [],
    };
  }

  /** Opens watcher `index`; resolves once etcd confirmed it (created), failed, or the deadline passed. */
  #open(index: number, deadline: number): Promise<void> {
    return new Promise((resolve) => {
      const body = JSON.stringify({ create_request: { key: this.config.keyBase64 } });
      const req = request({
        host: this.config.host,
        port: this.config.port,
        localAddress: this.config.localAddress,
        method: 'POST',
        path: '/v3/watch',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        // A connection of its own per watcher, as separate nodes would have.
        agent: false,
      });
      this.#requests[index] = req;
      this.#created[index] = false;
      const timer = setTimeout(resolve, Math.max(0, deadline - wallNow()));
      const settle = () => {
        clearTimeout(timer);
        resolve();
      };
      req.on('error', (err) => {
        if (!this.#closed) this.#count('error', `watcher ${index}: ${err.message}`);
        settle();
      });
      req.on('response', (res) => {
        if (res.statusCode !== 200) {
          this.#count('error', `watcher ${index}: HTTP ${res.statusCode}`);
          res.resume();
          settle();
          return;
        }
        res.setEncoding('utf8');
        let pending = '';
        res.on('data', (chunk: string) => {
          pending += chunk;
          let newline = pending.indexOf('\n');
          while (newline >= 0) {
            const line = pending.slice(0, newline);
            pending = pending.slice(newline + 1);
            newline = pending.indexOf('\n');
            if (line.trim()) this.#onMessage(index, line, settle);
          }
        });
        res.on('end', () => {
          if (!this.#closed) this.#count('ended', `watcher ${index}: stream ended`);
        });
      });
      req.end(body);
    });
  }

  #onMessage(index: number, line: string, created: () => void): void {
    let message: WatchMessage;
    try {
      message = JSON.parse(line) as WatchMessage;
    } catch {
      this.#count('error', `watcher ${index}: not JSON: ${line.slice(0, 200)}`);
      return;
    }
    const result = message.result;
    if (!result) {
      this.#count('error', `watcher ${index}: ${line.slice(0, 200)}`);
      return;
    }
    if (result.created) {
      this.#created[index] = true;
      created();
    }
    if (result.canceled) this.#count('canceled', `watcher ${index} canceled: ${line.slice(0, 200)}`);
    for (const event of result.events ?? []) {
      const value = event.kv?.value;
      if (value === undefined) continue;
      const document = JSON.parse(Buffer.from(value, 'base64').toString('utf8')) as { revision: number };
      // Applied = decoded; the clock is read after the decode, as for a meshpress subscription.
      this.log.record(document.revision, index, wallNow());
      this.#count('events');
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const req of this.#requests) req.destroy();
  }
}

serveFleet(watchersConfigSchema, (config) => {
  const log = new ApplyLog(config.capacity);
  return { fleet: new WatcherFleet(config, log), log };
});
